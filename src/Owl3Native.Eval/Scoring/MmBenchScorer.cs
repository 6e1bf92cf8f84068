using System.Globalization;
using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Scoring;

/// <summary>MMBench local (dev) scoring (spec/EVAL.md §4.7, §9 #21).</summary>
public static class MmBenchScorer
{
    /// <summary>
    /// The cells pandas' <c>read_csv</c> turns into missing values by default (<c>STR_NA_VALUES</c>, pandas 2.x).
    /// </summary>
    public static readonly IReadOnlySet<string> PandasNaValues = new HashSet<string>(StringComparer.Ordinal)
    {
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
        "NULL", "NaN", "None", "n/a", "nan", "null",
    };

    /// <summary>Whether pandas would read this TSV cell as missing.</summary>
    public static bool IsPandasNa(string? cell) => cell is null || PandasNaValues.Contains(cell);

    /// <summary>
    /// The option texts the MMBench text fallback sees. <see cref="ScoreProtocol.Original"/>: the A–D cells pandas reads
    /// as strings (missing-value spellings such as <c>None</c>, <c>N/A</c>, <c>NA</c>, <c>null</c>, <c>nan</c> or empty
    /// drop out, and later options shift letter). <see cref="ScoreProtocol.Official"/>: only absent or blank cells drop out.
    /// </summary>
    public static IReadOnlyList<string> FallbackOptions(MmBenchGroundTruth gt, ScoreProtocol protocol)
    {
        ArgumentNullException.ThrowIfNull(gt);
        return gt.OptionCells
            .Where(c => protocol == ScoreProtocol.Official ? c is not null && Py.Strip(c).Length > 0 : !IsPandasNa(c))
            .Select(c => c!)
            .ToArray();
    }

    /// <summary>
    /// Scores <c>mmbench_dev_{en,cn}_20231003</c>: L1 with the option-text fallback
    /// (<see cref="LetterExtractors.RegexEtoA(string, IReadOnlyList{string}, ScoreProtocol)"/>) per row; rows are grouped
    /// into circular groups; a group is correct iff every row's letter equals its TSV <c>answer</c>. Metrics:
    /// <c>Accuracy</c> = 100 × correct groups / groups, <c>L2-Accuracy</c> = the same per <c>l2-category</c> of each group's
    /// first row (groups in sorted key order, as pandas' <c>groupby</c>).
    /// <para><see cref="ScoreProtocol.Original"/>: groups are <c>(image, question)</c> (rows whose image or question pandas
    /// reads as missing are dropped, as <c>groupby</c> drops NaN keys); pandas' missing-value cells leave the fallback
    /// options; an empty answer falls back to option A.</para>
    /// <para><see cref="ScoreProtocol.Official"/>: groups are <c>index mod 10⁶</c> (VLMEvalKit's circular convention);
    /// only blank cells are missing; a blank answer gets no text fallback. (The official server's own answer extraction is
    /// not reproduced.)</para>
    /// </summary>
    public static TaskScore Score(string task, IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<MmBenchGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        var joined = Predictions.Join(predictions, groundTruth);
        var groups = new SortedDictionary<string, List<(string? L2, bool Ok)>>(protocol == ScoreProtocol.Official ? NumericOrdinal : new TupleKeyComparer());
        foreach (var j in joined)
        {
            MmBenchGroundTruth gt = j.Truth;
            string? groupKey = GroupKey(task, gt, protocol);
            if (groupKey is null) continue;
            string letter = LetterExtractors.RegexEtoA(j.Prediction.RawModelAnswer, FallbackOptions(gt, protocol), protocol);
            string? answer = protocol == ScoreProtocol.Original && IsPandasNa(gt.Answer) ? null : gt.Answer;
            bool ok = answer is not null && letter == answer;
            if (!groups.TryGetValue(groupKey, out var rows)) groups[groupKey] = rows = [];
            rows.Add((gt.L2Category, ok));
        }
        var count = new Dictionary<string, int>(StringComparer.Ordinal);
        var correct = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var rows in groups.Values)
        {
            string category = rows[0].L2 ?? "null";
            if (!count.ContainsKey(category)) { count[category] = 0; correct[category] = 0; order.Add(category); }
            count[category]++;
            if (rows.All(r => r.Ok)) correct[category]++;
        }
        var l2 = new JsonObject();
        foreach (string c in order) l2[c] = MetricMath.FractionPercent(correct[c], count[c]);
        var metrics = new JsonObject
        {
            ["Accuracy"] = MetricMath.FractionPercent(correct.Values.Sum(), count.Values.Sum()),
            ["L2-Accuracy"] = l2,
        };
        return new TaskScore(task, joined.Count, metrics);
    }

    private const char Separator = '\u0000';

    private static string? GroupKey(string task, MmBenchGroundTruth gt, ScoreProtocol protocol)
    {
        if (protocol == ScoreProtocol.Official)
        {
            if (!long.TryParse(gt.Key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long index))
                throw new ScoringException($"{task}: row key '{gt.Key}' is not an integer TSV index");
            return (index % 1_000_000).ToString(CultureInfo.InvariantCulture);
        }
        if (IsPandasNa(gt.Image) || IsPandasNa(gt.Question)) return null;
        return gt.Image + Separator + gt.Question;
    }

    // pandas sorts (image, question) tuples: image first, then question, by code point.
    private sealed class TupleKeyComparer : IComparer<string>
    {
        public int Compare(string? x, string? y)
        {
            int ix = x!.IndexOf(Separator, StringComparison.Ordinal), iy = y!.IndexOf(Separator, StringComparison.Ordinal);
            int c = Py.CodePointComparer.Compare(x[..ix], y[..iy]);
            return c != 0 ? c : Py.CodePointComparer.Compare(x[(ix + 1)..], y[(iy + 1)..]);
        }
    }

    private static readonly IComparer<string> NumericOrdinal = Comparer<string>.Create((a, b) =>
        long.Parse(a!, CultureInfo.InvariantCulture).CompareTo(long.Parse(b!, CultureInfo.InvariantCulture)));
}
