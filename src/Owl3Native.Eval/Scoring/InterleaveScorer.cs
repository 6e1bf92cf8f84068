using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Scoring;

/// <summary>LLaVA-NeXT-Interleave-Bench (spec/EVAL.md §4.12, §9 #18): <c>out_domain</c>, <c>in_domain</c>, <c>blink</c>.</summary>
public static class InterleaveScorer
{
    /// <summary>Sub-datasets scored by the reference's single-normalisation "image choice" routine.</summary>
    public static readonly IReadOnlyList<string> ImageChoiceDatasets = ["recipeqa-RecipeQA_VisualCloze", "RecipeQA_ImageCoherence", "COMICS_Panel"];

    /// <summary>The <c>in_domain</c> categories and their sub-datasets, in the reference's order (<c>nlrv2</c> sic).</summary>
    public static readonly IReadOnlyList<KeyValuePair<string, string[]>> InDomainCategories =
    [
        new("spot_the_diff", ["Spot-the-Diff", "Birds-to-Words", "CLEVR-Change"]),
        new("image_edit_instruct", ["IEdit", "HQ-Edit", "MagicBrush"]),
        new("visual_story_telling", ["AESOP", "FlintstonesSV", "PororoSV", "VIST"]),
        new("visual_cloze", ["COMICS_Dialogue", "RecipeQA_VisualCloze"]),
        new("text_rich_vqa", ["WebQA", "TQA", "OCR-VQA", "DocVQA"]),
        new("multi_image_vqa", ["MIT-States_StateCoherence", "MIT-States_PropertyCoherence", "VISION", "RecipeQA_ImageCoherence"]),
        new("puzzle", ["RAVEN"]),
        new("nlrv2", ["NLVR2_Mantis"]),
        new("qbench", ["QBench"]),
    ];

    /// <summary>Predictions are cut to this many characters before ROUGE.</summary>
    public const int RougeMaxPredictionChars = 512;

    /// <summary>
    /// One open-ended item's ROUGE-L F: N3 on both sides; an empty prediction scores 0; the prediction is cut to 512
    /// characters; <see cref="RougeL.F"/>. Returns <see langword="null"/> for an empty (normalised) ground truth, which the
    /// reference skips.
    /// </summary>
    public static double? OpenEndedScore(string prediction, string groundTruth)
    {
        string gt = VqaNormalizer.Interleave(groundTruth);
        if (gt.Length == 0) return null;
        string pred = VqaNormalizer.Interleave(prediction);
        if (pred.Length == 0) return 0.0;
        return RougeL.F(Py.TruncateCodePoints(pred, RougeMaxPredictionChars), gt);
    }

    /// <summary>
    /// Metrics: one object per sub-dataset (<c>metadata.dataset</c>, first-seen order), the question type taken from
    /// its first item: <c>open-ended</c> → <c>{"Rouge-L f": mean}</c>; <c>multi-choice</c> → <c>{"Accuracy": mean}</c> of
    /// <see cref="LetterExtractors.InterleaveChoice"/> (N3 twice, or once for <see cref="ImageChoiceDatasets"/>). For
    /// <c>in_domain</c> the category averages of each sub-dataset's first metric are added as top-level numbers under the
    /// category names (the reference returns only those for <c>in_domain</c>; spec/EVAL.md says "additionally").
    /// Any other question type is an error (the reference exits the process with status 0).
    /// <para><see cref="ScoreProtocol.Original"/>: a sub-dataset named <c>nlrv2</c> is scored as multiple choice whatever
    /// its type (typo of the LLaVA scorer's <c>Mantis</c>); items whose normalised ground truth is empty are skipped in
    /// ROUGE.</para>
    /// <para><see cref="ScoreProtocol.Official"/> ([LLNX] <c>evaluate_demon_new.py</c>): the special case is
    /// <c>Mantis</c>; an empty ground truth scores 0 and counts.</para>
    /// </summary>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<InterleaveGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        ArgumentNullException.ThrowIfNull(task);
        var joined = Predictions.Join(predictions, groundTruth);
        var groups = new Dictionary<string, List<Joined<InterleaveGroundTruth>>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var j in joined)
        {
            string sub = j.Truth.SubTask ?? throw new ScoringException($"{task}: record '{j.Truth.Key}' has no metadata.dataset");
            if (!groups.TryGetValue(sub, out var list)) { groups[sub] = list = []; order.Add(sub); }
            list.Add(j);
        }

        string forcedChoice = protocol == ScoreProtocol.Official ? "Mantis" : "nlrv2";
        var metrics = new JsonObject();
        var first = new Dictionary<string, double>(StringComparer.Ordinal); // sub-dataset → its first metric (fraction)
        foreach (string sub in order)
        {
            var items = groups[sub];
            string questionType = items[0].Truth.QuestionType;
            if (questionType == "open-ended")
            {
                var scores = new List<double>();
                foreach (var j in items)
                {
                    double? s = OpenEndedScore(j.Prediction.RawModelAnswer, j.Truth.Answer);
                    if (s is double v) scores.Add(v);
                    else if (protocol == ScoreProtocol.Official) scores.Add(0.0);
                }
                double mean = MetricMath.NumpyMean(scores);
                first[sub] = mean;
                metrics[sub] = new JsonObject { ["Rouge-L f"] = MetricMath.Number(mean * 100) };
            }
            else if (questionType == "multi-choice" || sub == forcedChoice)
            {
                int passes = ImageChoiceDatasets.Contains(sub, StringComparer.Ordinal) ? 1 : 2;
                int correct = items.Count(j => LetterExtractors.InterleaveChoice(j.Prediction.RawModelAnswer, j.Truth.Answer, passes));
                first[sub] = (double)correct / items.Count;
                metrics[sub] = new JsonObject { ["Accuracy"] = MetricMath.FractionPercent(correct, items.Count) };
            }
            else
            {
                throw new ScoringException(
                    $"{task}: sub-dataset '{sub}' has question_type '{questionType}', expected 'multi-choice' or 'open-ended' (the reference exits here)");
            }
        }

        if (task == "in_domain")
        {
            foreach (var (category, members) in InDomainCategories)
            {
                var present = order.Where(d => members.Contains(d, StringComparer.Ordinal)).ToArray();
                if (present.Length == 0) continue;
                double score = 0;
                foreach (string d in present) score += first[d];
                metrics[category] = MetricMath.Number(score / present.Length * 100);
            }
        }
        return new TaskScore(task, joined.Count, metrics);
    }
}
