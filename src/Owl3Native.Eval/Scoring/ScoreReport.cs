using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Scoring;

/// <summary>A score the mPLUG-Owl3 README reports (spec/EVAL.md §5), in percent.</summary>
/// <param name="Benchmark">The README's benchmark name.</param>
/// <param name="MetricPath">The path of our metric inside <see cref="TaskScore.Metrics"/>, or <see langword="null"/> when there is no local score (server or GPT grader).</param>
/// <param name="Owl7B240728">mPLUG-Owl3-7B-240728.</param>
/// <param name="Owl7B241101">mPLUG-Owl3-7B-241101.</param>
/// <param name="Note">What is uncertain about the mapping, if anything.</param>
public sealed record ReportedScore(string Benchmark, IReadOnlyList<string>? MetricPath, double? Owl7B240728, double? Owl7B241101, string? Note = null);

/// <summary>The README's reported scores keyed by <c>ds_name</c> (spec/EVAL.md §5); MLVU and LVBench have no task.</summary>
public static class ReportedScores
{
    private static ReportedScore R(string benchmark, string? path, double? a, double? b, string? note = null) =>
        new(benchmark, path?.Split('|'), a, b, note);

    private const string PopeNote = "README does not say which statistic or how the 3 splits are combined";

    /// <summary>The table.</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<ReportedScore>> ByTask = new Dictionary<string, IReadOnlyList<ReportedScore>>(StringComparer.Ordinal)
    {
        ["next_qa_mc"] = [R("NExT-QA", "Accuracy", 78.6, 82.3)],
        ["mvbench"] = [R("MVBench", "Accuracy_overall", 54.5, 59.5)],
        ["videomme"] = [R("Video-MME w/o sub", "Accuracy Overall", 53.5, 59.3)],
        ["long_video_bench_dev"] = [R("LongVideoBench-val", "Accuracy_overall", 52.1, 59.7)],
        ["nlvr2"] = [R("NLVR2", "Accuracy", 90.8, 92.7)],
        ["out_domain"] =
        [
            R("Mantis-Eval", "Mantis|Accuracy", 63.1, 67.3, "metric name inferred"),
            R("MathVerse-mv", "MathVerse|Accuracy", 65.0, 65.1, "metric name inferred"),
            R("SciVerse-mv", "SciVerse|Accuracy", 86.2, 82.7, "metric name inferred"),
            R("BLINK", "BLINK|Accuracy", 50.3, 53.8),
        ],
        ["blink"] = [R("BLINK", "BLINK|Accuracy", 50.3, 53.8)],
        ["q_bench2"] = [R("Q-Bench2", "Overall", 74.0, 77.7)],
        ["vqav2_test"] = [R("VQAv2", null, 82.1, 83.2, "EvalAI server")],
        ["okvqa_val"] = [R("OK-VQA", "overall", 60.1, 61.4)],
        ["gqa_testdev"] =
        [
            R("GQA", "Accuracy", 65.0, 64.7, "README does not say which of the two GQA numbers"),
            R("GQA", "EvalAI Post Process Accuracy", 65.0, 64.7, "README does not say which of the two GQA numbers"),
        ],
        ["vizwiz_test"] = [R("VizWizQA", null, 63.5, 62.9, "EvalAI server")],
        ["textvqa_val_ocr_v2"] = [R("TextVQA", "overall", 69.0, 71.4)],
        ["mmbench_test_en_20231003"] = [R("MMB-EN", null, 77.6, 80.4, "MMBench server")],
        ["mmbench_test_cn_20231003"] = [R("MMB-CN", null, 74.3, 79.1, "MMBench server")],
        ["mmvet"] = [R("MM-Vet", null, 40.1, 39.8, "GPT-4 grader")],
        ["pope_random"] = [R("POPE", "Accuracy", 88.2, 88.1, PopeNote), R("POPE", "F1", 88.2, 88.1, PopeNote)],
        ["pope_popular"] = [R("POPE", "Accuracy", 88.2, 88.1, PopeNote), R("POPE", "F1", 88.2, 88.1, PopeNote)],
        ["pope_adversarial"] = [R("POPE", "Accuracy", 88.2, 88.1, PopeNote), R("POPE", "F1", 88.2, 88.1, PopeNote)],
        ["ai2d"] = [R("AI2D", "Accuracy", 73.8, 77.8)],
    };

    /// <summary>The reported scores of a task (empty when the README has none).</summary>
    public static IReadOnlyList<ReportedScore> For(string task) =>
        ByTask.TryGetValue(task ?? throw new ArgumentNullException(nameof(task)), out var list) ? list : [];
}

/// <summary>Markdown rendering of a <see cref="TaskScore"/> (the <c>&lt;ds_name&gt;.md</c> file of <c>owl3 eval run</c>).</summary>
public static class ScoreReport
{
    /// <summary>
    /// A Markdown report: every metric (nested objects flattened to <c>a / b</c> paths, numbers with 2 decimals), then
    /// the README's reported numbers for this task beside ours. <paramref name="reported"/> defaults to
    /// <see cref="ReportedScores.For"/>.
    /// </summary>
    public static string ScoreMarkdown(TaskScore score, IReadOnlyList<ReportedScore>? reported = null)
    {
        ArgumentNullException.ThrowIfNull(score);
        reported ??= ReportedScores.For(score.Task);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"## {Escape(score.Task)}\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"{score.Count} predictions scored; numbers in percent.\n\n");
        var rows = new List<(string Path, JsonNode? Value)>();
        Flatten(score.Metrics, "", rows);
        if (rows.Count == 0) sb.Append("No local metrics (submission-only task).\n");
        else
        {
            sb.Append("| metric | value |\n|---|---:|\n");
            foreach (var (path, value) in rows) sb.Append(CultureInfo.InvariantCulture, $"| {Escape(path)} | {Format(value)} |\n");
        }
        if (reported.Count > 0)
        {
            sb.Append("\n### Reported by the mPLUG-Owl3 README\n\n");
            sb.Append("| benchmark | metric | ours | 7B-240728 | 7B-241101 | note |\n|---|---|---:|---:|---:|---|\n");
            foreach (ReportedScore r in reported)
            {
                string metric = r.MetricPath is null ? "—" : string.Join(" / ", r.MetricPath);
                string ours = r.MetricPath is null ? "—" : Lookup(score.Metrics, r.MetricPath, out JsonNode? v) ? Format(v) : "missing";
                sb.Append(CultureInfo.InvariantCulture,
                    $"| {Escape(r.Benchmark)} | {Escape(metric)} | {ours} | {Format(r.Owl7B240728)} | {Format(r.Owl7B241101)} | {Escape(r.Note ?? "")} |\n");
            }
        }
        return sb.ToString();
    }

    private static void Flatten(JsonObject o, string prefix, List<(string, JsonNode?)> rows)
    {
        foreach (var (key, value) in o)
        {
            string path = prefix.Length == 0 ? key : prefix + " / " + key;
            if (value is JsonObject inner)
            {
                if (inner.Count == 0) rows.Add((path, null));
                else Flatten(inner, path, rows);
            }
            else rows.Add((path, value));
        }
    }

    private static bool Lookup(JsonObject o, IReadOnlyList<string> path, out JsonNode? value)
    {
        JsonNode? node = o;
        foreach (string part in path)
        {
            if (node is not JsonObject obj || !obj.TryGetPropertyValue(part, out node)) { value = null; return false; }
        }
        value = node;
        return true;
    }

    private static string Format(JsonNode? value) => value switch
    {
        null => "n/a",
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => AsDouble(v).ToString("F2", CultureInfo.InvariantCulture),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => Escape(v.GetValue<string>()),
        _ => Escape(value.ToJsonString()),
    };

    private static double AsDouble(JsonValue v) =>
        v.TryGetValue(out double d) ? d
        : v.TryGetValue(out long l) ? l
        : v.TryGetValue(out int i) ? i
        : double.Parse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);

    private static string Format(double? value) => value is double d ? d.ToString("F1", CultureInfo.InvariantCulture) : "—";

    private static string Escape(string s) => s.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
