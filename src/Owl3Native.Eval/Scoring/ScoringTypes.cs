using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Scoring;

/// <summary>
/// One line of a predictions file (<c>&lt;out&gt;/&lt;ds_name&gt;.jsonl</c>, CLI.md <c>owl3 eval run</c>):
/// <c>{"key": …, "index": i, "raw_model_answer": …}</c>. At least one of <see cref="Key"/> and <see cref="Index"/> is set.
/// </summary>
/// <param name="Key">The record's key (a JSON string, or a number kept in its JSON spelling); see each ground-truth record for which column it is.</param>
/// <param name="Index">The 0-based record index in dataset order; used when the key is absent or unknown.</param>
/// <param name="RawModelAnswer">The decoded model output exactly as generated (PROCESSOR.md §10.4).</param>
public sealed record ScoredAnswer(string? Key, int? Index, string RawModelAnswer);

/// <summary>Which behaviour a scorer reproduces where the reference deviates from a benchmark's official protocol (spec §9).</summary>
public enum ScoreProtocol
{
    /// <summary>The mPLUG-Owl3 evaluation code, bugs included (the default; <c>--protocol original</c>).</summary>
    Original,

    /// <summary>The benchmark's official scoring where spec/EVAL.md describes it (<c>--protocol official</c>).</summary>
    Official,
}

/// <summary>
/// The scores of one task. <see cref="Metrics"/> uses the original's metric names (spec/EVAL.md §4) with every number
/// in percent (the original's fractions × 100, its percent strings parsed); nested objects hold per-type / per-category
/// results. A value the original cannot compute (a division by zero: no "yes" prediction in POPE, a NExT-QA type with no
/// question, …) is JSON <c>null</c> instead of a crash.
/// </summary>
/// <param name="Task">The plan's <c>ds_name</c>.</param>
/// <param name="Count">Number of predictions scored.</param>
/// <param name="Metrics">The metrics object (see above).</param>
public sealed record TaskScore(string Task, int Count, JsonObject Metrics);

/// <summary>A ground-truth record: whatever a scorer needs from one dataset record, plus the key predictions join on.</summary>
public interface IGroundTruth
{
    /// <summary>The key a prediction line's <c>key</c> is matched against (see each record type for the column).</summary>
    string Key { get; }
}

/// <summary>A prediction joined to its ground-truth record.</summary>
/// <param name="Truth">The ground-truth record.</param>
/// <param name="Prediction">The prediction line.</param>
/// <param name="Position">The record's 0-based position in the ground-truth list (= dataset index).</param>
public readonly record struct Joined<T>(T Truth, ScoredAnswer Prediction, int Position) where T : IGroundTruth;

/// <summary>Malformed scoring input: a bad prediction line, an unknown key, a ground-truth value outside what the benchmark allows.</summary>
public sealed class ScoringException : Exception
{
    /// <summary>Creates the exception with a one-line message naming the file / record / field and what was expected.</summary>
    public ScoringException(string message) : base(message) { }

    /// <summary>Creates the exception with an inner cause.</summary>
    public ScoringException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception with no message.</summary>
    public ScoringException() { }
}
