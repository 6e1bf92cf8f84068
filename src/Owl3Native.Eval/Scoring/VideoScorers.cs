using System.Globalization;
using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Scoring;

/// <summary>NExT-QA multiple choice (spec/EVAL.md §4.14, §9 #14).</summary>
public static class NextQaScorer
{
    /// <summary>The seven scored types in the reference's order (TP is merged into TN).</summary>
    public static readonly IReadOnlyList<string> Types = ["CW", "CH", "TN", "TC", "DC", "DL", "DO"];

    /// <summary>
    /// Metrics: <c>Accuracy</c> = 100 × correct / all and <c>category</c> with CW, CH, TN, TC, DC, DL, DO and the families
    /// C (CW+CH), T (TN+TC), D (DC+DL+DO), each 100 × correct / count. Prediction = L3
    /// (<see cref="LetterExtractors.FirstChar"/>), answer = lower-case letter. Every dataset record needs a prediction.
    /// The reference divides by zero when a type has no question; this port reports that entry as <c>null</c> (the
    /// other entries stay valid). An unknown type is an error. <paramref name="protocol"/> changes nothing.
    /// </summary>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<NextQaGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        _ = protocol;
        var joined = Predictions.Join(predictions, groundTruth);
        Predictions.RequireComplete(task, joined, groundTruth);
        var acc = Types.ToDictionary(t => t, _ => 0, StringComparer.Ordinal);
        var cnt = Types.ToDictionary(t => t, _ => 0, StringComparer.Ordinal);
        foreach (var j in joined)
        {
            string type = j.Truth.Type == "TP" ? "TN" : j.Truth.Type;
            if (!cnt.ContainsKey(type))
                throw new ScoringException($"{task}: record '{j.Truth.Key}' has type '{j.Truth.Type}', expected one of CW, CH, TN, TP, TC, DC, DL, DO");
            if (j.Truth.Answer is < 0 or > 25) throw new ScoringException($"{task}: record '{j.Truth.Key}' has answer {j.Truth.Answer}, expected an option number");
            string answer = ((char)('a' + j.Truth.Answer)).ToString();
            cnt[type]++;
            if (LetterExtractors.FirstChar(j.Prediction.RawModelAnswer) == answer) acc[type]++;
        }
        var category = new JsonObject();
        foreach (string t in Types) category[t] = MetricMath.Percent(acc[t], cnt[t]);
        foreach (string family in new[] { "C", "T", "D" })
        {
            var members = Types.Where(t => t[0] == family[0]).ToArray();
            category[family] = MetricMath.Percent(members.Sum(t => acc[t]), members.Sum(t => cnt[t]));
        }
        var metrics = new JsonObject
        {
            ["Accuracy"] = MetricMath.Percent(acc.Values.Sum(), cnt.Values.Sum()),
            ["category"] = category,
        };
        return new TaskScore(task, joined.Count, metrics);
    }
}

/// <summary>MVBench and LongVideoBench (spec/EVAL.md §4.15, §4.17, §9 #15): the L4 check.</summary>
public static class MvBenchScorer
{
    /// <summary>
    /// The reference's MVBench ground truth <c>"{letter}. {answer}"</c>, letter = the candidate equal to the answer (the
    /// <em>last</em> such candidate: the reference's loop does not break), <c>@</c> when none is.
    /// </summary>
    public static string GroundTruthText(MvBenchGroundTruth gt)
    {
        ArgumentNullException.ThrowIfNull(gt);
        int idx = -1;
        for (int i = 0; i < gt.Candidates.Count; i++)
            if (gt.Candidates[i] == gt.Answer) idx = i;
        return $"{(char)('A' + idx)}. {gt.Answer}";
    }

    /// <summary>
    /// MVBench metrics: one entry per task (config name, in first-seen order) and <c>Accuracy_overall</c>, each 100 ×
    /// mean of <see cref="LetterExtractors.OptionOrContent"/>. <see cref="ScoreProtocol.Original"/> uses the reference's
    /// check (an empty answer is always right, a leading article "a" reads as option A, a wrong letter followed by the
    /// right text counts); <see cref="ScoreProtocol.Official"/> the Ask-Anything <c>check_ans</c>.
    /// </summary>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<MvBenchGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        var joined = Predictions.Join(predictions, groundTruth);
        var perTask = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        var order = new List<string>();
        var all = new List<double>();
        foreach (var j in joined)
        {
            string name = string.IsNullOrEmpty(j.Truth.Task) ? throw new ScoringException($"{task}: record '{j.Truth.Key}' has no task name") : j.Truth.Task;
            double ok = LetterExtractors.OptionOrContent(j.Prediction.RawModelAnswer, GroundTruthText(j.Truth), protocol) ? 1 : 0;
            if (!perTask.TryGetValue(name, out var list)) { perTask[name] = list = []; order.Add(name); }
            list.Add(ok);
            all.Add(ok);
        }
        var metrics = new JsonObject();
        foreach (string name in order) metrics[name] = MetricMath.Number(MetricMath.NumpyMean(perTask[name]) * 100);
        metrics["Accuracy_overall"] = MetricMath.Number(MetricMath.NumpyMean(all) * 100);
        return new TaskScore(task, joined.Count, metrics);
    }

    /// <summary>
    /// The reference's LongVideoBench ground truth <c>"{letter}. {candidates[correct_choice]}"</c>; without
    /// <c>correct_choice</c> it builds <c>"@. {candidates[0]}"</c>.
    /// </summary>
    public static string GroundTruthText(LongVideoBenchGroundTruth gt)
    {
        ArgumentNullException.ThrowIfNull(gt);
        int cc = gt.CorrectChoice ?? -1;
        int pick = gt.CorrectChoice ?? 0;
        if (pick < 0 || pick >= gt.Candidates.Count)
            throw new ScoringException($"long_video_bench: record '{gt.Key}' has correct_choice {gt.CorrectChoice}, expected 0-{gt.Candidates.Count - 1}");
        return $"{(char)('A' + cc)}. {gt.Candidates[pick]}";
    }

    /// <summary>
    /// LongVideoBench: <c>Accuracy_overall</c> = 100 × mean of <see cref="LetterExtractors.OptionOrContent"/> (same
    /// protocols as MVBench; the official benchmark scores differently again, which spec/EVAL.md does not describe) —
    /// the only number the reference returns. When the records carry <c>duration_group</c>, this port adds
    /// <c>Accuracy_by_duration_group</c> (<c>{"15": …, "60": …}</c>, groups in ascending order) as the benchmark's own
    /// papers report it.
    /// </summary>
    public static TaskScore ScoreLongVideoBench(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<LongVideoBenchGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        var joined = Predictions.Join(predictions, groundTruth);
        var rows = joined.Select(j => (Group: j.Truth.DurationGroup,
            Ok: LetterExtractors.OptionOrContent(j.Prediction.RawModelAnswer, GroundTruthText(j.Truth), protocol) ? 1.0 : 0.0)).ToList();
        var metrics = new JsonObject { ["Accuracy_overall"] = MetricMath.Number(MetricMath.NumpyMean(rows.Select(r => r.Ok).ToList()) * 100) };
        if (rows.Any(r => r.Group is not null))
        {
            var groups = new JsonObject();
            foreach (var g in rows.Where(r => r.Group is not null).GroupBy(r => r.Group!.Value).OrderBy(g => g.Key))
                groups[g.Key.ToString(CultureInfo.InvariantCulture)] = MetricMath.Number(MetricMath.NumpyMean(g.Select(r => r.Ok).ToList()) * 100);
            metrics["Accuracy_by_duration_group"] = groups;
        }
        return new TaskScore(task, joined.Count, metrics);
    }
}

/// <summary>Video-MME without subtitles (spec/EVAL.md §4.16, §9 #13).</summary>
public static class VideoMmeScorer
{
    /// <summary>The three durations.</summary>
    public static readonly IReadOnlyList<string> Durations = ["short", "medium", "long"];

    /// <summary>The six domains (<c>CATEGORIES</c>).</summary>
    public static readonly IReadOnlyList<string> Domains =
        ["Knowledge", "Film & Television", "Sports Competition", "Artistic Performance", "Life Record", "Multilingual"];

    /// <summary>The 30 sub-categories.</summary>
    public static readonly IReadOnlyList<string> SubCategories =
    [
        "Humanity & History", "Literature & Art", "Biology & Medicine", "Finance & Commerce", "Astronomy", "Geography",
        "Law", "Life Tip", "Technology", "Animation", "Movie & TV Show", "Documentary", "News Report", "Esports",
        "Basketball", "Football", "Athletics", "Other Sports", "Stage Play", "Magic Show", "Variety Show", "Acrobatics",
        "Handicraft", "Food", "Fashion", "Daily Life", "Travel", "Pet & Animal", "Exercise", "Multilingual",
    ];

    /// <summary>The 12 task types (<c>TASK_CATEGORIES</c>).</summary>
    public static readonly IReadOnlyList<string> TaskTypes =
    [
        "Temporal Perception", "Spatial Perception", "Attribute Perception", "Action Recognition", "Object Recognition",
        "OCR Problems", "Counting Problem", "Temporal Reasoning", "Spatial Reasoning", "Action Reasoning",
        "Object Reasoning", "Information Synopsis",
    ];

    /// <summary>The reference's percent string <c>f"{x: .1f}%"</c> (space sign flag, one decimal, Python rounding).</summary>
    public static string FormatPercent(double value) => (double.IsNegative(value) ? "" : " ") + Py.FormatFixed(value, 1) + "%";

    /// <summary>
    /// Metrics as the reference returns them, parsed to numbers: <c>Duration</c> (always an empty object), <c>short</c>,
    /// <c>medium</c>, <c>long</c>, <c>Accuracy Overall</c> — each the reference's <c>" xx.x%"</c> string (one decimal;
    /// 0 for a duration with no question, as the reference prints). The breakdowns the reference only prints are added
    /// under the headings it prints them with: <c>Video Domains</c>, <c>Video Sub Categories</c>, <c>Task Categories</c>
    /// (whole dataset, same formatting). Extraction is L2 (<see cref="LetterExtractors.VideoMme"/>, protocol-dependent).
    /// A duration, domain, sub-category or task type outside the fixed lists is an error, as in the reference.
    /// </summary>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<VideoMmeGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        var joined = Predictions.Join(predictions, groundTruth);
        var durC = new Counter(Durations); var domC = new Counter(Domains); var subC = new Counter(SubCategories); var typeC = new Counter(TaskTypes);
        foreach (var j in joined)
        {
            VideoMmeGroundTruth gt = j.Truth;
            Check(task, gt, "duration", gt.Duration, Durations);
            Check(task, gt, "domain", gt.Domain, Domains);
            Check(task, gt, "sub_category", gt.SubCategory, SubCategories);
            Check(task, gt, "task_type", gt.TaskType, TaskTypes);
            bool ok = LetterExtractors.VideoMme(j.Prediction.RawModelAnswer, protocol) == gt.Answer;
            durC.Add(gt.Duration, ok); domC.Add(gt.Domain, ok); subC.Add(gt.SubCategory, ok); typeC.Add(gt.TaskType, ok);
        }
        var metrics = new JsonObject { ["Duration"] = new JsonObject() };
        foreach (string d in Durations) metrics[d] = Printed(durC.Correct[d], durC.Answered[d]);
        metrics["Accuracy Overall"] = Printed(durC.Correct.Values.Sum(), durC.Answered.Values.Sum());
        metrics["Video Domains"] = domC.ToJson(Printed);
        metrics["Video Sub Categories"] = subC.ToJson(Printed);
        metrics["Task Categories"] = typeC.ToJson(Printed);
        return new TaskScore(task, joined.Count, metrics);
    }

    private static JsonNode Printed(int correct, int answered) =>
        JsonValue.Create(MetricMath.ParsePercent(FormatPercent(answered > 0 ? 100.0 * correct / answered : 0)));

    private static void Check(string task, VideoMmeGroundTruth gt, string field, string value, IReadOnlyList<string> allowed)
    {
        if (value is null || !allowed.Contains(value, StringComparer.Ordinal))
            throw new ScoringException($"{task}: record '{gt.Key}' has {field} '{value}', which is not in the reference's fixed list");
    }

    private sealed class Counter(IReadOnlyList<string> names)
    {
        public readonly Dictionary<string, int> Correct = names.ToDictionary(n => n, _ => 0, StringComparer.Ordinal);
        public readonly Dictionary<string, int> Answered = names.ToDictionary(n => n, _ => 0, StringComparer.Ordinal);

        public void Add(string name, bool ok)
        {
            Answered[name]++;
            if (ok) Correct[name]++;
        }

        public JsonObject ToJson(Func<int, int, JsonNode> value)
        {
            var o = new JsonObject();
            foreach (string n in names) o[n] = value(Correct[n], Answered[n]);
            return o;
        }
    }
}
