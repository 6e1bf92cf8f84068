namespace Owl3Native.Eval.Scoring;

/// <summary>
/// The per-task answer post-processing of spec/EVAL.md §4 (what the reference stores as the answer before scoring), and
/// the N4 split heuristic of §3.4 with Python <c>str.split(x)[0]</c> semantics.
/// </summary>
public static class AnswerPostProcess
{
    /// <summary>OK-VQA / TextVQA (§4.2, §4.3): <c>strip()</c>.</summary>
    public static string Trim(string raw) => Py.Strip(raw ?? throw new ArgumentNullException(nameof(raw)));

    /// <summary>N4: the text before the first <c>.</c>, then before the first <c>,</c> (no trimming).</summary>
    public static string CutAtPeriodThenComma(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Py.Before(Py.Before(text, "."), ",");
    }

    /// <summary>VizWiz (§4.4): <c>x.split('.')[0].split(',')[0].strip()</c>.</summary>
    public static string VizWiz(string raw) => Py.Strip(CutAtPeriodThenComma(raw));

    /// <summary>POPE (§4.6): <c>x.strip().split('.')[0].split(',')[0]</c>.</summary>
    public static string Pope(string raw) => CutAtPeriodThenComma(Py.Strip(raw ?? throw new ArgumentNullException(nameof(raw))));

    /// <summary>VQAv2 submission (§4.1): N2 (<see cref="VqaNormalizer.EvalAi"/>).</summary>
    public static string VqaV2(string raw) => VqaNormalizer.EvalAi(raw);

    /// <summary>NExT-QA (§4.14): an empty answer becomes <c>X</c>.</summary>
    public static string NextQa(string raw) => (raw ?? throw new ArgumentNullException(nameof(raw))).Length == 0 ? "X" : raw;
}

/// <summary>
/// The Qwen-VL GQA answer heuristic (spec/EVAL.md §4.5, §9 #10), applied in this order: trim; cut at the first
/// <c>.</c>, then <c>,</c>, then <c>!</c>; lower-case; if the text contains <c>is </c> keep Python
/// <c>split('is ')[1]</c>; the same for <c>are </c>, <c>a </c>, <c>an </c>, <c>the </c> (substring tests on the
/// current text, so <c>this </c> and <c>pizza </c> trigger too); if it contains <c> of</c> keep what precedes the first
/// <c> of</c>; trim.
/// </summary>
public static class GqaHeuristic
{
    private static readonly string[] SplitWords = ["is ", "are ", "a ", "an ", "the "];

    /// <summary>Applies the heuristic to a raw answer.</summary>
    public static string Apply(string raw)
    {
        ArgumentNullException.ThrowIfNull(raw);
        string r = Py.Lower(Py.Before(Py.Before(Py.Before(Py.Strip(raw), "."), ","), "!"));
        foreach (string w in SplitWords)
            if (r.Contains(w, StringComparison.Ordinal)) r = Py.SecondPiece(r, w);
        if (r.Contains(" of", StringComparison.Ordinal)) r = Py.Before(r, " of");
        return Py.Strip(r);
    }
}
