using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Scoring;

/// <summary>How a task is scored.</summary>
public enum ScoringKind
{
    /// <summary>OK-VQA / TextVQA VQA accuracy (<see cref="VqaGroundTruth"/>).</summary>
    VqaAccuracy,
    /// <summary>GQA exact match (<see cref="AnswerGroundTruth"/>).</summary>
    Gqa,
    /// <summary>POPE (<see cref="AnswerGroundTruth"/>).</summary>
    Pope,
    /// <summary>AI2D (<see cref="AnswerGroundTruth"/>).</summary>
    Ai2d,
    /// <summary>NLVR2 (<see cref="AnswerGroundTruth"/>).</summary>
    Nlvr2,
    /// <summary>Q-Bench2 (<see cref="QBench2GroundTruth"/>).</summary>
    QBench2,
    /// <summary>NExT-QA (<see cref="NextQaGroundTruth"/>).</summary>
    NextQa,
    /// <summary>MVBench (<see cref="MvBenchGroundTruth"/>).</summary>
    MvBench,
    /// <summary>Video-MME (<see cref="VideoMmeGroundTruth"/>).</summary>
    VideoMme,
    /// <summary>LongVideoBench (<see cref="LongVideoBenchGroundTruth"/>).</summary>
    LongVideoBench,
    /// <summary>LLaVA-Interleave (<see cref="InterleaveGroundTruth"/>).</summary>
    Interleave,
    /// <summary>MMBench dev, local circular scoring (<see cref="MmBenchGroundTruth"/>).</summary>
    MmBenchLocal,
    /// <summary>MI-Bench (<see cref="MiBenchGroundTruth"/>).</summary>
    MiBench,
    /// <summary>No local score: VQAv2, VizWiz, MMBench test, MM-Vet (see <see cref="Submissions"/>).</summary>
    SubmissionOnly,
}

/// <summary>
/// Entry point for the runner: which scorer a <c>ds_name</c> uses, and scoring by name with the ground-truth records the
/// data loader produced.
/// </summary>
public static class BenchmarkScorer
{
    private static readonly Dictionary<string, ScoringKind> Kinds = new(StringComparer.Ordinal)
    {
        ["okvqa_val"] = ScoringKind.VqaAccuracy,
        ["textvqa_val_ocr_v2"] = ScoringKind.VqaAccuracy,
        ["gqa_testdev"] = ScoringKind.Gqa,
        ["pope_random"] = ScoringKind.Pope,
        ["pope_popular"] = ScoringKind.Pope,
        ["pope_adversarial"] = ScoringKind.Pope,
        ["ai2d"] = ScoringKind.Ai2d,
        ["nlvr2"] = ScoringKind.Nlvr2,
        ["q_bench2"] = ScoringKind.QBench2,
        ["next_qa_mc"] = ScoringKind.NextQa,
        ["mvbench"] = ScoringKind.MvBench,
        ["videomme"] = ScoringKind.VideoMme,
        ["long_video_bench_dev"] = ScoringKind.LongVideoBench,
        ["out_domain"] = ScoringKind.Interleave,
        ["in_domain"] = ScoringKind.Interleave,
        ["blink"] = ScoringKind.Interleave,
        ["mmbench_dev_en_20231003"] = ScoringKind.MmBenchLocal,
        ["mmbench_dev_cn_20231003"] = ScoringKind.MmBenchLocal,
        ["mi_bench"] = ScoringKind.MiBench,
        ["vqav2_test"] = ScoringKind.SubmissionOnly,
        ["vizwiz_test"] = ScoringKind.SubmissionOnly,
        ["mmbench_test_en_20231003"] = ScoringKind.SubmissionOnly,
        ["mmbench_test_cn_20231003"] = ScoringKind.SubmissionOnly,
        ["mmvet"] = ScoringKind.SubmissionOnly,
    };

    /// <summary>Every <c>ds_name</c> the reference defines with a usable path (not <c>textvqa_val</c>, §9 #1).</summary>
    public static IReadOnlyCollection<string> KnownTasks => Kinds.Keys;

    /// <summary>The scoring kind of a <c>ds_name</c>.</summary>
    /// <exception cref="ScoringException">An unknown name (including <c>textvqa_val</c>, which the reference lists but never defines).</exception>
    public static ScoringKind KindOf(string task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (Kinds.TryGetValue(task, out ScoringKind kind)) return kind;
        if (task == "textvqa_val")
            throw new ScoringException("task 'textvqa_val' is not defined by the reference (its plan lists it, §9 #1); use 'textvqa_val_ocr_v2'");
        throw new ScoringException($"unknown task '{task}'; known: {string.Join(", ", Kinds.Keys)}");
    }

    /// <summary>Whether the task has no local score (its output is a submission file for a server or a GPT grader).</summary>
    public static bool IsSubmissionOnly(string task) => KindOf(task) == ScoringKind.SubmissionOnly;

    /// <summary>
    /// Scores a task by name. <paramref name="groundTruth"/> must hold the record type of the task's
    /// <see cref="ScoringKind"/>, <paramref name="groundTruth"/>[i] being dataset record i. A submission-only task returns
    /// an empty metrics object (build the submission with <see cref="Submissions"/>).
    /// </summary>
    /// <exception cref="ScoringException">Unknown task, wrong record type, or malformed predictions / ground truth.</exception>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<IGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(groundTruth);
        return KindOf(task) switch
        {
            ScoringKind.VqaAccuracy => VqaAccuracy.Score(task, predictions, As<VqaGroundTruth>(task, groundTruth), protocol),
            ScoringKind.Gqa => GqaScorer.Score(task, predictions, As<AnswerGroundTruth>(task, groundTruth), protocol),
            ScoringKind.Pope => PopeScorer.Score(task, predictions, As<AnswerGroundTruth>(task, groundTruth), protocol),
            ScoringKind.Ai2d => Ai2dScorer.Score(task, predictions, As<AnswerGroundTruth>(task, groundTruth), useNumber: false, protocol),
            ScoringKind.Nlvr2 => Nlvr2Scorer.Score(task, predictions, As<AnswerGroundTruth>(task, groundTruth), protocol),
            ScoringKind.QBench2 => QBench2Scorer.Score(task, predictions, As<QBench2GroundTruth>(task, groundTruth), protocol),
            ScoringKind.NextQa => NextQaScorer.Score(task, predictions, As<NextQaGroundTruth>(task, groundTruth), protocol),
            ScoringKind.MvBench => MvBenchScorer.Score(task, predictions, As<MvBenchGroundTruth>(task, groundTruth), protocol),
            ScoringKind.VideoMme => VideoMmeScorer.Score(task, predictions, As<VideoMmeGroundTruth>(task, groundTruth), protocol),
            ScoringKind.LongVideoBench => MvBenchScorer.ScoreLongVideoBench(task, predictions, As<LongVideoBenchGroundTruth>(task, groundTruth), protocol),
            ScoringKind.Interleave => InterleaveScorer.Score(task, predictions, As<InterleaveGroundTruth>(task, groundTruth), protocol),
            ScoringKind.MmBenchLocal => MmBenchScorer.Score(task, predictions, As<MmBenchGroundTruth>(task, groundTruth), protocol),
            ScoringKind.MiBench => MiBenchScorer.Score(task, predictions, As<MiBenchGroundTruth>(task, groundTruth), protocol),
            _ => new TaskScore(task, Predictions.Join(predictions, groundTruth).Count, new JsonObject()),
        };
    }

    private static T[] As<T>(string task, IReadOnlyList<IGroundTruth> records) where T : IGroundTruth
    {
        var result = new T[records.Count];
        for (int i = 0; i < records.Count; i++)
            result[i] = records[i] is T t ? t
                : throw new ScoringException($"{task}: ground-truth record {i} is a {records[i]?.GetType().Name ?? "null"}, expected {typeof(T).Name}");
        return result;
    }
}
