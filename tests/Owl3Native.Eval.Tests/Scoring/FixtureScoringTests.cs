using System.IO.Compression;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Owl3Native.Eval.Scoring;
using Xunit;

namespace Owl3Native.Eval.Tests.Scoring;

/// <summary>
/// The spec/EVAL.md §7.1–7.5 fixture sets end to end: dataset file + predictions file → scorer → the expected metrics
/// file (percent, <c>{"task", "count", "metrics"}</c> like <c>owl3 eval score --json</c>).
/// </summary>
public sealed class FixtureScoringTests
{
    public static TheoryData<string> Tasks => new()
    {
        "gqa_testdev", "okvqa_val", "pope_random", "ai2d", "nlvr2", "q_bench2", "next_qa_mc", "mvbench",
        "long_video_bench_dev", "videomme", "out_domain", "mmbench_dev_en_20231003",
    };

    [Theory]
    [MemberData(nameof(Tasks))]
    public void Fixture_set_scores_to_the_expected_metrics(string task)
    {
        JsonObject expected = ScoringFixtures.Expected(task);
        TaskScore score = BenchmarkScorer.Score(task, ScoringFixtures.PredictionsOf(task), ScoringFixtures.GroundTruth(task));
        Assert.Equal(task, score.Task);
        Assert.Equal(expected["count"]!.GetValue<int>(), score.Count);
        JsonAssert.Near(expected["metrics"], score.Metrics);
    }

    [Fact]
    public void Predictions_in_another_order_score_the_same()
    {
        var predictions = ScoringFixtures.PredictionsOf("next_qa_mc").Reverse().ToList();
        TaskScore score = BenchmarkScorer.Score("next_qa_mc", predictions, ScoringFixtures.GroundTruth("next_qa_mc"));
        JsonAssert.Near(ScoringFixtures.Expected("next_qa_mc")["metrics"], score.Metrics);
    }

    [Fact]
    public void Okvqa_results_missing_a_question_fail()
    {
        var predictions = ScoringFixtures.PredictionsOf("okvqa_val").Where(p => p.Key != "6").ToList();
        var e = Assert.Throws<ScoringException>(() => BenchmarkScorer.Score("okvqa_val", predictions, ScoringFixtures.GroundTruth("okvqa_val")));
        Assert.Contains("'6'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pope_official_parser_counts_every_answer()
    {
        TaskScore score = PopeScorer.Score("pope_random", ScoringFixtures.PredictionsOf("pope_random"),
            ScoringFixtures.GroundTruth<AnswerGroundTruth>("pope_random"), ScoreProtocol.Official);
        // Row 6 ("There is no cat.") becomes "no": TP 2, FN 1, TN 2, FP 1.
        JsonAssert.Near(JsonNode.Parse("""{"Accuracy": 66.66666666666667, "Precision": 66.66666666666667, "Recall": 66.66666666666667, "F1": 66.66666666666667, "Yes Proportion": 50.0}"""),
            score.Metrics);
    }

    [Fact]
    public void Mmbench_official_circular_groups_give_the_same_fixture_result()
    {
        TaskScore score = MmBenchScorer.Score("mmbench_dev_en_20231003", ScoringFixtures.PredictionsOf("mmbench_dev_en_20231003"),
            ScoringFixtures.GroundTruth<MmBenchGroundTruth>("mmbench_dev_en_20231003"), ScoreProtocol.Official);
        JsonAssert.Near(ScoringFixtures.Expected("mmbench_dev_en_20231003")["metrics"], score.Metrics);
    }

    [Fact]
    public void Videomme_official_fallback_is_wrong_instead_of_A()
    {
        TaskScore score = VideoMmeScorer.Score("videomme", ScoringFixtures.PredictionsOf("videomme"),
            ScoringFixtures.GroundTruth<VideoMmeGroundTruth>("videomme"), ScoreProtocol.Official);
        Assert.Equal(50.0, score.Metrics["short"]!.GetValue<double>());
        Assert.Equal(50.0, score.Metrics["Accuracy Overall"]!.GetValue<double>());
    }

    [Fact]
    public void Vqav2_submission_is_the_evalai_processed_answer()
    {
        JsonArray sub = Submissions.VqaV2(ScoringFixtures.PredictionsOf("vqav2_test"), ScoringFixtures.GroundTruth<AnswerGroundTruth>("vqav2_test"));
        JsonAssert.Near(JsonNode.Parse(File.ReadAllText(ScoringFixtures.PathOf("expected/vqav2_test.submission.json"))), sub);
        Assert.Equal("""[{"question_id":1,"answer":"2 dogs"}]""", sub.ToJsonString());
        TaskScore score = BenchmarkScorer.Score("vqav2_test", ScoringFixtures.PredictionsOf("vqav2_test"), ScoringFixtures.GroundTruth("vqav2_test"));
        Assert.Empty(score.Metrics);
        Assert.Equal(1, score.Count);
    }

    [Fact]
    public void Vizwiz_submission_cuts_at_the_first_period()
    {
        JsonArray sub = Submissions.VizWiz(ScoringFixtures.PredictionsOf("vizwiz_test"), ScoringFixtures.GroundTruth<AnswerGroundTruth>("vizwiz_test"));
        JsonAssert.Near(JsonNode.Parse(File.ReadAllText(ScoringFixtures.PathOf("expected/vizwiz_test.submission.json"))), sub);
    }

    [Fact]
    public void Mmbench_submission_workbook_has_the_server_columns()
    {
        var gt = ScoringFixtures.GroundTruth<MmBenchGroundTruth>("mmbench_dev_en_20231003");
        var rows = Submissions.MmBench(ScoringFixtures.PredictionsOf("mmbench_dev_en_20231003"), gt);
        using var ms = new MemoryStream();
        Submissions.WriteMmBenchXlsx(ms, rows);
        ms.Position = 0;
        using var zip = new ZipArchive(ms, ZipArchiveMode.Read);
        Assert.NotNull(zip.GetEntry("[Content_Types].xml"));
        Assert.NotNull(zip.GetEntry("xl/workbook.xml"));
        using var sheetStream = zip.GetEntry("xl/worksheets/sheet1.xml")!.Open();
        XNamespace ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
        var sheetRows = XDocument.Load(sheetStream).Descendants(ns + "row").ToList();
        Assert.Equal(5, sheetRows.Count);
        Assert.Equal(["index", "question", "prediction", "A", "B", "C", "D"], sheetRows[0].Elements(ns + "c").Select(c => c.Value));
        var second = sheetRows[2].Elements(ns + "c").ToList();
        Assert.Equal("A2", sheetRows[1].Elements(ns + "c").First().Attribute("r")!.Value);
        Assert.Equal("1000001", second[0].Value);
        Assert.Equal("Which animal is shown?", second[1].Value);
        Assert.Equal("B. cat", second[2].Value);
        Assert.Equal(["dog", "cat"], second.Skip(3).Select(c => c.Value)); // C and D are empty cells
    }
}
