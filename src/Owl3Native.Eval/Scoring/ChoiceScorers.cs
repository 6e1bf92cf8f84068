using System.Globalization;
using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Scoring;

/// <summary>AI2D (spec/EVAL.md §4.9, §9 #22).</summary>
public static class Ai2dScorer
{
    private const string Letters = "ABCDE";

    /// <summary>
    /// The reference's ground truth: the letter <c>A + int(answer)</c> (<paramref name="useNumber"/> false, the plan's
    /// setting) or the <c>answer</c> digit itself (<paramref name="useNumber"/> true).
    /// </summary>
    public static string GroundTruthLetter(string answer, bool useNumber = false)
    {
        ArgumentNullException.ThrowIfNull(answer);
        if (useNumber) return answer;
        if (!int.TryParse(Py.Strip(answer), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int i) || i < 0 || i >= Letters.Length)
            throw new ScoringException($"ai2d: answer '{answer}' is not an option number 0-{Letters.Length - 1}");
        return Letters[i].ToString();
    }

    /// <summary>
    /// <c>Accuracy</c> = 100 × mean(<c>pred[0] == gt[0]</c>): the first character of the raw output, case-sensitive, no
    /// extraction (so <c>b</c> and <c>(B)</c> are wrong, <c>B. 42</c> right). The reference raises on an empty output;
    /// this counts it wrong. No official alternative is defined, so <paramref name="protocol"/> changes nothing.
    /// </summary>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<AnswerGroundTruth> groundTruth,
        bool useNumber = false, ScoreProtocol protocol = ScoreProtocol.Original)
    {
        _ = protocol;
        var joined = Predictions.Join(predictions, groundTruth);
        int correct = 0;
        foreach (var j in joined)
        {
            string gt = GroundTruthLetter(j.Truth.Answer, useNumber);
            string first = Py.FirstCodePoint(j.Prediction.RawModelAnswer);
            if (first.Length > 0 && first == Py.FirstCodePoint(gt)) correct++;
        }
        return new TaskScore(task, joined.Count, new JsonObject { ["Accuracy"] = MetricMath.FractionPercent(correct, joined.Count) });
    }
}

/// <summary>NLVR2 (spec/EVAL.md §4.10).</summary>
public static class Nlvr2Scorer
{
    /// <summary>The reference's ground truth: <c>no</c> if the <c>answer</c> column is the string <c>'False'</c>, else <c>yes</c>.</summary>
    public static string GroundTruth(string answer) => answer == "False" ? "no" : "yes";

    /// <summary>The reference's prediction: <c>pred.split('.')[0].split(',')[0].lower().strip()</c>.</summary>
    public static string Prediction(string raw) => Py.Strip(Py.Lower(AnswerPostProcess.CutAtPeriodThenComma(raw)));

    /// <summary><c>Accuracy</c> = 100 × mean(prediction == ground truth). <paramref name="protocol"/> changes nothing.</summary>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<AnswerGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        _ = protocol;
        var joined = Predictions.Join(predictions, groundTruth);
        int correct = joined.Count(j => Prediction(j.Prediction.RawModelAnswer) == GroundTruth(j.Truth.Answer));
        return new TaskScore(task, joined.Count, new JsonObject { ["Accuracy"] = MetricMath.FractionPercent(correct, joined.Count) });
    }
}

/// <summary>Q-Bench2 (spec/EVAL.md §4.11).</summary>
public static class QBench2Scorer
{
    private const string Letters = "ABCDE";

    /// <summary>
    /// The reference's ground-truth letter: choices = options that are not <c>'N/A'</c>; the letter of the <em>first</em>
    /// choice whose text equals <c>choices[correct_choice − 'A']</c>.
    /// </summary>
    public static string GroundTruthLetter(QBench2GroundTruth gt)
    {
        ArgumentNullException.ThrowIfNull(gt);
        var choices = gt.Options.Where(o => o != "N/A").ToArray();
        string cc = (gt.CorrectChoice ?? "").Trim(); // as the loader reads it (surrounding spaces crash the reference)
        int idx = cc.Length == 1 ? cc[0] - 'A' : -1;
        if (idx < 0 || idx >= choices.Length)
            throw new ScoringException($"q_bench2: record '{gt.Key}' has correct_choice '{cc}', expected a letter within its {choices.Length} options");
        int first = Array.FindIndex(choices, c => c == choices[idx]);
        if (first >= Letters.Length) throw new ScoringException($"q_bench2: record '{gt.Key}' has more than {Letters.Length} options");
        return Letters[first].ToString();
    }

    /// <summary>Names of <c>question_type</c> 0–2 (the reference's Q-Bench1 branch).</summary>
    public static readonly IReadOnlyList<string> QuestionTypes = ["Yes/No", "What", "How"];

    /// <summary>Names of <c>question_concern</c> 0–3 (the reference's Q-Bench1 branch).</summary>
    public static readonly IReadOnlyList<string> QuestionConcerns = ["Distortion", "Other", "IC-Distortion", "IC-Other"];

    /// <summary>
    /// <c>Overall</c> = 100 × mean(L1(raw) == ground-truth letter), L1 = <see cref="LetterExtractors.RegexEtoA(string)"/>
    /// with fallback <c>X</c> — the only number the reference returns for <c>q_bench2</c>. When the records carry
    /// <c>question_type</c> / <c>question_concern</c>, this port adds the breakdowns of the reference's (for Q-Bench2
    /// unreachable) Q-Bench1 branch, nested as <c>question_type</c> and <c>question_concern</c> objects (an empty group
    /// is <c>null</c>). <paramref name="protocol"/> changes nothing.
    /// </summary>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<QBench2GroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        _ = protocol;
        var joined = Predictions.Join(predictions, groundTruth);
        var ok = joined.Select(j => (j.Truth, Ok: LetterExtractors.RegexEtoA(j.Prediction.RawModelAnswer) == GroundTruthLetter(j.Truth))).ToList();
        var metrics = new JsonObject { ["Overall"] = MetricMath.FractionPercent(ok.Count(x => x.Ok), ok.Count) };
        if (ok.Any(x => x.Truth.QuestionType is not null)) metrics["question_type"] = Breakdown(ok, x => x.QuestionType, QuestionTypes);
        if (ok.Any(x => x.Truth.QuestionConcern is not null)) metrics["question_concern"] = Breakdown(ok, x => x.QuestionConcern, QuestionConcerns);
        return new TaskScore(task, joined.Count, metrics);
    }

    private static JsonObject Breakdown(List<(QBench2GroundTruth Truth, bool Ok)> rows, Func<QBench2GroundTruth, int?> field, IReadOnlyList<string> names)
    {
        var o = new JsonObject();
        for (int i = 0; i < names.Count; i++)
        {
            var subset = rows.Where(r => field(r.Truth) == i).ToList();
            o[names[i]] = MetricMath.FractionPercent(subset.Count(r => r.Ok), subset.Count);
        }
        return o;
    }
}

/// <summary>MI-Bench (spec/EVAL.md §4.13; defined in the reference, not in its plan).</summary>
public static class MiBenchScorer
{
    /// <summary>The two files (top-level categories) the reference reads, in its order.</summary>
    public static readonly IReadOnlyList<string> TopCategories = ["multi_image_instruction", "multimodal_knowledge_seeking"];

    /// <summary>
    /// Per record id: correct iff for every rotated copy <c>lower(pred)[0] == lower(gt letter)</c> (an empty output, on
    /// which the reference raises, is wrong). Metrics: <c>Overall-Accuracy</c> and <c>Category</c>
    /// <c>{top: {category: accuracy}}</c>, category and top taken from the id's first copy.
    /// </summary>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<MiBenchGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        _ = protocol;
        var joined = Predictions.Join(predictions, groundTruth);
        var byId = new Dictionary<string, List<Joined<MiBenchGroundTruth>>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var j in joined)
        {
            if (!byId.TryGetValue(j.Truth.Id, out var list)) { byId[j.Truth.Id] = list = []; order.Add(j.Truth.Id); }
            list.Add(j);
        }
        var categories = TopCategories.ToDictionary(t => t, _ => new List<(string Category, bool Ok)>(), StringComparer.Ordinal);
        int correct = 0;
        foreach (string id in order)
        {
            var copies = byId[id];
            MiBenchGroundTruth first = copies[0].Truth;
            if (!categories.TryGetValue(first.CategoryTop, out var top))
                throw new ScoringException($"{task}: record '{first.Key}' has top category '{first.CategoryTop}', expected one of {string.Join(", ", TopCategories)}");
            bool ok = copies.All(c =>
            {
                string p = Py.FirstCodePoint(Py.Lower(c.Prediction.RawModelAnswer));
                return p.Length > 0 && p == Py.Lower(c.Truth.AnswerLetter);
            });
            top.Add((first.Category, ok));
            if (ok) correct++;
        }
        var category = new JsonObject();
        foreach (string t in TopCategories)
        {
            var inner = new JsonObject();
            foreach (var g in categories[t].GroupBy(x => x.Category, StringComparer.Ordinal))
                inner[g.Key] = MetricMath.FractionPercent(g.Count(x => x.Ok), g.Count());
            category[t] = inner;
        }
        var metrics = new JsonObject
        {
            ["Overall-Accuracy"] = MetricMath.FractionPercent(correct, order.Count),
            ["Category"] = category,
        };
        return new TaskScore(task, joined.Count, metrics);
    }
}
