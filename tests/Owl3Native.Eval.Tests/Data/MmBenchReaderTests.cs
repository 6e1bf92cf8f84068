using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Eval.Tests.Data;

public sealed class MmBenchReaderTests
{
    private const string DsName = "mmbench_dev_en_20231003";

    [Fact]
    public void Jsonl_records_join_the_tsv_by_index()
    {
        var ds = DataFixtures.Load(DsName);

        Assert.Equal(["1", "1000001", "2", "1000002"], ds.Records.Select(r => r.Key));
        Assert.Equal(["A", "B", "B", "A"], ds.Records.Select(r => r.Answer));
        Assert.Equal(["attr", "attr", "color", "color"], ds.Records.Select(r => r.Category));
        Assert.Equal(["dog", "cat"], ds.Records[1].Options);
        Assert.Equal(DataFixtures.File($"images/{DsName}/images/1.jpg"), ds.Records[1].Images[0].Path);
        Assert.Equal("The hint", ds.Records[2].Fields["hint"]!.GetValue<string>());
        Assert.Equal("attribute", ds.Records[0].Fields["tsv"]!["category"]!.GetValue<string>());
        Assert.Null(ds.Records[0].Fields["tsv"]!["image"]);
    }

    [Fact]
    public void Without_the_jsonl_records_are_converted_from_the_tsv_with_base64_images()
    {
        using var dir = new TempDirectory("owl3-eval");
        Directory.CreateDirectory(dir.File("dataset/mmbench"));
        File.Copy(DataFixtures.File($"dataset/mmbench/{DsName}.tsv"), dir.File($"dataset/mmbench/{DsName}.tsv"));

        var ds = EvalDatasets.Load(PlanEntry.ForDataset(DsName), new EvalPaths(dir.Path));

        Assert.Equal(["1", "1000001", "2", "1000002"], ds.Records.Select(r => r.Key));
        Assert.Equal(["A", "B", "B", "A"], ds.Records.Select(r => r.Answer));
        Assert.Equal(["cat", "dog"], ds.Records[0].Options); // empty C/D cells are NaN for pandas and drop out
        Assert.Equal("N/A", ds.Records[0].Fields["hint"]!.GetValue<string>());
        byte[] jpg = File.ReadAllBytes(DataFixtures.File($"images/{DsName}/images/1.jpg"));
        Assert.All(ds.Records, r => Assert.True(r.Images[0].IsEmbedded));
        Assert.Equal(jpg, ds.Records[0].Images[0].ReadBytes());
        Assert.Equal(jpg, ds.Records[1].Images[0].ReadBytes()); // the circular copy's image cell `1` names row index 1
    }

    [Fact]
    public void Missing_files_name_both_expected_paths()
    {
        using var dir = new TempDirectory("owl3-eval");
        var e = Assert.Throws<DatasetNotFoundException>(() => EvalDatasets.Load(PlanEntry.ForDataset("mmbench_test_en_20231003"), new EvalPaths(dir.Path)));
        Assert.Equal(Path.GetFullPath(dir.File("dataset/mmbench/mmbench_test_en_20231003.jsonl")), e.FileName);
        Assert.Contains(Path.GetFullPath(dir.File("dataset/mmbench/mmbench_test_en_20231003.tsv")), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tsv_reads_quoted_cells_and_pandas_na_values()
    {
        using var dir = new TempDirectory("owl3-eval");
        string file = dir.Write("t.tsv", "index\tquestion\tA\tB\n1\t\"two\tcells\nin one\"\tNone\t\"say \"\"hi\"\"\"\n\n2\tplain\tnan\n");

        var table = TsvTable.Read(file);

        Assert.Equal(["index", "question", "A", "B"], table.Header);
        Assert.Equal(2, table.Rows.Count);
        Assert.Equal("two\tcells\nin one", table.Rows[0].String("question"));
        Assert.Equal("say \"hi\"", table.Rows[0].String("B"));
        Assert.True(TsvTable.IsNa(table.Rows[0].String("A")));
        Assert.Equal("", table.Rows[1].String("B")); // missing trailing cell
        Assert.True(TsvTable.IsNa(table.Rows[1].String("A")));
        Assert.Equal("line 5", table.Rows[1].Where);
        Assert.False(TsvTable.IsNa("0"));
    }

    [Fact]
    public void Tsv_row_longer_than_the_header_is_rejected()
    {
        using var dir = new TempDirectory("owl3-eval");
        string file = dir.Write("t.tsv", "a\tb\n1\t2\t3\n");
        var e = Assert.Throws<DatasetFormatException>(() => TsvTable.Read(file));
        Assert.Contains("line 2: 3 cells but the header has 2 columns", e.Message, StringComparison.Ordinal);
    }
}
