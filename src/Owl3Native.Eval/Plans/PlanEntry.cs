using Owl3Native.Eval.Data;

namespace Owl3Native.Eval.Plans;

/// <summary>
/// One task of a plan, validated and resolved against the built-in dataset table (spec/EVAL.md §2): the task class,
/// the dataset, and every option with its default applied.
/// </summary>
public sealed record PlanEntry
{
    /// <summary>The registered task class (`VQATask`, `NextQATask`, …).</summary>
    public required string Type { get; init; }

    /// <summary>The dataset name (`okvqa_val`, `mvbench`, …).</summary>
    public required string DsName { get; init; }

    /// <summary>The built-in description of the dataset (files, format, prompt, ground truth).</summary>
    public required DatasetSpec Dataset { get; init; }

    /// <summary>Image cutting: true iff the entry has a non-empty `cut_cfg` (its contents are ignored, §1.3 step 4).</summary>
    public bool Cut { get; init; }

    /// <summary>Frames per video: `num_frames` of the entry or the dataset default; null for image tasks.</summary>
    public int? NumFrames { get; init; }

    /// <summary>AI2D `use_number` (options `0.`–`3.`, "option’s number"); default false.</summary>
    public bool UseNumber { get; init; }

    /// <summary>Interleave `image_index` (`Image k: ` / ordinal prefixes); default true.</summary>
    public bool ImageIndex { get; init; } = true;

    /// <summary>VQA `num_few_shot`; only 0 is supported (few-shot data is not in the built-in table, §4.19).</summary>
    public int NumFewShot { get; init; }

    /// <summary>VQA `use_llava_style`: a newline after `&lt;|image|&gt;` and before the instruction (§4.19); default false.</summary>
    public bool UseLlavaStyle { get; init; }

    /// <summary>The plan file the entry came from (null for <see cref="ForDataset"/>).</summary>
    public string? File { get; init; }

    /// <summary>0-based index of the entry in its file.</summary>
    public int EntryIndex { get; init; }

    /// <summary>1-based line where the entry starts (0 when unknown).</summary>
    public int Line { get; init; }

    /// <summary>
    /// The entry `all.yaml` would use for <paramref name="dsName"/> (spec/EVAL.md §2.3): its task type, cutting as the
    /// dataset's default (on for single-image sets), the default frame count. For `eval score --task` and tests.
    /// </summary>
    /// <exception cref="KeyNotFoundException"><paramref name="dsName"/> is not in the built-in table.</exception>
    public static PlanEntry ForDataset(string dsName)
    {
        var spec = DatasetCatalog.Find(dsName) ?? throw new KeyNotFoundException(
            $"`{dsName}` is not a built-in dataset; known: {string.Join(", ", DatasetCatalog.All.Select(d => d.DsName))}");
        return new PlanEntry { Type = spec.TaskType, DsName = spec.DsName, Dataset = spec, Cut = spec.DefaultCut, NumFrames = spec.DefaultFrames };
    }

    /// <summary>`file:line` (or the ds_name) for messages.</summary>
    public string Location => File is null ? DsName : $"{File}:{Line} (entry {EntryIndex}, {DsName})";
}

/// <summary>An entry left out of a plan because its `ds_name` is undefined and the caller asked to skip such entries.</summary>
/// <param name="File">The plan file.</param>
/// <param name="EntryIndex">0-based index in the file.</param>
/// <param name="Line">1-based line of the entry.</param>
/// <param name="Type">The task type.</param>
/// <param name="DsName">The undefined dataset name.</param>
/// <param name="Reason">Why it was skipped (the error it would have raised).</param>
public sealed record SkippedPlanEntry(string File, int EntryIndex, int Line, string Type, string DsName, string Reason);

/// <summary>A loaded plan: its tasks in plan order (files concatenated in the order given).</summary>
/// <param name="Tasks">The tasks to run.</param>
/// <param name="Skipped">Entries skipped under <see cref="PlanLoadOptions.SkipUndefined"/>.</param>
/// <param name="Files">The plan files read.</param>
public sealed record EvalPlan(IReadOnlyList<PlanEntry> Tasks, IReadOnlyList<SkippedPlanEntry> Skipped, IReadOnlyList<string> Files);

/// <summary>Options of <see cref="PlanLoader"/>.</summary>
/// <param name="SkipUndefined">
/// Skip (and report in <see cref="EvalPlan.Skipped"/>) entries whose `ds_name` the task type does not define, such as
/// `textvqa_val` of the shipped `all.yaml` (spec/EVAL.md §9 #1), instead of failing. Default false: the original aborts
/// before any inference, and so do we, with a message naming the entry.
/// </param>
public sealed record PlanLoadOptions(bool SkipUndefined = false);
