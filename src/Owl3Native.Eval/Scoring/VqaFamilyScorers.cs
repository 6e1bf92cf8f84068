using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Scoring;

/// <summary>
/// VQA accuracy for OK-VQA and TextVQA (spec/EVAL.md §4.2, §4.3; the official VQA evaluator [VQA], LAVIS copy).
/// </summary>
public static class VqaAccuracy
{
    /// <summary>
    /// One question's accuracy: the mean over the leave-one-out subsets (by position) of
    /// <c>min(1, #{j ≠ i : g_j = r} / 3)</c>. With m matching answers out of 10: 0, 0.3, 0.6, 0.9, then 1.
    /// </summary>
    /// <param name="prediction">The already normalised prediction r.</param>
    /// <param name="answers">The already processed ground-truth answers (at least one).</param>
    public static double QuestionAccuracy(string prediction, IReadOnlyList<string> answers)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(answers);
        if (answers.Count == 0) throw new ScoringException("a VQA question needs at least one ground-truth answer");
        int m = answers.Count(a => string.Equals(a, prediction, StringComparison.Ordinal));
        double sum = 0;
        foreach (string a in answers)
        {
            int others = m - (string.Equals(a, prediction, StringComparison.Ordinal) ? 1 : 0);
            sum += Math.Min(1.0, others / 3.0);
        }
        return sum / answers.Count;
    }

    /// <summary>
    /// Scores <c>okvqa_val</c> / <c>textvqa_val_ocr_v2</c>. Metrics: <c>overall</c>, <c>perQuestionType</c>,
    /// <c>perAnswerType</c>, each <c>round(100 · mean, 2)</c> (Python rounding). Every ground-truth question needs a
    /// prediction and every prediction a question (the reference asserts equal id sets).
    /// <para><see cref="ScoreProtocol.Original"/>: prediction = N1(trim(raw)); ground-truth answers get N1's
    /// punctuation step only, and only when not all identical (§9 #8).</para>
    /// <para><see cref="ScoreProtocol.Official"/>: for TextVQA the M4C evaluator — N2 (EvalAI) on the prediction and on
    /// every ground-truth answer, same min(#/3, 1) average; for OK-VQA the official evaluator is the one the reference
    /// uses, so nothing changes.</para>
    /// </summary>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<VqaGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        ArgumentNullException.ThrowIfNull(task);
        var joined = Predictions.Join(predictions, groundTruth);
        Predictions.RequireComplete(task, joined, groundTruth);
        bool m4c = protocol == ScoreProtocol.Official && task.StartsWith("textvqa", StringComparison.Ordinal);

        var all = new List<double>();
        var byQuestionType = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        var byAnswerType = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        var qtOrder = new List<string>();
        var atOrder = new List<string>();
        foreach (var j in joined)
        {
            VqaGroundTruth gt = j.Truth;
            if (gt.Answers is null || gt.Answers.Count == 0)
                throw new ScoringException($"{task}: question '{gt.Key}' has no ground-truth answers");
            string raw = AnswerPostProcess.Trim(j.Prediction.RawModelAnswer);
            double acc = m4c
                ? QuestionAccuracy(VqaNormalizer.EvalAi(raw), gt.Answers.Select(VqaNormalizer.EvalAi).ToArray())
                : QuestionAccuracy(VqaNormalizer.VqaEval(raw), VqaNormalizer.VqaEvalGroundTruth(gt.Answers));
            all.Add(acc);
            Add(byQuestionType, qtOrder, gt.QuestionType ?? "null", acc);
            Add(byAnswerType, atOrder, gt.AnswerType ?? "null", acc);
        }

        var perQuestionType = new JsonObject();
        foreach (string k in qtOrder) perQuestionType[k] = Rounded(byQuestionType[k]);
        var perAnswerType = new JsonObject();
        foreach (string k in atOrder) perAnswerType[k] = Rounded(byAnswerType[k]);
        var metrics = new JsonObject
        {
            ["overall"] = Rounded(all),
            ["perQuestionType"] = perQuestionType,
            ["perAnswerType"] = perAnswerType,
        };
        return new TaskScore(task, joined.Count, metrics);
    }

    private static void Add(Dictionary<string, List<double>> groups, List<string> order, string key, double value)
    {
        if (!groups.TryGetValue(key, out var list))
        {
            groups[key] = list = [];
            order.Add(key);
        }
        list.Add(value);
    }

    // round(100*float(sum(acc))/len(acc), 2)
    private static JsonNode? Rounded(List<double> values)
    {
        if (values.Count == 0) return null;
        double sum = 0;
        foreach (double v in values) sum += v;
        return JsonValue.Create(Py.Round(100 * sum / values.Count, 2));
    }
}

/// <summary>GQA testdev-balanced (spec/EVAL.md §4.5): exact match after the Qwen-VL heuristic, plus the EvalAI variant.</summary>
public static class GqaScorer
{
    /// <summary>
    /// Metrics: <c>Accuracy</c> = 100 × mean(<c>trim(lower(GqaHeuristic(raw))) == trim(lower(answer))</c>) and
    /// <c>EvalAI Post Process Accuracy</c> = the same with N2 (EvalAI) in place of the heuristic. Which of the two the
    /// README's number is, is not stated; both are always reported. No official deviation is defined (the official GQA
    /// metric is exact-match accuracy), so <paramref name="protocol"/> changes nothing.
    /// </summary>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<AnswerGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        _ = protocol;
        var joined = Predictions.Join(predictions, groundTruth);
        int heuristic = 0, evalAi = 0;
        foreach (var j in joined)
        {
            string gt = Py.Lower(Py.Strip(j.Truth.Answer ?? throw new ScoringException($"{task}: record '{j.Truth.Key}' has no answer")));
            string raw = j.Prediction.RawModelAnswer;
            if (ExactMatch(GqaHeuristic.Apply(raw), gt)) heuristic++;
            if (ExactMatch(VqaNormalizer.EvalAi(raw), gt)) evalAi++;
        }
        var metrics = new JsonObject
        {
            ["Accuracy"] = MetricMath.FractionPercent(heuristic, joined.Count),
            ["EvalAI Post Process Accuracy"] = MetricMath.FractionPercent(evalAi, joined.Count),
        };
        return new TaskScore(task, joined.Count, metrics);
    }

    /// <summary><c>answer.strip().lower() == annotation.strip().lower()</c>.</summary>
    public static bool ExactMatch(string answer, string annotation) =>
        string.Equals(Py.Lower(Py.Strip(answer)), Py.Lower(Py.Strip(annotation)), StringComparison.Ordinal);
}

/// <summary>POPE (spec/EVAL.md §4.6): yes/no hallucination probing.</summary>
public static class PopeScorer
{
    /// <summary>
    /// The reference's label of an answer: trim, cut at the first <c>.</c> then <c>,</c>; then 1 for <c>yes</c>, 0 for
    /// <c>no</c> (after trim/lower), 2 ("other") for anything else.
    /// </summary>
    public static int OriginalLabel(string raw)
    {
        string a = Py.Lower(Py.Strip(AnswerPostProcess.Pope(raw)));
        return a == "yes" ? 1 : a == "no" ? 0 : 2;
    }

    /// <summary>
    /// The official-style parser ([POPE-OFF], LLaVA <c>eval_pope</c>): keep the text before the first <c>.</c>, delete
    /// commas, split on single spaces; 0 ("no") if a word is <c>No</c>, <c>no</c> or <c>not</c>, else 1 ("yes"). Every
    /// answer gets a label.
    /// </summary>
    public static int OfficialLabel(string raw)
    {
        ArgumentNullException.ThrowIfNull(raw);
        string text = Py.Before(raw, ".").Replace(",", "", StringComparison.Ordinal);
        string[] words = text.Split(' ');
        return words.Contains("No", StringComparer.Ordinal) || words.Contains("not", StringComparer.Ordinal)
            || words.Contains("no", StringComparer.Ordinal) ? 0 : 1;
    }

    /// <summary>
    /// Scores <c>pope_random</c> / <c>pope_popular</c> / <c>pope_adversarial</c>. Metrics (percent): <c>Accuracy</c>,
    /// <c>Precision</c>, <c>Recall</c>, <c>F1</c>, <c>Yes Proportion</c>. The ground truth must be <c>yes</c> or <c>no</c>
    /// (after trim/lower), as the reference aborts otherwise.
    /// <para><see cref="ScoreProtocol.Original"/>: labels from <see cref="OriginalLabel"/>; "other" answers are left out of
    /// the confusion matrix (so out of Accuracy, Precision, Recall and F1) but count in the denominator of the yes
    /// proportion (§9 #11).</para>
    /// <para><see cref="ScoreProtocol.Official"/>: labels from <see cref="OfficialLabel"/>; every answer counts.</para>
    /// A ratio with a zero denominator (e.g. no "yes" prediction) is <c>null</c>; the reference raises ZeroDivisionError.
    /// </summary>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<AnswerGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        var joined = Predictions.Join(predictions, groundTruth);
        int tp = 0, fp = 0, fn = 0, tn = 0, yes = 0;
        foreach (var j in joined)
        {
            string gt = Py.Lower(Py.Strip(j.Truth.Answer ?? ""));
            int label = gt == "yes" ? 1 : gt == "no" ? 0
                : throw new ScoringException($"{task}: record '{j.Truth.Key}' has answer '{j.Truth.Answer}', expected 'yes' or 'no'");
            string raw = j.Prediction.RawModelAnswer;
            int pred = protocol == ScoreProtocol.Official ? OfficialLabel(raw) : OriginalLabel(raw);
            if (pred == 1) yes++;
            if (pred == 1 && label == 1) tp++;
            else if (pred == 1 && label == 0) fp++;
            else if (pred == 0 && label == 1) fn++;
            else if (pred == 0 && label == 0) tn++;
        }
        double? precision = tp + fp == 0 ? null : (double)tp / (tp + fp);
        double? recall = tp + fn == 0 ? null : (double)tp / (tp + fn);
        double? f1 = null;
        if (precision is double p && recall is double r && p + r != 0)
            f1 = protocol == ScoreProtocol.Official ? 2 * p * r / (p + r) : 2 * (p * r) / (p + r);
        var metrics = new JsonObject
        {
            ["Accuracy"] = MetricMath.FractionPercent(tp + tn, tp + tn + fp + fn),
            ["Precision"] = precision is double pv ? JsonValue.Create(pv * 100) : null,
            ["Recall"] = recall is double rv ? JsonValue.Create(rv * 100) : null,
            ["F1"] = f1 is double fv ? JsonValue.Create(fv * 100) : null,
            ["Yes Proportion"] = MetricMath.FractionPercent(yes, joined.Count),
        };
        return new TaskScore(task, joined.Count, metrics);
    }
}
