using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Data;

/// <summary>
/// One benchmark item in dataset order, with its media and ground truth. Which source column fills each field is listed
/// per dataset in <see cref="DatasetSpec.GroundTruth"/> and in the readers; every source column (binary data excluded)
/// is also kept in <see cref="Fields"/> under its original name.
/// </summary>
public sealed record EvalRecord
{
    /// <summary>The dataset.</summary>
    public required string DsName { get; init; }

    /// <summary>0-based position in dataset order (the order of the original's `task[i]`).</summary>
    public required int Index { get; init; }

    /// <summary>
    /// The prediction key (spec/EVAL.md §7): `question_id` for the VQA family (a string for GQA), the TSV `index` for
    /// MMBench, `v1_{i}` for MM-Vet, `{video}_{qid}` for NExT-QA, the concatenated index for MVBench, `question_id` for
    /// Video-MME, `id` for LongVideoBench, `sample_id` for Interleave, `{id}_{copy}` for MI-Bench, and the record index
    /// for AI2D, NLVR2 and Q-Bench2.
    /// </summary>
    public required string Key { get; init; }

    /// <summary>The question (or NLVR2 statement, Interleave first turn) as the prompt uses it, before any template.</summary>
    public string Question { get; init; } = "";

    /// <summary>Images in prompt order (empty for video tasks).</summary>
    public IReadOnlyList<EvalImage> Images { get; init; } = [];

    /// <summary>Videos in prompt order (empty for image tasks).</summary>
    public IReadOnlyList<EvalVideo> Videos { get; init; } = [];

    /// <summary>The single ground truth in the form the original's post-processing stores (`ground_truth` / `annotation`); null when none (submission-only sets).</summary>
    public string? Answer { get; init; }

    /// <summary>Multi-answer ground truth (VQA: the 10 human answers of the annotation file).</summary>
    public IReadOnlyList<string> Answers { get; init; } = [];

    /// <summary>The choices' texts without letters, in order (multiple-choice sets); Video-MME's keep their `A. ` prefix, as stored.</summary>
    public IReadOnlyList<string> Options { get; init; } = [];

    /// <summary>The grouping the metric breaks down by (MMBench `l2-category`, MVBench task, Interleave sub-dataset, Video-MME duration, VQA `answer_type`, Q-Bench `question_concern`, MI-Bench `task`).</summary>
    public string? Category { get; init; }

    /// <summary>The question type (VQA `question_type`, NExT-QA `type`, Video-MME `task_type`, Interleave `question_type`, Q-Bench `question_type`).</summary>
    public string? QuestionType { get; init; }

    /// <summary>The source row's columns verbatim under their original names; binary values (embedded image bytes) are left out, so an HF image `{bytes, path}` keeps only `path`.</summary>
    public JsonObject Fields { get; init; } = [];
}
