using System.Text.Json.Serialization;
using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;
using Owl3Native.TestKit;
using Parquet;
using Parquet.Serialization;
using Xunit;

namespace Owl3Native.Eval.Tests.Data;

public sealed class HfSnapshotTests
{
    [Fact]
    public void Ai2d_split_comes_from_the_readme_data_files_glob()
    {
        var files = HfSnapshot.DataFiles(DataFixtures.File("dataset/ai2d"), null, "test");
        Assert.Equal([DataFixtures.File("dataset/ai2d/data/test-00000-of-00001.jsonl")], files);

        var ds = DataFixtures.Load("ai2d");
        Assert.Equal(["C", "A"], ds.Records.Select(r => r.Answer));
        Assert.Equal(["0", "1"], ds.Records.Select(r => r.Key));
        Assert.Equal(["leaf", "stem", "root", "flower"], ds.Records[0].Options);
        Assert.Equal(DataFixtures.File("dataset/ai2d/images/0.jpg"), ds.Records[0].Images[0].Path); // {path} object
        Assert.Equal(DataFixtures.File("dataset/ai2d/images/1.jpg"), ds.Records[1].Images[0].Path); // plain path string

        var numbers = DataFixtures.Load(PlanEntry.ForDataset("ai2d") with { UseNumber = true });
        Assert.Equal(["2", "0"], numbers.Records.Select(r => r.Answer));
    }

    [Fact]
    public void Nlvr2_reads_the_unbalanced_public_test_split_only()
    {
        var ds = DataFixtures.Load("nlvr2");
        Assert.Equal(["The left image has two dogs.", "There are no cats."], ds.Records.Select(r => r.Question));
        Assert.Equal(["yes", "no"], ds.Records.Select(r => r.Answer));
        Assert.Equal(2, ds.Records[0].Images.Count);
        Assert.Equal(DataFixtures.File("dataset/NLVR2/images/right0.jpg"), ds.Records[0].Images[1].Path);
    }

    [Fact]
    public void Qbench2_without_a_readme_infers_the_dev_split_from_file_names()
    {
        var ds = DataFixtures.Load("q_bench2");
        Assert.Equal(["B", "A"], ds.Records.Select(r => r.Answer));
        Assert.Equal(["The first", "The second"], ds.Records[0].Options);
        Assert.Equal(3, ds.Records[1].Options.Count);
        Assert.Equal(("0", "2"), (ds.Records[0].QuestionType, ds.Records[0].Category));
    }

    [Fact]
    public void Nextqa_reads_config_mc_with_video_keys_and_plan_frames()
    {
        var ds = DataFixtures.Load(PlanEntry.ForDataset("next_qa_mc") with { NumFrames = 4 });

        Assert.Equal(8, ds.Records.Count);
        var r = ds.Records[0];
        Assert.Equal("4010069381_1", r.Key);
        Assert.Equal(["run", "walk", "sit", "jump", "swim"], r.Options);
        Assert.Equal(("C", "CW"), (r.Answer, r.QuestionType));
        Assert.Equal(new EvalVideo(DataFixtures.File("dataset/nextqa/NExTVideo/4010069381.mp4"), 4), r.Videos[0]);
        Assert.Equal(["CW", "CH", "TP", "TN", "TC", "DC", "DL", "DO"], ds.Records.Select(x => x.QuestionType));
    }

    [Fact]
    public void Videomme_uses_the_only_config_and_keeps_the_row()
    {
        var ds = DataFixtures.Load("videomme");
        Assert.Equal(["001-1", "001-2", "002-1", "003-1"], ds.Records.Select(r => r.Key));
        Assert.Equal(["short", "short", "medium", "long"], ds.Records.Select(r => r.Category));
        Assert.Equal(["B", "A", "C", "D"], ds.Records.Select(r => r.Answer));
        Assert.Equal("Humanity & History", ds.Records[0].Fields["sub_category"]!.GetValue<string>());
        Assert.Equal((DataFixtures.File("dataset/videomme/data/vid001.mp4"), 128), (ds.Records[0].Videos[0].Path, ds.Records[0].Videos[0].NumFrames));
    }

    [Fact]
    public void Config_and_split_errors_list_what_exists()
    {
        string nextqa = DataFixtures.File("dataset/nextqa");
        var noConfig = Assert.Throws<DatasetFormatException>(() => HfSnapshot.DataFiles(nextqa, "XX", "test"));
        Assert.Contains("configs: MC, OE", noConfig.Message, StringComparison.Ordinal);
        var ambiguous = Assert.Throws<DatasetFormatException>(() => HfSnapshot.DataFiles(nextqa, null, "test"));
        Assert.Contains("none is the default", ambiguous.Message, StringComparison.Ordinal);
        var noSplit = Assert.Throws<DatasetFormatException>(() => HfSnapshot.DataFiles(nextqa, "MC", "train"));
        Assert.Contains("splits: test", noSplit.Message, StringComparison.Ordinal);
        Assert.Throws<DirectoryNotFoundException>(() => HfSnapshot.DataFiles(DataFixtures.File("dataset/nope"), null, "test"));
    }

    [Fact]
    public void Missing_snapshot_folder_names_the_expected_path()
    {
        using var dir = new TempDirectory("owl3-eval");
        var e = Assert.Throws<DatasetNotFoundException>(() => EvalDatasets.Load(PlanEntry.ForDataset("nlvr2"), new EvalPaths(dir.Path)));
        Assert.Equal(Path.GetFullPath(dir.File("dataset/NLVR2")), e.FileName);
    }

    [Fact]
    public void Default_flag_and_string_data_files_are_understood()
    {
        using var dir = new TempDirectory("owl3-eval");
        dir.Write("README.md", "---\nconfigs:\n- config_name: a\n  data_files: a/*.json\n- config_name: b\n  default: true\n  data_files:\n  - b/x.jsonl\n  - b/y.jsonl\n---\n");
        dir.Write("a/1.json", "[{\"v\": 1}]");
        dir.Write("b/x.jsonl", "{\"v\": 2}\n");
        dir.Write("b/y.jsonl", "{\"v\": 3}\n");

        Assert.Equal([2L, 3L], HfSnapshot.ReadRows(dir.Path, null, "train").Select(r => r.Integer("v")));
        Assert.Equal([1L], HfSnapshot.ReadRows(dir.Path, "a", "train").Select(r => r.Integer("v")));
        var configs = HfSnapshot.ReadConfigs(dir.Path);
        Assert.Equal([("a", false), ("b", true)], configs.Select(c => (c.Name, c.IsDefault)));
    }

    [Theory]
    [InlineData("data/test-*", "data/test-00000-of-00001.parquet", true)]
    [InlineData("data/test-*", "data/sub/test-0.parquet", false)]
    [InlineData("**/test-*", "data/sub/test-0.parquet", true)]
    [InlineData("**/test-*", "test-0.parquet", true)]
    [InlineData("json/action_sequence.json", "json/action_sequence.json", true)]
    [InlineData("json/action_sequence.json", "json/action_sequenceXjson", false)]
    [InlineData("data/[tv]*.parquet", "data/val.parquet", true)]
    [InlineData("data/?.json", "data/ab.json", false)]
    public void Globs_follow_fsspec_rules(string glob, string path, bool match) =>
        Assert.Equal(match, HfSnapshot.GlobToRegex(glob).IsMatch(path));

    [Fact]
    public void Front_matter_is_the_block_between_the_first_two_dashes_lines()
    {
        Assert.Equal("a: 1\n", HfSnapshot.FrontMatter("---\na: 1\n---\n# title\n---\n"));
        Assert.Null(HfSnapshot.FrontMatter("# no front matter\n---\n"));
    }

    private sealed class HfImage
    {
        [JsonPropertyName("bytes")] public byte[]? Bytes { get; set; }
        [JsonPropertyName("path")] public string? Path { get; set; }
    }

    private sealed class Ai2dRow
    {
        [JsonPropertyName("question")] public string? Question { get; set; }
        [JsonPropertyName("options")] public List<string>? Options { get; set; }
        [JsonPropertyName("answer")] public string? Answer { get; set; }
        [JsonPropertyName("image")] public HfImage? Image { get; set; }
    }

    [Fact]
    public async Task Parquet_shard_with_embedded_images_is_read_through_the_snapshot()
    {
        using var dir = new TempDirectory("owl3-eval");
        dir.Write("dataset/ai2d/README.md", "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: test\n    path: data/test-*\n---\n");
        byte[] png0 = [0x89, 0x50, 0x4e, 0x47, 1, 2, 3], png1 = [0x89, 0x50, 0x4e, 0x47, 9];
        var rows = new List<Ai2dRow>
        {
            new() { Question = "What is 1?", Options = ["a", "b", "c", "d"], Answer = "3", Image = new() { Bytes = png0, Path = "0.png" } },
            new() { Question = "What is 2?", Options = ["e", "f", "g", "h"], Answer = "1", Image = new() { Bytes = png1, Path = null } },
        };
        string file = dir.File("dataset/ai2d/data/test-00000-of-00001.parquet");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await using (var stream = File.Create(file))
            await ParquetSerializer.SerializeAsync(rows, stream, new ParquetOptions { RowGroupSize = 1 }); // two row groups

        var raw = ParquetRows.Read(file);
        Assert.Equal(["What is 1?", "What is 2?"], raw.Select(r => r.String("question")));
        Assert.Equal(png1, raw[1].Map("image")["bytes"]);
        var lazy = ParquetRows.Read(file, lazyBinary: true);
        var lazy0 = Assert.IsType<LazyBytes>(lazy[0].Map("image")["bytes"]);
        var lazy1 = Assert.IsType<LazyBytes>(lazy[1].Map("image")["bytes"]);
        Assert.Equal(png1, lazy1.Load()); // row group 1
        Assert.Equal(png0, lazy0.Load()); // back to row group 0
        Assert.Equal(png0, lazy0.Load());

        var ds = EvalDatasets.Load(PlanEntry.ForDataset("ai2d"), new EvalPaths(dir.Path));
        Assert.Equal(["D", "B"], ds.Records.Select(r => r.Answer));
        Assert.Equal(["e", "f", "g", "h"], ds.Records[1].Options);
        Assert.True(ds.Records[0].Images[0].IsEmbedded);
        Assert.Equal(png0, ds.Records[0].Images[0].ReadBytes());
        Assert.Equal(png1, ds.Records[1].Images[0].ReadBytes());
        Assert.Equal("0.png", ds.Records[0].Fields["image"]!["path"]!.GetValue<string>()); // bytes left out of Fields
        Assert.Null(ds.Records[0].Fields["image"]!["bytes"]);
    }

    [Fact]
    public void Corrupt_parquet_file_is_named()
    {
        using var dir = new TempDirectory("owl3-eval");
        string file = dir.Write("x.parquet", "not parquet at all");
        var e = Assert.Throws<DatasetFormatException>(() => ParquetRows.Read(file));
        Assert.Equal(file, e.File);
    }
}
