using System.Text.Json.Nodes;
using Owl3Native.Eval.Scoring;
using Xunit;

namespace Owl3Native.Eval.Tests.Scoring;

/// <summary>Per-benchmark metric rules beyond the fixture files: §4 details, §9 deviations, zero divisions, malformed input.</summary>
public sealed class MetricTests
{
    private static ScoredAnswer P(string key, string raw) => new(key, null, raw);

    [Theory]
    [InlineData(0, 0.0)]
    [InlineData(1, 0.3)]
    [InlineData(2, 0.6)]
    [InlineData(3, 0.9)]
    [InlineData(4, 1.0)]
    [InlineData(10, 1.0)]
    public void Vqa_accuracy_by_number_of_matching_answers(int m, double expected)
    {
        var answers = Enumerable.Repeat("yes", m).Concat(Enumerable.Repeat("no", 10 - m)).ToArray();
        Assert.Equal(expected, VqaAccuracy.QuestionAccuracy("yes", answers), 12);
    }

    [Fact]
    public void Vqa_table_7_2_per_question()
    {
        var gt = ScoringFixtures.GroundTruth<VqaGroundTruth>("okvqa_val");
        double[] expected = [0.6, 1.0, 0.9, 0.0, 1.0, 0.0];
        string[] raw = ["Two dogs.", "Yes.", "Unanswerable", "red", "T-shirt", "t-shirt"];
        for (int i = 0; i < 6; i++)
            Assert.Equal(expected[i], VqaAccuracy.QuestionAccuracy(VqaNormalizer.VqaEval(raw[i]), VqaNormalizer.VqaEvalGroundTruth(gt[i].Answers)), 12);
    }

    [Fact]
    public void Textvqa_official_normalises_ground_truth_with_evalai()
    {
        // Unanimous "t-shirt": the reference leaves it unprocessed (no match for "t shirt"); M4C normalises both sides.
        var gt = new[] { new VqaGroundTruth("1", Enumerable.Repeat("t-shirt", 10).ToArray(), "what", "other") };
        var preds = new[] { P("1", "t-shirt") };
        Assert.Equal(0.0, VqaAccuracy.Score("textvqa_val_ocr_v2", preds, gt).Metrics["overall"]!.GetValue<double>());
        Assert.Equal(100.0, VqaAccuracy.Score("textvqa_val_ocr_v2", preds, gt, ScoreProtocol.Official).Metrics["overall"]!.GetValue<double>());
        Assert.Equal(0.0, VqaAccuracy.Score("okvqa_val", preds, gt, ScoreProtocol.Official).Metrics["overall"]!.GetValue<double>());
    }

    [Fact]
    public void Vqa_overall_uses_python_rounding_to_two_decimals()
    {
        // 1 of 3 questions right: 33.333… → 33.33; 2 of 3 → 66.67.
        var gt = Enumerable.Range(0, 3).Select(i => new VqaGroundTruth($"{i}", Enumerable.Repeat("yes", 10).ToArray(), "q", "a")).ToArray();
        Assert.Equal(33.33, VqaAccuracy.Score("okvqa_val", [P("0", "yes"), P("1", "no"), P("2", "no")], gt).Metrics["overall"]!.GetValue<double>());
        Assert.Equal(66.67, VqaAccuracy.Score("okvqa_val", [P("0", "yes"), P("1", "yes"), P("2", "no")], gt).Metrics["overall"]!.GetValue<double>());
    }

    [Fact]
    public void Vqa_prediction_for_an_unknown_question_fails()
    {
        var gt = new[] { new VqaGroundTruth("1", ["yes"], "q", "a") };
        Assert.Throws<ScoringException>(() => VqaAccuracy.Score("okvqa_val", [P("1", "yes"), P("2", "no")], gt));
    }

    [Fact]
    public void Pope_counts_match_table_7_3()
    {
        int[] labels = new[] { "Yes.", "No", "Yes, there is a dog.", "no", "Yes", "There is no cat." }.Select(PopeScorer.OriginalLabel).ToArray();
        Assert.Equal([1, 0, 1, 0, 1, 2], labels);
    }

    [Fact]
    public void Pope_without_yes_predictions_reports_null_precision()
    {
        var gt = new[] { new AnswerGroundTruth("1", "yes"), new AnswerGroundTruth("2", "no") };
        JsonObject m = PopeScorer.Score("pope_random", [P("1", "No"), P("2", "no")], gt).Metrics;
        Assert.Null(m["Precision"]);
        Assert.Null(m["F1"]);
        Assert.Equal(0.0, m["Recall"]!.GetValue<double>());
        Assert.Equal(50.0, m["Accuracy"]!.GetValue<double>());
        Assert.Equal(0.0, m["Yes Proportion"]!.GetValue<double>());
    }

    [Fact]
    public void Pope_rejects_a_ground_truth_that_is_not_yes_or_no()
    {
        var e = Assert.Throws<ScoringException>(() => PopeScorer.Score("pope_random", [P("1", "yes")], [new AnswerGroundTruth("1", "maybe")]));
        Assert.Contains("'maybe'", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("No, there is not.", 0)]
    [InlineData("There is not a dog", 0)]
    [InlineData("Nope", 1)]
    [InlineData("no,", 0)]
    [InlineData("I see no. Yes", 0)]
    public void Pope_official_label(string raw, int label) => Assert.Equal(label, PopeScorer.OfficialLabel(raw));

    [Fact]
    public void Qbench2_ground_truth_letter_indexes_the_remaining_options()
    {
        Assert.Equal("B", QBench2Scorer.GroundTruthLetter(new QBench2GroundTruth("0", ["x", "N/A", "y", "z"], "B")));
        Assert.Equal("A", QBench2Scorer.GroundTruthLetter(new QBench2GroundTruth("0", ["same", "same", "z", "N/A"], "B"))); // first equal text
        Assert.Throws<ScoringException>(() => QBench2Scorer.GroundTruthLetter(new QBench2GroundTruth("0", ["x", "y", "N/A", "N/A"], "C")));
        Assert.Equal("B", QBench2Scorer.GroundTruthLetter(new QBench2GroundTruth("0", ["x", "N/A", "y", "z"], " B "))); // trimmed, as the loader reads it
    }

    [Fact]
    public void Nextqa_missing_type_reports_null_for_it_and_keeps_the_rest()
    {
        var gt = new[] { new NextQaGroundTruth("v", "0", "CW", 0), new NextQaGroundTruth("v", "1", "TP", 1) };
        JsonObject m = NextQaScorer.Score("next_qa_mc", [P("v_0", "A"), P("v_1", "A")], gt).Metrics;
        Assert.Equal(50.0, m["Accuracy"]!.GetValue<double>());
        JsonObject c = m["category"]!.AsObject();
        Assert.Equal(100.0, c["CW"]!.GetValue<double>());
        Assert.Equal(0.0, c["TN"]!.GetValue<double>());
        Assert.Null(c["CH"]);
        Assert.Null(c["D"]);
        Assert.Equal(100.0, c["C"]!.GetValue<double>());
    }

    [Fact]
    public void Nextqa_requires_every_record_and_known_types()
    {
        var gt = new[] { new NextQaGroundTruth("v", "0", "CW", 0), new NextQaGroundTruth("v", "1", "CH", 1) };
        Assert.Throws<ScoringException>(() => NextQaScorer.Score("next_qa_mc", [P("v_0", "A")], gt));
        Assert.Throws<ScoringException>(() => NextQaScorer.Score("next_qa_mc", [P("v_0", "A")], [new NextQaGroundTruth("v", "0", "XX", 0)]));
    }

    [Fact]
    public void Mvbench_ground_truth_letter_is_the_last_equal_candidate_or_at_sign()
    {
        Assert.Equal("B. b", MvBenchScorer.GroundTruthText(new MvBenchGroundTruth("0", "t", ["a", "b"], "b")));
        Assert.Equal("C. a", MvBenchScorer.GroundTruthText(new MvBenchGroundTruth("0", "t", ["a", "b", "a"], "a")));
        Assert.Equal("@. q", MvBenchScorer.GroundTruthText(new MvBenchGroundTruth("0", "t", ["a", "b"], "q")));
    }

    [Fact]
    public void Longvideobench_ground_truth_text()
    {
        Assert.Equal("B. y", MvBenchScorer.GroundTruthText(new LongVideoBenchGroundTruth("0", ["x", "y"], 1)));
        Assert.Equal("@. x", MvBenchScorer.GroundTruthText(new LongVideoBenchGroundTruth("0", ["x", "y"], null)));
        Assert.Throws<ScoringException>(() => MvBenchScorer.GroundTruthText(new LongVideoBenchGroundTruth("0", ["x", "y"], 2)));
    }

    [Fact]
    public void Videomme_rejects_values_outside_the_fixed_lists()
    {
        var gt = new[] { new VideoMmeGroundTruth("1", "short", "Knowledge", "Humanity & History", "Time Travel", "A") };
        var e = Assert.Throws<ScoringException>(() => VideoMmeScorer.Score("videomme", [P("1", "A")], gt));
        Assert.Contains("task_type", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(59.25, " 59.2%")]   // 59.25 is exact in binary: half-to-even
    [InlineData(59.35, " 59.4%")]   // the double 59.35 is 59.35000000000000142…: up
    [InlineData(0.0, " 0.0%")]
    [InlineData(100.0, " 100.0%")]
    [InlineData(2.0 / 3 * 100, " 66.7%")]
    public void Videomme_percent_strings_are_pythons(double value, string expected) => Assert.Equal(expected, VideoMmeScorer.FormatPercent(value));

    [Fact]
    public void Interleave_open_ended_skips_empty_ground_truth_originally_and_scores_zero_officially()
    {
        var gt = new[]
        {
            new InterleaveGroundTruth("0", "the cat on the mat", "WebQA", "open-ended"),
            new InterleaveGroundTruth("1", "...", "WebQA", "open-ended"),   // N3 → empty
        };
        var preds = new[] { P("0", "the cat on the mat"), P("1", "anything") };
        double original = InterleaveScorer.Score("out_domain", preds, gt).Metrics["WebQA"]!["Rouge-L f"]!.GetValue<double>();
        double official = InterleaveScorer.Score("out_domain", preds, gt, ScoreProtocol.Official).Metrics["WebQA"]!["Rouge-L f"]!.GetValue<double>();
        Assert.True(Math.Abs(original - 100.0) < 1e-5, $"original {original}");   // F = 2/(2 + 1e-8)
        Assert.True(Math.Abs(official - 50.0) < 1e-5, $"official {official}");
    }

    [Fact]
    public void Interleave_nlrv2_is_forced_to_multiple_choice_originally_and_Mantis_officially()
    {
        // A question type that is neither multi-choice nor open-ended is scored as multiple choice only for the
        // special-cased name; anything else is an error.
        var nlrv2 = new[] { new InterleaveGroundTruth("0", "B", "nlrv2", "other") };
        var mantis = new[] { new InterleaveGroundTruth("0", "B", "Mantis", "other") };
        var preds = new[] { P("0", "(B)") };
        Assert.Equal(100.0, InterleaveScorer.Score("out_domain", preds, nlrv2).Metrics["nlrv2"]!["Accuracy"]!.GetValue<double>());
        Assert.Throws<ScoringException>(() => InterleaveScorer.Score("out_domain", preds, nlrv2, ScoreProtocol.Official));
        Assert.Equal(100.0, InterleaveScorer.Score("out_domain", preds, mantis, ScoreProtocol.Official).Metrics["Mantis"]!["Accuracy"]!.GetValue<double>());
        Assert.Throws<ScoringException>(() => InterleaveScorer.Score("out_domain", preds, mantis));
    }

    [Fact]
    public void Interleave_multi_choice_normalises_twice_except_for_image_choice_sets()
    {
        // "\"'B'\"": one N3 pass leaves 'b' (quotes inside spaces), a second pass strips them.
        var gt = new[]
        {
            new InterleaveGroundTruth("0", "B", "BLINK", "multi-choice"),
            new InterleaveGroundTruth("1", "B", "COMICS_Panel", "multi-choice"),
        };
        var preds = new[] { P("0", "\"'B'\""), P("1", "\"'B'\"") };
        JsonObject m = InterleaveScorer.Score("out_domain", preds, gt).Metrics;
        Assert.Equal(100.0, m["BLINK"]!["Accuracy"]!.GetValue<double>());
        Assert.Equal(0.0, m["COMICS_Panel"]!["Accuracy"]!.GetValue<double>());
    }

    [Fact]
    public void Interleave_in_domain_adds_category_averages()
    {
        var gt = new[]
        {
            new InterleaveGroundTruth("0", "A", "Spot-the-Diff", "multi-choice"),
            new InterleaveGroundTruth("1", "B", "Birds-to-Words", "multi-choice"),
            new InterleaveGroundTruth("2", "B", "Birds-to-Words", "multi-choice"),
            new InterleaveGroundTruth("3", "C", "RAVEN", "multi-choice"),
        };
        var preds = new[] { P("0", "A"), P("1", "B"), P("2", "C"), P("3", "D") };
        JsonObject m = InterleaveScorer.Score("in_domain", preds, gt).Metrics;
        Assert.Equal(75.0, m["spot_the_diff"]!.GetValue<double>(), 9);   // mean(1.0, 0.5)
        Assert.Equal(0.0, m["puzzle"]!.GetValue<double>());
        Assert.False(m.ContainsKey("qbench"));
        Assert.Equal(50.0, m["Birds-to-Words"]!["Accuracy"]!.GetValue<double>());
        Assert.False(InterleaveScorer.Score("out_domain", preds, gt).Metrics.ContainsKey("spot_the_diff"));
    }

    [Fact]
    public void Interleave_unknown_question_type_is_an_error()
    {
        var gt = new[] { new InterleaveGroundTruth("0", "A", "X", "seg_single") };
        Assert.Throws<ScoringException>(() => InterleaveScorer.Score("out_domain", [P("0", "A")], gt));
    }

    [Fact]
    public void Mmbench_pandas_missing_cells_drop_out_of_the_fallback_originally()
    {
        // Column A holds the text "None": pandas reads it as missing, so "cat" (column B) becomes the first option.
        var gt = new MmBenchGroundTruth("1", "img", "Q", "B", ["None", "cat", "", ""], "l2");
        Assert.Equal(["cat"], MmBenchScorer.FallbackOptions(gt, ScoreProtocol.Original));
        Assert.Equal(["None", "cat"], MmBenchScorer.FallbackOptions(gt, ScoreProtocol.Official));
        Assert.Equal(0.0, MmBenchScorer.Score("mmbench_dev_en_20231003", [P("1", "cat")], [gt]).Metrics["Accuracy"]!.GetValue<double>());
        Assert.Equal(100.0, MmBenchScorer.Score("mmbench_dev_en_20231003", [P("1", "cat")], [gt], ScoreProtocol.Official).Metrics["Accuracy"]!.GetValue<double>());
    }

    [Fact]
    public void Mmbench_unextractable_answer_is_wrong()
    {
        var gt = new[] { new MmBenchGroundTruth("1", "img", "Q", "A", ["cat", "dog", null, null], "l2") };
        Assert.Equal(0.0, MmBenchScorer.Score("mmbench_dev_en_20231003", [P("1", "I don't know")], gt).Metrics["Accuracy"]!.GetValue<double>());
        Assert.Equal(100.0, MmBenchScorer.Score("mmbench_dev_en_20231003", [P("1", "A cat")], gt).Metrics["Accuracy"]!.GetValue<double>());
    }

    [Fact]
    public void Mmbench_groups_by_image_and_question_originally_and_by_index_mod_a_million_officially()
    {
        // Two rows of one circular group whose question text differs (e.g. a typo in a copy).
        var gt = new[]
        {
            new MmBenchGroundTruth("5", "img", "Q", "A", ["a", "b", null, null], "x"),
            new MmBenchGroundTruth("1000005", "img", "Q ", "B", ["b", "a", null, null], "x"),
        };
        var preds = new[] { P("5", "A"), P("1000005", "A") };
        Assert.Equal(50.0, MmBenchScorer.Score("mmbench_dev_en_20231003", preds, gt).Metrics["Accuracy"]!.GetValue<double>());
        Assert.Equal(0.0, MmBenchScorer.Score("mmbench_dev_en_20231003", preds, gt, ScoreProtocol.Official).Metrics["Accuracy"]!.GetValue<double>());
    }

    [Fact]
    public void Mibench_record_is_right_only_if_every_rotation_is()
    {
        var gt = new[]
        {
            new MiBenchGroundTruth("a#0", "a", "t1", "multi_image_instruction", "A"),
            new MiBenchGroundTruth("a#1", "a", "t1", "multi_image_instruction", "B"),
            new MiBenchGroundTruth("b#0", "b", "t2", "multimodal_knowledge_seeking", "C"),
        };
        JsonObject m = MiBenchScorer.Score("mi_bench", [P("a#0", "a"), P("a#1", "A"), P("b#0", "c) x")], gt).Metrics;
        Assert.Equal(50.0, m["Overall-Accuracy"]!.GetValue<double>());
        Assert.Equal(0.0, m["Category"]!["multi_image_instruction"]!["t1"]!.GetValue<double>());
        Assert.Equal(100.0, m["Category"]!["multimodal_knowledge_seeking"]!["t2"]!.GetValue<double>());
    }

    [Fact]
    public void Dispatcher_rejects_unknown_tasks_and_wrong_record_types()
    {
        var e = Assert.Throws<ScoringException>(() => BenchmarkScorer.KindOf("textvqa_val"));
        Assert.Contains("textvqa_val_ocr_v2", e.Message, StringComparison.Ordinal);
        Assert.Throws<ScoringException>(() => BenchmarkScorer.KindOf("nope"));
        var wrong = Assert.Throws<ScoringException>(() =>
            BenchmarkScorer.Score("pope_random", [P("1", "yes")], [new VqaGroundTruth("1", ["yes"], "q", "a")]));
        Assert.Contains("AnswerGroundTruth", wrong.Message, StringComparison.Ordinal);
        Assert.True(BenchmarkScorer.IsSubmissionOnly("mmvet"));
        Assert.False(BenchmarkScorer.IsSubmissionOnly("ai2d"));
    }

    [Fact]
    public void Empty_prediction_sets_give_null_metrics_not_crashes()
    {
        Assert.Null(GqaScorer.Score("gqa_testdev", [], []).Metrics["Accuracy"]);
        Assert.Null(MvBenchScorer.Score("mvbench", [], []).Metrics["Accuracy_overall"]);
        Assert.Null(VqaAccuracy.Score("okvqa_val", [], []).Metrics["overall"]);
    }
}
