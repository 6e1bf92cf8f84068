using Owl3Native.Eval.Scoring;
using Xunit;

namespace Owl3Native.Eval.Tests.Scoring;

/// <summary>Predictions JSONL parsing and the key-then-index join.</summary>
public sealed class PredictionsTests
{
    private static readonly AnswerGroundTruth[] Gt = [new("a", "yes"), new("b", "no"), new("c", "yes")];

    [Fact]
    public void Parses_string_and_numeric_keys_and_skips_blank_lines()
    {
        var p = Predictions.ParseJsonl([
            """{"key": "a", "index": 0, "raw_model_answer": "Yes"}""",
            "",
            """{"key": 201, "raw_model_answer": "No", "extra": [1, 2]}""",
            """{"key": null, "index": 2, "raw_model_answer": ""}""",
        ]);
        Assert.Equal([new ScoredAnswer("a", 0, "Yes"), new ScoredAnswer("201", null, "No"), new ScoredAnswer(null, 2, "")], p);
    }

    [Theory]
    [InlineData("""{"raw_model_answer": "x"}""", "neither")]
    [InlineData("""{"key": "a", "index": 0}""", "raw_model_answer")]
    [InlineData("""{"key": "a", "raw_model_answer": 3}""", "raw_model_answer")]
    [InlineData("""{"index": -1, "raw_model_answer": "x"}""", "index")]
    [InlineData("""{"index": 1.5, "raw_model_answer": "x"}""", "index")]
    [InlineData("""{"key": [1], "raw_model_answer": "x"}""", "key")]
    [InlineData("""[1, 2]""", "object")]
    [InlineData("""{"key": "a", """, "JSON")]
    public void Malformed_lines_name_the_line_and_field(string line, string mention)
    {
        var e = Assert.Throws<ScoringException>(() => Predictions.ParseJsonl(["""{"key": "ok", "raw_model_answer": "x"}""", line], "preds.jsonl"));
        Assert.StartsWith("preds.jsonl:2:", e.Message, StringComparison.Ordinal);
        Assert.Contains(mention, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Join_uses_the_key_and_falls_back_to_the_index()
    {
        var joined = Predictions.Join([new ScoredAnswer("c", 0, "x"), new ScoredAnswer(null, 1, "y"), new ScoredAnswer("zzz", 0, "z")], Gt);
        Assert.Equal([0, 1, 2], joined.Select(j => j.Position));           // dataset order
        Assert.Equal(["z", "y", "x"], joined.Select(j => j.Prediction.RawModelAnswer));
        Assert.Equal("a", joined[0].Truth.Key);                             // "zzz" is unknown: index 0
    }

    [Fact]
    public void Join_shared_keys_need_the_index()
    {
        AnswerGroundTruth[] dup = [new("k", "yes"), new("k", "no")];
        Assert.Equal(1, Predictions.Join([new ScoredAnswer("k", 1, "x")], dup).Single().Position);
        Assert.Throws<ScoringException>(() => Predictions.Join([new ScoredAnswer("k", null, "x")], dup));
    }

    [Fact]
    public void Join_rejects_unknown_records_and_duplicates()
    {
        Assert.Throws<ScoringException>(() => Predictions.Join([new ScoredAnswer("zzz", null, "x")], Gt));
        Assert.Throws<ScoringException>(() => Predictions.Join([new ScoredAnswer(null, 3, "x")], Gt));
        var e = Assert.Throws<ScoringException>(() => Predictions.Join([new ScoredAnswer("a", null, "x"), new ScoredAnswer(null, 0, "y")], Gt));
        Assert.Contains("two predictions", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reads_the_fixture_prediction_file()
    {
        var p = Predictions.ReadJsonl(ScoringFixtures.PathOf("predictions/pope_random.jsonl"));
        Assert.Equal(6, p.Count);
        Assert.Equal(new ScoredAnswer("1", 0, "Yes."), p[0]);
    }
}
