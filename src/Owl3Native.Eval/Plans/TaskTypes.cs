using System.Collections.Frozen;

namespace Owl3Native.Eval.Plans;

/// <summary>
/// The task classes the original registers (spec/EVAL.md §2.2) and the plan keys each constructor accepts (§2.1).
/// A key the original accepts for some task type but not for this one is rejected too (the Python constructor would
/// raise on the unexpected keyword argument).
/// </summary>
public static class TaskTypes
{
    /// <summary>`type: VQATask`: Open-ended VQA over one image (VQAv2, OK-VQA, TextVQA, VizWiz, GQA, POPE; §4.1–§4.6); accepts `num_few_shot`, `use_llava_style`.</summary>
    public const string VqaTask = "VQATask";
    /// <summary>`type: MultiOptionTask`: Generic multiple choice; registered, but the plan never uses it directly (§4.19).</summary>
    public const string MultiOptionTask = "MultiOptionTask";
    /// <summary>`type: MMBenchTask`: MMBench EN/CN (§4.7).</summary>
    public const string MmBenchTask = "MMBenchTask";
    /// <summary>`type: MIBench`: MI-Bench multi-image multiple choice (§4.13).</summary>
    public const string MiBench = "MIBench";
    /// <summary>`type: AI2DBench`: AI2D diagram multiple choice (§4.9); accepts `use_number`.</summary>
    public const string Ai2dBench = "AI2DBench";
    /// <summary>`type: NLVR2Bench`: NLVR2 two-image yes/no (§4.10).</summary>
    public const string Nlvr2Bench = "NLVR2Bench";
    /// <summary>`type: MMVetBench`: MM-Vet open-ended, GPT-graded (§4.8).</summary>
    public const string MmVetBench = "MMVetBench";
    /// <summary>`type: QbenchTask`: Q-Bench2 two-image quality comparison (§4.11).</summary>
    public const string QbenchTask = "QbenchTask";
    /// <summary>`type: NextQATask`: NExT-QA video multiple choice (§4.14); accepts `num_frames`.</summary>
    public const string NextQaTask = "NextQATask";
    /// <summary>`type: VideoQA`: The original's generic open-ended video QA; registered, but no dataset table entry exists for it; accepts `num_frame` (sic) (§4.19).</summary>
    public const string VideoQa = "VideoQA";
    /// <summary>`type: VideoMMEBench`: Video-MME without subtitles (§4.16); accepts `num_frames`.</summary>
    public const string VideoMmeBench = "VideoMMEBench";
    /// <summary>`type: LongVideoBenchTask`: LongVideoBench (§4.17); accepts `num_frames`.</summary>
    public const string LongVideoBenchTask = "LongVideoBenchTask";
    /// <summary>`type: MvBenchTask`: MVBench, 20 video tasks (§4.15); accepts `num_frames`.</summary>
    public const string MvBenchTask = "MvBenchTask";
    /// <summary>`type: LlavaInterleaveBenchTask`: LLaVA-NeXT-Interleave-Bench (§4.12); accepts `image_index`.</summary>
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
