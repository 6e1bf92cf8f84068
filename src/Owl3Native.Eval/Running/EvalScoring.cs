using System.Text.Json;
using System.Text.Json.Nodes;
using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;
using Owl3Native.Eval.Scoring;

namespace Owl3Native.Eval.Running;

/// <summary>Scoring as the commands use it: predictions of a loaded dataset → the metrics JSON and Markdown.</summary>
public static class EvalScoring
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>`{"task", "metrics", "count"}` (numbers in percent) and a Markdown table beside the reported scores; null when
    /// the task has no local metric (submission only).</summary>
    public static (string Json, string Markdown)? Render(EvalDataset dataset, IReadOnlyList<PredictionLine> predictions, ScoreProtocol protocol)
    {
        var answers = Answers(predictions);
        // Scorers join on key and fall back to index; a limited or partial run is scored on the records it answered.
        var records = dataset.Records;
        if (answers.Length < records.Count && answers.All(a => a.Index is not null))
        {
            var answered = answers.Select(a => a.Index!.Value).ToHashSet();
            records = records.Where(r => answered.Contains(r.Index)).ToArray();
        }
        var score = TaskScoring.Score(dataset with { Records = records }, answers.Length == records.Count ? Reindex(answers, records) : answers, protocol);
        if (score is null) return null;
        var json = new JsonObject { ["task"] = score.Task, ["metrics"] = score.Metrics.DeepClone(), ["count"] = score.Count };
        return (json.ToJsonString(Indented), ScoreReport.ScoreMarkdown(score, ReportedScores.For(score.Task)));
    }

    /// <summary>
    /// The submission file of a task without a local score (spec/EVAL.md §1.5): VQAv2 and VizWiz
    /// `&lt;ds&gt;_submission.json` (EvalAI), MM-Vet `&lt;ds&gt;_submit.json`, MMBench test `&lt;ds&gt;_submission.xlsx`; written
    /// atomically into <paramref name="outDir"/>. Null for a task that has a local score.
    /// </summary>
    public static string? WriteSubmission(EvalDataset dataset, IReadOnlyList<PredictionLine> predictions, string outDir, ScoreProtocol protocol)
    {
        string task = dataset.Task.DsName;
        if (!BenchmarkScorer.IsSubmissionOnly(task)) return null;
        var answers = Answers(predictions);
        var truth = TaskScoring.GroundTruth(dataset);
        var plain = new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        string path;
        switch (task)
        {
            case "vqav2_test":
                path = Path.Combine(outDir, $"{task}_submission.json");
                AtomicFile.WriteAllText(path, Submissions.VqaV2(answers, truth.Cast<AnswerGroundTruth>().ToArray()).ToJsonString(plain));
                break;
            case "vizwiz_test":
                path = Path.Combine(outDir, $"{task}_submission.json");
                AtomicFile.WriteAllText(path, Submissions.VizWiz(answers, truth.Cast<AnswerGroundTruth>().ToArray()).ToJsonString(plain));
                break;
            case "mmvet":
                path = Path.Combine(outDir, $"{task}_submit.json");
                AtomicFile.WriteAllText(path, Submissions.MmVet(answers, truth.Cast<AnswerGroundTruth>().ToArray()).ToJsonString(plain));
                break;
            default: // MMBench test sets
                path = Path.Combine(outDir, $"{task}_submission.xlsx");
                var rows = Submissions.MmBench(answers, truth.Cast<MmBenchGroundTruth>().ToArray(), protocol);
                string tmp = $"{path}.{Environment.ProcessId}.tmp";
                using (var stream = File.Create(tmp)) Submissions.WriteMmBenchXlsx(stream, rows);
                File.Move(tmp, path, overwrite: true);
                break;
        }
        return path;
    }

    /// <summary>A run's lines as the scorers take them (an index of −1 means none).</summary>
    private static ScoredAnswer[] Answers(IReadOnlyList<PredictionLine> predictions) =>
        predictions.Select(p => new ScoredAnswer(p.Key, p.Index >= 0 ? p.Index : null, p.RawModelAnswer)).ToArray();

    /// <summary>Predictions of a subset keep their dataset indices; scorers index ground truth by position, so map them.</summary>
    private static ScoredAnswer[] Reindex(ScoredAnswer[] answers, IReadOnlyList<EvalRecord> records)
    {
        var position = new Dictionary<int, int>();
        for (int i = 0; i < records.Count; i++) position[records[i].Index] = i;
        return answers.Select(a => a.Index is { } ix && position.TryGetValue(ix, out int p) ? a with { Index = p } : a).ToArray();
    }

    /// <summary>The plan entry of a task: from the run's plan when one is known (its options matter, e.g. AI2D's use_number), else the built-in defaults.</summary>
    public static PlanEntry Entry(string task, string? plan)
    {
        if (plan is not null && PlanLoader.Load(plan, new PlanLoadOptions(SkipUndefined: true)).Tasks.FirstOrDefault(t => t.DsName == task) is { } entry) return entry;
        return PlanEntry.ForDataset(task);
    }
}
