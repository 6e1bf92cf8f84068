using Owl3Native.Eval.Scoring;
using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Eval.Tests.Data;

public sealed class OtherReaderTests
{
    [Fact]
    public void Mmvet_records_are_the_contiguous_v1_keys()
    {
        var ds = DataFixtures.Load("mmvet");
        Assert.Equal(["v1_0", "v1_1"], ds.Records.Select(r => r.Key));
        Assert.Equal("  What is shown?\n", ds.Records[0].Question);
        Assert.Equal("a square", ds.Records[0].Answer);
        Assert.Equal(DataFixtures.File("images/mmvet/images/v1_1.png"), ds.Records[1].Images[0].Path);
        Assert.Equal(2, ds.Records[1].Fields["capability"]!.AsArray().Count);
    }

    [Fact]
    public void Mmvet_gap_in_keys_is_rejected()
    {
        using var dir = new TempDirectory("owl3-eval");
        dir.Write("dataset/mmvet/mm-vet.json", "{\"v1_0\": {\"imagename\": \"a.png\", \"question\": \"q\"}, \"v1_2\": {\"imagename\": \"b.png\", \"question\": \"q\"}}");
        var e = Assert.Throws<DatasetFormatException>(() => EvalDatasets.Load(PlanEntry.ForDataset("mmvet"), new EvalPaths(dir.Path)));
        Assert.Contains("`v1_1`", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Interleave_records_keep_sub_dataset_question_type_and_images()
    {
        var ds = DataFixtures.Load("out_domain");
        Assert.Equal(["blink_1", "blink_2", "mantis_1", "mantis_2", "sci_1", "open_1"], ds.Records.Select(r => r.Key));
        Assert.Equal(["BLINK", "BLINK", "Mantis", "Mantis", "SciVerse", "OpenCaption"], ds.Records.Select(r => r.Category));
        Assert.Equal(["B", "C", "B", "B", "A", "the cat on the mat"], ds.Records.Select(r => r.Answer));
        Assert.Equal("open-ended", ds.Records[5].QuestionType);
        Assert.Equal(DataFixtures.File("dataset/LLaVA-NeXT-Interleave-Bench/eval_images_fix/blink/1_b.jpg"), ds.Records[0].Images[1].Path);
        Assert.All(ds.Records.SelectMany(r => r.Images), i => Assert.True(File.Exists(i.Path)));
    }

    [Fact]
    public void Blink_is_the_out_domain_file_filtered_and_renumbered()
    {
        var ds = DataFixtures.Load("blink");
        Assert.Equal(["blink_1", "blink_2"], ds.Records.Select(r => r.Key));
        Assert.Equal([0, 1], ds.Records.Select(r => r.Index));
    }

    [Fact]
    public void Long_video_bench_answers_are_letter_dot_candidate_with_a_zero_start_bound()
    {
        var ds = DataFixtures.Load("long_video_bench_dev");
        Assert.Equal(["lvb_0", "lvb_1", "lvb_2"], ds.Records.Select(r => r.Key));
        Assert.Equal(["A. x", "B. y", "D. z"], ds.Records.Select(r => r.Answer));
        var video = Assert.Single(ds.Records[0].Videos);
        Assert.Equal(DataFixtures.File("dataset/LongVideoBench/videos/a.mp4"), video.Path);
        Assert.Equal((64, new VideoBound(0, 120)), (video.NumFrames, video.Bound!.Value));
        Assert.False(video.Bound.Value.IsSegment);
    }

    [Fact]
    public void Mvbench_concatenates_the_twenty_tasks_in_the_original_order()
    {
        var ds = DataFixtures.Load("mvbench");

        Assert.Equal(["0", "1", "2", "3", "4"], ds.Records.Select(r => r.Key));
        Assert.Equal(["action_sequence", "action_sequence", "object_existence", "object_existence", "episodic_reasoning"], ds.Records.Select(r => r.Category));
        Assert.Equal(["B. Sat on the bed.", "A. Ran.", "B. no", "@. maybe", "C. C"], ds.Records.Select(r => r.Answer));
        var seq = ds.Records[0].Videos[0];
        Assert.Equal(DataFixtures.File("dataset/mvbench/video/star/Charades_v1_480/1.mp4"), seq.Path);
        Assert.Equal((16, new VideoBound(2.5, 10.0), false), (seq.NumFrames, seq.Bound!.Value, seq.IsFrameFolder));
        Assert.Null(ds.Records[2].Videos[0].Bound);
        Assert.Equal(DataFixtures.File("dataset/mvbench/video/clevrer/video_validation/video_10000.mp4"), ds.Records[2].Videos[0].Path);
        var er = ds.Records[4].Videos[0];
        Assert.Equal((3.0, new VideoBound(2, 6)), (er.FrameFolderFps!.Value, er.Bound!.Value));
        Assert.Equal(DataFixtures.File("dataset/mvbench/video/tvqa/frames_fps3_hq/friends_s01e01_seg01_clip_00"), er.Path);
        Assert.Equal(20, MvBenchReader.Tasks.Count);
        Assert.Equal("fine_grained_action", MvBenchReader.Tasks[3].Config);
    }

    [Fact]
    public void Mvbench_without_configs_reads_json_task_files_and_names_a_missing_one()
    {
        using var dir = new TempDirectory("owl3-eval");
        dir.Write("dataset/mvbench/json/action_sequence.json", "[]");
        var e = Assert.Throws<DatasetNotFoundException>(() => EvalDatasets.Load(PlanEntry.ForDataset("mvbench"), new EvalPaths(dir.Path)));
        Assert.Equal(Path.GetFullPath(dir.File("dataset/mvbench/json/action_prediction.json")), e.FileName);
    }

    [Fact]
    public void Mvbench_names_a_repeated_answer_by_its_last_candidate_as_the_scorer_does()
    {
        using var dir = new TempDirectory("owl3-eval");
        foreach (var task in MvBenchReader.Tasks) dir.Write($"dataset/mvbench/json/{task.Config}.json", "[]");
        dir.Write("dataset/mvbench/json/action_sequence.json",
            """[{"video": "1.mp4", "question": "Which?", "candidates": ["yes", "no", "yes"], "answer": "yes", "start": 1.0, "end": 2.0}]""");
        var record = EvalDatasets.Load(PlanEntry.ForDataset("mvbench"), new EvalPaths(dir.Path)).Records.Single();
        Assert.Equal("C. yes", record.Answer);
        Assert.Equal(MvBenchScorer.GroundTruthText(new MvBenchGroundTruth(record.Key, record.Category!, record.Options, "yes")), record.Answer);
    }

    [Fact]
    public void Mibench_records_expand_into_rotated_copies()
    {
        using var dir = new TempDirectory("owl3-eval");
        dir.Write("dataset/MIBench/multi_image_instruction.json",
            "[{\"id\": \"m1\", \"task\": \"order\", \"question\": \"<image><image>Which?\", \"options\": [\"x\", \"y\", \"z\"], \"answer\": \"B\", \"image\": [\"a.jpg\", \"b.jpg\"]}]");
        dir.Write("dataset/MIBench/multimodal_knowledge_seeking.json",
            "[{\"id\": \"k1\", \"task\": \"know\", \"question\": \"<image>Who?\", \"options\": [\"p\", \"q\"], \"answer\": \"p\", \"image\": \"c.jpg\"}]");

        var ds = EvalDatasets.Load(PlanEntry.ForDataset("mi_bench"), new EvalPaths(dir.Path));

        Assert.Equal(["m1_0", "m1_1", "m1_2", "k1_0", "k1_1"], ds.Records.Select(r => r.Key));
        Assert.Equal(["y", "z", "x"], ds.Records[1].Options);
        Assert.Equal(["B", "A", "C", "A", "B"], ds.Records.Select(r => r.Answer));
        Assert.Equal(Path.GetFullPath(dir.File("dataset/MIBench/b.jpg")), ds.Records[0].Images[1].Path);
    }

    [Fact]
    public void Json_rows_report_invalid_lines()
    {
        using var dir = new TempDirectory("owl3-eval");
        string file = dir.Write("x.jsonl", "{\"a\": 1}\n{\"a\": \n");
        var e = Assert.Throws<DatasetFormatException>(() => JsonRows.Read(file));
        Assert.Contains("line 2: invalid JSON", e.Message, StringComparison.Ordinal);
        Assert.Equal(file, e.File);
    }

    [Fact]
    public void Python_str_of_scalars()
    {
        Assert.Equal("True", PyText.Str(true));
        Assert.Equal("4010069381", PyText.Str(4010069381L));
        Assert.Equal("1.0", PyText.Str(1.0));
        Assert.Equal("0.5", PyText.Str(0.5));
        Assert.Equal("1e-05", PyText.Str(1e-5));
        Assert.Equal("1e+16", PyText.Str(1e16));
        Assert.Equal("1000000000000000.0", PyText.Str(1e15));
        Assert.Equal("0.0001", PyText.Str(1e-4));
        Assert.Equal("-1.2345678901234568e+17", PyText.Str(-123456789012345678.0));
        Assert.Equal("123.45", PyText.Str(123.45));
        Assert.Equal("a", PyText.RStrip("a \u001f\n")); // U+001F is whitespace for Python, not for .NET
        Assert.Equal("x", PyText.Strip("\u001c x \u00a0"));
    }
}
