using System.Collections.Frozen;

namespace Owl3Native.Eval.Plans;

/// <summary>
/// The task classes the original registers (spec/EVAL.md §2.2) and the plan keys each constructor accepts (§2.1).
/// A key the original accepts for some task type but not for this one is rejected too (the Python constructor would
/// raise on the unexpected keyword argument).
/// </summary>
public static class TaskTypes
{
    public const string VqaTask = "VQATask";
    public const string MultiOptionTask = "MultiOptionTask";
    public const string MmBenchTask = "MMBenchTask";
    public const string MiBench = "MIBench";
    public const string Ai2dBench = "AI2DBench";
    public const string Nlvr2Bench = "NLVR2Bench";
    public const string MmVetBench = "MMVetBench";
    public const string QbenchTask = "QbenchTask";
    public const string NextQaTask = "NextQATask";
    public const string VideoQa = "VideoQA";
    public const string VideoMmeBench = "VideoMMEBench";
    public const string LongVideoBenchTask = "LongVideoBenchTask";
    public const string MvBenchTask = "MvBenchTask";
    public const string LlavaInterleaveBenchTask = "LlavaInterleaveBenchTask";

    /// <summary>Keys every task type accepts: `type`, `ds_name` (both required), `cut_cfg`, `generate_config` (ignored).</summary>
    public static IReadOnlyList<string> CommonKeys { get; } = ["type", "ds_name", "cut_cfg", "generate_config"];

    private static readonly FrozenDictionary<string, string[]> s_extraKeys = new Dictionary<string, string[]>
    {
        [VqaTask] = ["num_few_shot", "use_llava_style"],
        [MultiOptionTask] = [],
        [MmBenchTask] = [],
        [MiBench] = [],
        [Ai2dBench] = ["use_number"],
        [Nlvr2Bench] = [],
        [MmVetBench] = [],
        [QbenchTask] = [],
        [NextQaTask] = ["num_frames"],
        [VideoQa] = ["num_frame"], // sic, §4.19
        [VideoMmeBench] = ["num_frames"],
        [LongVideoBenchTask] = ["num_frames"],
        [MvBenchTask] = ["num_frames"],
        [LlavaInterleaveBenchTask] = ["image_index"],
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The registered task type names, in the order of spec/EVAL.md §2.2.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        VqaTask, MultiOptionTask, MmBenchTask, MiBench, Ai2dBench, Nlvr2Bench, MmVetBench, QbenchTask, NextQaTask, VideoQa,
        VideoMmeBench, LongVideoBenchTask, MvBenchTask, LlavaInterleaveBenchTask,
    ];

    /// <summary>Every key some task type accepts (anything else is an unknown key).</summary>
    public static IReadOnlySet<string> AllKeys { get; } =
        CommonKeys.Concat(s_extraKeys.Values.SelectMany(k => k)).ToFrozenSet(StringComparer.Ordinal);

    /// <summary>True when <paramref name="type"/> is a registered task class name (case-sensitive, as in Python).</summary>
    public static bool IsRegistered(string type) => s_extraKeys.ContainsKey(type);

    /// <summary>The keys a plan entry of <paramref name="type"/> may hold.</summary>
    /// <exception cref="ArgumentException"><paramref name="type"/> is not registered.</exception>
    public static IReadOnlyList<string> AcceptedKeys(string type) =>
        s_extraKeys.TryGetValue(type, out var extra)
            ? [.. CommonKeys, .. extra]
            : throw new ArgumentException($"`{type}` is not a registered task type", nameof(type));

    /// <summary>True for the tasks whose records carry videos (cut always off, `num_frames` applies).</summary>
    public static bool IsVideoTask(string type) => type is NextQaTask or VideoQa or VideoMmeBench or LongVideoBenchTask or MvBenchTask;
}
