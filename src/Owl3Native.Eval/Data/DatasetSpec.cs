namespace Owl3Native.Eval.Data;

/// <summary>How a dataset's records are stored (which reader builds its <see cref="EvalRecord"/>s).</summary>
public enum DatasetFormat
{
    /// <summary>Qwen-VL style VQA records, a JSON array or JSON Lines (§4.1–§4.6); optional VQA question/annotation files.</summary>
    Vqa,
    /// <summary>MMBench: the converted JSONL (records) joined with the official TSV (ground truth, categories) (§4.7).</summary>
    MmBench,
    /// <summary>MM-Vet: one JSON object keyed `v1_0 … v1_N` (§4.8).</summary>
    MmVet,
    /// <summary>A Hugging Face dataset snapshot folder (parquet/JSON files, configs from README.md) (§4.9–§4.11, §4.14, §4.16).</summary>
    HfSnapshot,
    /// <summary>MVBench's snapshot: 20 configs concatenated in a fixed order (§4.15).</summary>
    MvBench,
    /// <summary>LongVideoBench's `lvb_val.json` (§4.17).</summary>
    LongVideoBench,
    /// <summary>LLaVA-NeXT-Interleave-Bench `multi_image_*.json` (§4.12).</summary>
    Interleave,
    /// <summary>MI-Bench JSON files, each record expanded into rotated-option copies (§4.13).</summary>
    MiBench,
}

/// <summary>Which prompt template builds the user turn (spec/EVAL.md §4, one value per benchmark family).</summary>
public enum PromptStyle
{
    /// <summary>Open-ended VQA (VQAv2, OK-VQA, TextVQA, GQA, POPE; §4.1): `&lt;|image|&gt;{question} {short-answer instruction}`, or the LLaVA-style layout with newlines.</summary>
    Vqa,
    /// <summary>VizWiz (§4.4): the VQA prompt with the respond-with-Unanswerable instruction before the short-answer one.</summary>
    VizWiz,
    /// <summary>MMBench (§4.7): hint as `Context:` (N/A when empty), question, lettered options, answer-with-letter instruction.</summary>
    MmBench,
    /// <summary>MM-Vet (§4.8): the image marker, a newline and the stripped question; no instruction.</summary>
    MmVet,
    /// <summary>AI2D (§4.9): options on their own lines, lettered, or numbered with the number instruction when `use_number` is set.</summary>
    Ai2d,
    /// <summary>NLVR2 (§4.10): `Left image:` / `Right image:` markers, the question and the yes-or-no, single-word instruction.</summary>
    Nlvr2,
    /// <summary>Q-Bench2 (§4.11): `Image 1:` / `Image 2:` markers, question, options, answer-with-letter instruction.</summary>
    QBench2,
    /// <summary>LLaVA-NeXT-Interleave-Bench (§4.12): each `&lt;image&gt;` in the question becomes a numbered marker (BLINK: ordinal words); per-dataset instruction rules.</summary>
    Interleave,
    /// <summary>MI-Bench (§4.13): `&lt;image&gt;` in the question replaced by markers, options, answer-with-letter instruction.</summary>
    MiBench,
    /// <summary>NExT-QA multiple choice (§4.14): video marker, question, options, answer-with-letter instruction.</summary>
    NextQa,
    /// <summary>MVBench (§4.15): video marker (or one image marker per frame of a frame folder), question and lettered options one per line.</summary>
    MvBench,
    /// <summary>Video-MME (§4.16): video marker, question, the options as given (already lettered), one per line.</summary>
    VideoMme,
    /// <summary>LongVideoBench (§4.17): `Question: ` then the video marker, the question with its own video marker removed, options.</summary>
    LongVideoBench,
}

/// <summary>
/// One row of the original's `ds_collections` (spec/EVAL.md §4): where a dataset lives under `--data`, how it is read,
/// which prompt it gets and what its ground truth is. Paths are relative to the data root and start with `dataset/`
/// or `images/` (§3.1).
/// </summary>
public sealed record DatasetSpec
{
    /// <summary>The plan's `ds_name`.</summary>
    public required string DsName { get; init; }

    /// <summary>The task class that defines it (a plan entry must name this type).</summary>
    public required string TaskType { get; init; }

    /// <summary>How records are stored.</summary>
    public required DatasetFormat Format { get; init; }

    /// <summary>The prompt template.</summary>
    public required PromptStyle Prompt { get; init; }

    /// <summary>The record files or the snapshot folder (relative to the data root), in reading order.</summary>
    public required IReadOnlyList<string> Sources { get; init; }

    /// <summary>The VQA questions file (OK-VQA/TextVQA local metric), relative to the data root.</summary>
    public string? Questions { get; init; }

    /// <summary>The VQA annotations file (10 answers per question), relative to the data root.</summary>
    public string? Annotations { get; init; }

    /// <summary>MMBench: the official TSV (answers, categories, the submission's columns).</summary>
    public string? Tsv { get; init; }

    /// <summary>Where relative image/video/frame paths of the records are resolved (relative to the data root).</summary>
    public string? MediaRoot { get; init; }

    /// <summary>HF config name passed to `load_dataset` (null: the snapshot's default).</summary>
    public string? HfConfig { get; init; }

    /// <summary>HF split read from the snapshot.</summary>
    public string? HfSplit { get; init; }

    /// <summary>Cutting as the shipped plan sets it (on for single-image sets, §2.3); used by <c>PlanEntry.ForDataset</c>.</summary>
    public bool DefaultCut { get; init; }

    /// <summary>Frames per video when the plan gives no `num_frames` (video tasks only).</summary>
    public int? DefaultFrames { get; init; }

    /// <summary>True when there is no local score: the output is a submission file for a server or grader.</summary>
    public bool SubmissionOnly { get; init; }

    /// <summary>What the ground truth of a record is and where it comes from (documentation).</summary>
    public required string GroundTruth { get; init; }

    /// <summary>The spec section describing the benchmark.</summary>
    public required string SpecSection { get; init; }
}
