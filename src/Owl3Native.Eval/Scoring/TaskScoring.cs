using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Owl3Native.Eval.Data;

namespace Owl3Native.Eval.Scoring;

/// <summary>
/// The bridge from a loaded dataset (Data/) to the scorers (Scoring/): each task's records become the ground-truth
/// records its scorer takes, and predictions are scored against them.
/// </summary>
/// <remarks>
/// Where a scorer wants a column as read (AI2D <c>answer</c> "0"–"3", NLVR2 'True'/'False', Q-Bench2 <c>option0..3</c>
/// with 'N/A', NExT-QA <c>video</c>/<c>qid</c>/<c>answer</c>, Video-MME <c>domain</c>/<c>sub_category</c>, MMBench's TSV
/// cells), the value comes from <see cref="EvalRecord.Fields"/>, turned into text as Python's <c>str()</c> would; the
/// loader's derived values (<see cref="EvalRecord.Answer"/> letters, "yes"/"no") are used only where they are what the
/// scorer documents. Every ground-truth key equals the record's <see cref="EvalRecord.Key"/>, so predictions written
/// with the record key join.
/// </remarks>
public static class TaskScoring
{
    private static readonly Dictionary<string, Func<EvalRecord, IGroundTruth>> Mappings = new(StringComparer.Ordinal)
    {
        ["vqav2_test"] = Submission,
        ["okvqa_val"] = Vqa,
        ["textvqa_val_ocr_v2"] = Vqa,
        ["vizwiz_test"] = Submission,
        ["gqa_testdev"] = SingleAnswer,
        ["pope_random"] = SingleAnswer,
        ["pope_popular"] = SingleAnswer,
        ["pope_adversarial"] = SingleAnswer,
        ["mmbench_test_en_20231003"] = MmBench,
        ["mmbench_test_cn_20231003"] = MmBench,
        ["mmbench_dev_en_20231003"] = MmBench,
        ["mmbench_dev_cn_20231003"] = MmBench,
        ["mmvet"] = Submission,
        ["ai2d"] = Ai2d,
        ["nlvr2"] = Nlvr2,
        ["q_bench2"] = QBench2,
        ["out_domain"] = Interleave,
        ["in_domain"] = Interleave,
        ["blink"] = Interleave,
        ["mi_bench"] = MiBench,
        ["next_qa_mc"] = NextQa,
        ["mvbench"] = MvBench,
        ["videomme"] = VideoMme,
        ["long_video_bench_dev"] = LongVideoBench,
    };

    /// <summary>The <c>ds_name</c>s with a record → ground-truth mapping.</summary>
    public static IReadOnlyCollection<string> MappedTasks => Mappings.Keys;

    /// <summary>The ground truth of every record of <paramref name="dataset"/>, in dataset order.</summary>
    /// <exception cref="ScoringException">
    /// The task has no mapping (the message names it), or a record lacks a column its scorer needs (task, record index,
    /// key and column named).
    /// </exception>
    public static IReadOnlyList<IGroundTruth> GroundTruth(EvalDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        string task = dataset.Task.DsName;
        if (!Mappings.TryGetValue(task, out var map))
            throw new ScoringException($"task '{task}' has no record → ground-truth mapping (mapped: {string.Join(", ", Mappings.Keys)})");
        var result = new IGroundTruth[dataset.Records.Count];
        for (int i = 0; i < result.Length; i++)
        {
            EvalRecord record = dataset.Records[i];
            IGroundTruth truth = map(record);
            if (!string.Equals(truth.Key, record.Key, StringComparison.Ordinal))
                throw Fail(record, $"the ground-truth key '{truth.Key}' differs from the record key");
            result[i] = truth;
        }
        return result;
    }

    /// <summary>Scores predictions of <paramref name="dataset"/>'s task; null for a submission-only task (no local score).</summary>
    /// <remarks>AI2D with <c>use_number</c> compares the <c>answer</c> digit itself, as the reference does (§4.9).</remarks>
    public static TaskScore? Score(EvalDataset dataset, IReadOnlyList<ScoredAnswer> predictions, ScoreProtocol protocol = ScoreProtocol.Original)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        string task = dataset.Task.DsName;
        if (BenchmarkScorer.IsSubmissionOnly(task)) return null;
        var groundTruth = GroundTruth(dataset);
        if (BenchmarkScorer.KindOf(task) == ScoringKind.Ai2d && dataset.Task.UseNumber)
            return Ai2dScorer.Score(task, predictions, groundTruth.Cast<AnswerGroundTruth>().ToArray(), useNumber: true, protocol);
        return BenchmarkScorer.Score(task, predictions, groundTruth, protocol);
    }

    // VQAv2 / VizWiz / MM-Vet: only the key matters (question_id, the VizWiz image name, v1_{i}).
    private static AnswerGroundTruth Submission(EvalRecord r) => new(r.Key, r.Answer ?? "");

    // OK-VQA / TextVQA: the annotation file's 10 answers, question_type, answer_type (the loader's join).
    private static VqaGroundTruth Vqa(EvalRecord r)
    {
        if (r.Answers.Count == 0)
            throw Fail(r, "has no ground-truth answers (no `annotations[]` entry with this question_id in the annotations file)");
        // A missing question_type / answer_type is Python's None; the scorer groups it under "null".
        return new VqaGroundTruth(r.Key, r.Answers, r.QuestionType!, r.Category!);
    }

    // GQA, POPE: `answer` as read (the scorers lower/strip it themselves).
    private static AnswerGroundTruth SingleAnswer(EvalRecord r) => new(r.Key, r.Answer ?? throw Fail(r, "column `answer` is missing"));

    // AI2D: the raw `answer` ("0"–"3"); the scorer makes the letter (or keeps the digit with use_number).
    private static AnswerGroundTruth Ai2d(EvalRecord r) => new(r.Key, RequiredText(r, "answer"));

    // NLVR2: the raw `answer` ('True'/'False'); the scorer maps 'False' → "no", anything else → "yes".
    private static AnswerGroundTruth Nlvr2(EvalRecord r) => new(r.Key, RequiredText(r, "answer"));

    // Q-Bench2: option0..3 as read ('N/A' kept; an absent or null option is 'N/A', as the loader reads it), the raw
    // correct_choice letter, question_type / question_concern as integers when they are.
    private static QBench2GroundTruth QBench2(EvalRecord r)
    {
        var options = Enumerable.Range(0, 4).Select(k => Text(Field(r, $"option{k}")) ?? "N/A").ToArray();
        return new QBench2GroundTruth(r.Key, options, RequiredText(r, "correct_choice"),
            Integer(Field(r, "question_type")), Integer(Field(r, "question_concern")));
    }

    // NExT-QA: video, qid (their key is "{video}_{qid}"), type, answer (0–4) from the row.
    private static NextQaGroundTruth NextQa(EvalRecord r) =>
        new(RequiredText(r, "video"), RequiredText(r, "qid"), RequiredText(r, "type"),
            Integer(Field(r, "answer")) ?? throw Fail(r, "column `answer` is not an option number"));

    // MVBench: the config name (the loader's Category), the candidates, the raw `answer` text; the scorer builds
    // "{letter}. {answer}" itself (last equal candidate, '@' when none).
    private static MvBenchGroundTruth MvBench(EvalRecord r) =>
        new(r.Key, r.Category ?? throw Fail(r, "has no task (config) name"), r.Options, RequiredText(r, "answer"));

    // Video-MME: duration, domain, sub_category, task_type and answer as read.
    private static VideoMmeGroundTruth VideoMme(EvalRecord r) =>
        new(r.Key, RequiredText(r, "duration"), RequiredText(r, "domain"), RequiredText(r, "sub_category"),
            RequiredText(r, "task_type"), RequiredText(r, "answer"));

    // LongVideoBench: candidates, the 0-based correct_choice (null when absent), duration_group when present.
    private static LongVideoBenchGroundTruth LongVideoBench(EvalRecord r) =>
        new(r.Key, r.Options, Integer(Field(r, "correct_choice")), Integer(Field(r, "duration_group")));

    // Interleave: the second turn, metadata.dataset, metadata.question_type (the loader's Answer, Category, QuestionType).
    private static InterleaveGroundTruth Interleave(EvalRecord r) =>
        new(r.Key, r.Answer ?? throw Fail(r, "has no second (gpt) turn"), r.Category ?? throw Fail(r, "has no `metadata.dataset`"),
            r.QuestionType ?? throw Fail(r, "has no `metadata.question_type`"));

    // MI-Bench: one rotated copy; Id groups the copies, the letter is the loader's Answer for this copy.
    private static MiBenchGroundTruth MiBench(EvalRecord r) =>
        new(r.Key, RequiredText(r, "id"), r.Category ?? throw Fail(r, "column `task` is missing"), MiBenchTopCategory(r),
            r.Answer ?? throw Fail(r, "has no answer letter"));

    /// <summary>
    /// MMBench: the official TSV row (<c>Fields["tsv"]</c>) as raw cells: <c>question</c>, <c>answer</c>, <c>A</c>–<c>D</c>,
    /// <c>l2-category</c> (null where the TSV lacks the column). The loader drops the TSV <c>image</c> cell, so the
    /// grouping key <see cref="MmBenchGroundTruth.Image"/> is the image's content (see <see cref="ImageIdentity"/>):
    /// rows whose base64 cells are equal have equal bytes, so the reference's <c>(image, question)</c> groups are kept.
    /// Without a TSV row (JSONL only) the record's question, answer letter, options and category stand in.
    /// </summary>
    private static MmBenchGroundTruth MmBench(EvalRecord r)
    {
        string? image = r.Images.Count == 0 ? null : ImageIdentity(r.Images[0]);
        if (Field(r, "tsv") is JsonObject tsv)
        {
            string? Cell(string column) => tsv.TryGetPropertyValue(column, out var v) ? Text(v) : null;
            return new MmBenchGroundTruth(r.Key, image, Cell("question"), Cell("answer"),
                new[] { "A", "B", "C", "D" }.Select(Cell).ToArray(), Cell("l2-category"));
        }
        var options = Enumerable.Range(0, 4).Select(i => i < r.Options.Count ? r.Options[i] : null).ToArray();
        return new MmBenchGroundTruth(r.Key, image, r.Question, r.Answer, options, r.Category);
    }

    /// <summary>
    /// What identifies an MMBench image for the <c>(image, question)</c> grouping: the SHA-256 of its encoded bytes
    /// (embedded TSV bytes, or the converted JSONL's file, which the converter writes once per row index), else — the
    /// file missing — its path.
    /// </summary>
    private static string ImageIdentity(EvalImage image)
    {
        if (image.IsEmbedded) return "sha256:" + Convert.ToHexString(SHA256.HashData(image.ReadBytes()));
        if (image.Path is { } path && File.Exists(path))
        {
            using var stream = File.OpenRead(path);
            return "sha256:" + Convert.ToHexString(SHA256.HashData(stream));
        }
        return "path:" + image.Path;
    }

    // MI-Bench's two files, by the task names of the MI-Bench paper (full names and abbreviations, compared without
    // case, spaces or punctuation): the loader concatenates both files and keeps no column naming the file.
    private static readonly Dictionary<string, string> MiBenchTasks = BuildMiBenchTasks();

    private static Dictionary<string, string> BuildMiBenchTasks()
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string t in new[] { "generalcomparison", "gc", "subtledifference", "sd", "visualreferring", "vr", "temporalreasoning", "tr", "logicalreasoning", "lr" })
            map[t] = MiBenchScorer.TopCategories[0];
        foreach (string t in new[]
                 {
                     "finegrainedvisualrecognition", "fvr", "textrichimages", "textrichimage", "textrichimagesvqa", "textrichimagevqa", "tri",
                     "visionlinkedtextualknowledge", "vtk", "textlinkedvisualknowledge", "tvk",
                 })
            map[t] = MiBenchScorer.TopCategories[1];
        return map;
    }

    /// <summary>
    /// The MI-Bench file a record came from: the loader's <c>source_file</c> field, else a folder of that name on one of its image paths, else its <c>task</c>
    /// looked up in the MI-Bench task list.
    /// </summary>
    private static string MiBenchTopCategory(EvalRecord r)
    {
        // The loader names the file each record came from; older record sets fall back to the inference below.
        if (Text(Field(r, "source_file")) is { } file && MiBenchScorer.TopCategories.Contains(file, StringComparer.Ordinal)) return file;
        foreach (EvalImage image in r.Images)
        {
            var segments = (image.Path ?? "").Split('/', '\\');
            foreach (string top in MiBenchScorer.TopCategories)
                if (segments.Contains(top, StringComparer.Ordinal)) return top;
        }
        string task = r.Category ?? "";
        string normalized = new(task.Where(char.IsLetterOrDigit).Select(char.ToLowerInvariant).ToArray());
        return MiBenchTasks.TryGetValue(normalized, out string? found) ? found
            : throw Fail(r, $"task '{task}' is not a known MI-Bench task, so its file ({string.Join(" or ", MiBenchScorer.TopCategories)}) is unknown; " +
                            "the loader records no source file for MI-Bench records");
    }

    private static JsonNode? Field(EvalRecord r, string column) => r.Fields.TryGetPropertyValue(column, out var v) ? v : null;

    private static string RequiredText(EvalRecord r, string column) =>
        Text(Field(r, column)) ?? throw Fail(r, $"column `{column}` is missing");

    /// <summary>Python's <c>str()</c> of a scalar as the loader read it (null stays null): <c>True</c>/<c>False</c>, integers without a point, floats by repr.</summary>
    private static string? Text(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonValue v when v.TryGetValue(out bool b) => b ? "True" : "False",
        JsonValue v when v.TryGetValue(out long l) => l.ToString(CultureInfo.InvariantCulture),
        JsonValue v when v.TryGetValue(out int i) => i.ToString(CultureInfo.InvariantCulture),
        JsonValue v when v.TryGetValue(out double d) => PyText.Repr(d),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
        _ => node.ToJsonString(),
    };

    /// <summary>An integer column (an integral number or a decimal string); null when absent or not an integer.</summary>
    private static int? Integer(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue(out long l) && l is >= int.MinValue and <= int.MaxValue => (int)l,
        JsonValue v when v.TryGetValue(out int i) => i,
        JsonValue v when v.TryGetValue(out double d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue => (int)d,
        JsonValue v when v.TryGetValue(out string? s) && int.TryParse(PyText.Strip(s), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int p) => p,
        _ => null,
    };

    private static ScoringException Fail(EvalRecord r, string problem) => new($"{r.DsName}: record {r.Index} (key '{r.Key}'): {problem}");
}
