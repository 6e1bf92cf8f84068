using Owl3Native.Eval.Data;

namespace Owl3Native.Eval.Scoring;

/// <summary>
/// The bridge from a loaded dataset (Data/) to the scorers (Scoring/): each task's records become the ground-truth
/// records its scorer takes, and predictions are scored against them.
/// </summary>
public static class TaskScoring
{
    /// <summary>The ground truth of every record of <paramref name="dataset"/>, in dataset order.</summary>
    public static IReadOnlyList<IGroundTruth> GroundTruth(EvalDataset dataset) =>
        throw new NotSupportedException($"{dataset.Task.DsName}: the record → ground-truth mapping is being written (issue #8)");

    /// <summary>Scores predictions of <paramref name="dataset"/>'s task; null for a submission-only task (no local score).</summary>
    public static TaskScore? Score(EvalDataset dataset, IReadOnlyList<ScoredAnswer> predictions, ScoreProtocol protocol = ScoreProtocol.Original) =>
        BenchmarkScorer.IsSubmissionOnly(dataset.Task.DsName) ? null : BenchmarkScorer.Score(dataset.Task.DsName, predictions, GroundTruth(dataset), protocol);
}
