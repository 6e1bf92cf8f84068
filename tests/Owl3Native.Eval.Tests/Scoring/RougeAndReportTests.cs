using System.Text.Json.Nodes;
using Owl3Native.Eval.Scoring;
using Xunit;

namespace Owl3Native.Eval.Tests.Scoring;

/// <summary>ROUGE-L (the <c>rouge</c> package's rules) and the Markdown report.</summary>
public sealed class RougeAndReportTests
{
    [Fact]
    public void Rouge_l_fixture_7_5() => Assert.Equal(0.75, RougeL.F("a cat on a mat", "the cat on the mat"), 7);

    [Theory]
    [InlineData("a b c", "a b c", 1.0)]
    [InlineData("x y", "a b", 0.0)]
    [InlineData("a a a", "a", 1.0)]                   // distinct words: m = n = 1
    [InlineData("b a", "a b", 0.5)]                   // LCS length 1
    [InlineData("a. b", "a b", 2.0 * 1 * 1 / 2)]      // union LCS over two hypothesis sentences: {a, b}
    [InlineData("a.  ", "a", 2.0 * 0.5 / 1.5)]        // a blank sentence adds the word "" to the hypothesis (n = 2)
    public void Rouge_l_package_rules(string hyp, string reference, double expected) =>
        Assert.Equal(expected, RougeL.F(hyp, reference), 6);

    [Fact]
    public void Rouge_l_lcs_backtracking_breaks_ties_like_the_package()
    {
        // LCS("a b", "b a") is one word; the package's backtracking picks "b", which the second sentence "b" repeats,
        // so the union has one word (R = P = 0.5). Picking "a" would give {a, b} and F = 1.
        Assert.Equal(0.5, RougeL.F("b a. b", "a b"), 6);
    }

    [Fact]
    public void Numpy_mean_uses_pairwise_summation()
    {
        // Values from numpy 1.24: np.mean differs from the sequential sum / n in the last bit for both.
        double[] ten = [0.2, 0.2, 0.4999999975, 0.3, 0.999999995, 0.999999995, 0.7, 0.1, 0.3, 0.0];
        Assert.Equal(0.42999999874999995, MetricMath.NumpyMean(ten));
        Assert.NotEqual(0.42999999874999995, ten.Sum() / ten.Length);
        double[] thousand = Enumerable.Range(0, 1000).Select(i => (i * 37 % 101) / 97.0).ToArray();
        Assert.Equal(0.5155670103092783, MetricMath.NumpyMean(thousand));
        Assert.True(double.IsNaN(MetricMath.NumpyMean([])));
    }

    [Fact]
    public void Rouge_l_only_periods_scores_zero_where_the_package_raises() => Assert.Equal(0.0, RougeL.F("...", "a"));

    [Fact]
    public void Interleave_open_ended_truncates_predictions_to_512_characters()
    {
        string gt = "the end";
        string pred = new string('x', 600) + " the end";
        Assert.Equal(0.0, InterleaveScorer.OpenEndedScore(pred, gt));
        Assert.Null(InterleaveScorer.OpenEndedScore("x", "..."));
        Assert.Equal(0.0, InterleaveScorer.OpenEndedScore("", "a"));
    }

    [Fact]
    public void Markdown_lists_every_metric_and_the_reported_numbers()
    {
        var score = new TaskScore("out_domain", 5, (JsonObject)JsonNode.Parse("""{"BLINK": {"Accuracy": 100.0}, "Mantis": {"Accuracy": 50.0}, "Mantis|x": {}}""")!);
        string md = ScoreReport.ScoreMarkdown(score);
        Assert.Contains("| BLINK / Accuracy | 100.00 |", md, StringComparison.Ordinal);
        Assert.Contains("| Mantis\\|x | n/a |", md, StringComparison.Ordinal);
        Assert.Contains("| Mantis-Eval | Mantis / Accuracy | 50.00 | 63.1 | 67.3 | metric name inferred |", md, StringComparison.Ordinal);
        Assert.Contains("| MathVerse-mv | MathVerse / Accuracy | missing | 65.0 | 65.1 |", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Markdown_for_a_submission_only_task_shows_the_server_numbers()
    {
        string md = ScoreReport.ScoreMarkdown(new TaskScore("mmvet", 218, []));
        Assert.Contains("No local metrics", md, StringComparison.Ordinal);
        Assert.Contains("| MM-Vet | — | — | 40.1 | 39.8 | GPT-4 grader |", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Reported_table_covers_every_readme_benchmark_with_a_task()
    {
        string[] benchmarks = ["NExT-QA", "MVBench", "Video-MME w/o sub", "LongVideoBench-val", "NLVR2", "Mantis-Eval", "MathVerse-mv", "SciVerse-mv",
            "BLINK", "Q-Bench2", "VQAv2", "OK-VQA", "GQA", "VizWizQA", "TextVQA", "MMB-EN", "MMB-CN", "MM-Vet", "POPE", "AI2D"];
        var all = ReportedScores.ByTask.Values.SelectMany(v => v).Select(r => r.Benchmark).ToHashSet();
        Assert.All(benchmarks, b => Assert.Contains(b, all));
        Assert.All(ReportedScores.ByTask.Keys, t => BenchmarkScorer.KindOf(t));
        Assert.Equal(59.3, ReportedScores.For("videomme").Single().Owl7B241101);
        Assert.Empty(ReportedScores.For("mmbench_dev_en_20231003"));
    }
}
