using System.Text;

namespace Owl3Native.Eval.Scoring;

/// <summary>
/// The text normalisers of spec/EVAL.md §3.4, bug-compatible with the reference (Python semantics of §8).
/// <list type="bullet">
/// <item><see cref="VqaEval"/> — N1, the official VQA evaluator's prediction normaliser (OK-VQA / TextVQA scoring).</item>
/// <item><see cref="VqaEvalGroundTruth"/> — what that evaluator does to the ground-truth answers of one question.</item>
/// <item><see cref="EvalAi"/> — N2, the EvalAI / MMF answer processor (VQAv2 submission, GQA's secondary metric).</item>
/// <item><see cref="Interleave"/> — N3, LLaVA-NeXT-Interleave's <c>process</c>.</item>
/// </list>
/// N4 (cut at the first <c>.</c> then <c>,</c>) lives in <see cref="AnswerPostProcess"/>; the GQA heuristic in
/// <see cref="GqaHeuristic"/>.
/// </summary>
public static class VqaNormalizer
{
    /// <summary>Periods removed at most per call: the reference passes <c>re.UNICODE</c> (= 32) as <c>sub</c>'s count.</summary>
    public const int MaxPeriodsRemoved = 32;

    /// <summary>
    /// N1 on a prediction: <c>\n</c>/<c>\t</c> → space, trim, <see cref="ProcessPunctuation"/>, <see cref="ProcessDigitArticle"/>.
    /// </summary>
    public static string VqaEval(string prediction)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        string s = Py.Strip(prediction.Replace("\n", " ", StringComparison.Ordinal).Replace("\t", " ", StringComparison.Ordinal));
        return ProcessDigitArticle(ProcessPunctuation(s));
    }

    /// <summary>
    /// The ground-truth side of the VQA evaluator: when the answers are not all identical, each gets
    /// <see cref="ProcessPunctuation"/> only (no trim, no digit/article/contraction step); a unanimous list is returned
    /// untouched (spec §9 #8).
    /// </summary>
    public static IReadOnlyList<string> VqaEvalGroundTruth(IReadOnlyList<string> answers)
    {
        ArgumentNullException.ThrowIfNull(answers);
        if (answers.Distinct(StringComparer.Ordinal).Count() <= 1) return answers;
        return answers.Select(a => ProcessPunctuation(a)).ToArray();
    }

    /// <summary>
    /// N2, the EvalAI answer processor: lower-case; delete every <c>,</c> and <c>?</c>; <c>'s</c> → <c> 's</c>; trim;
    /// <c>\n</c>/<c>\t</c> → space; trim; <see cref="ProcessPunctuation"/> (its comma rule can no longer fire);
    /// <see cref="ProcessDigitArticle"/>.
    /// </summary>
    public static string EvalAi(string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        string s = Py.Lower(answer)
            .Replace(",", "", StringComparison.Ordinal)
            .Replace("?", "", StringComparison.Ordinal)
            .Replace("'s", " 's", StringComparison.Ordinal);
        s = Py.Strip(s);
        s = Py.Strip(s.Replace("\n", " ", StringComparison.Ordinal).Replace("\t", " ", StringComparison.Ordinal));
        s = ProcessPunctuation(s, evalAiCommaRule: true);
        return ProcessDigitArticle(s);
    }

    /// <summary>
    /// N3, the Interleave normaliser: <c>\n</c>/<c>\t</c> → space, trim, <see cref="ProcessPunctuation"/>, then Python
    /// <c>strip("'")</c>, <c>strip('"')</c>, <c>strip(")")</c>, <c>strip("(")</c> (one pass each, in that order), trim,
    /// lower-case. No digit/article/contraction step.
    /// </summary>
    public static string Interleave(string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        string s = Py.Strip(answer.Replace("\n", " ", StringComparison.Ordinal).Replace("\t", " ", StringComparison.Ordinal));
        s = ProcessPunctuation(s);
        s = Py.StripChars(s, "'");
        s = Py.StripChars(s, "\"");
        s = Py.StripChars(s, ")");
        s = Py.StripChars(s, "(");
        return Py.Lower(Py.Strip(s));
    }

    /// <summary>
    /// The punctuation step (N1 (b)). For each of the 21 marks p of <see cref="VqaWordTables.Punctuation"/>, in order:
    /// if the <em>original</em> input contains <c>p + " "</c> or <c>" " + p</c>, or contains digit-comma-digit anywhere,
    /// every p is deleted; otherwise every p becomes a space. Then every <c>.</c> not followed by a digit is deleted
    /// (the reference's "not preceded by a digit" look-behind is mistyped and never applies), at most
    /// <see cref="MaxPeriodsRemoved"/> of them. Apostrophes and colons are untouched.
    /// </summary>
    /// <param name="text">The input.</param>
    /// <param name="evalAiCommaRule">
    /// Use the EvalAI processor's comma pattern <c>(?&lt;=\d)(\,)+(?=\d)</c> (a run of commas between digits) instead of
    /// the VQA evaluator's <c>(\d)(\,)(\d)</c>.
    /// </param>
    public static string ProcessPunctuation(string text, bool evalAiCommaRule = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        bool commaRule = HasDigitCommaDigit(text, evalAiCommaRule);
        string output = text;
        foreach (string p in VqaWordTables.Punctuation)
        {
            bool delete = commaRule
                || text.Contains(p + " ", StringComparison.Ordinal)
                || text.Contains(" " + p, StringComparison.Ordinal);
            output = output.Replace(p, delete ? "" : " ", StringComparison.Ordinal);
        }
        return StripPeriods(output);
    }

    /// <summary>
    /// The digit/article step (N1 (c)): lower-case, split on white space, map number words (<c>none</c> → 0 … <c>ten</c>
    /// → 10), drop <c>a</c>/<c>an</c>/<c>the</c>, replace contraction-table tokens, join with single spaces.
    /// </summary>
    public static string ProcessDigitArticle(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = new List<string>();
        foreach (string token in Py.SplitWhitespace(Py.Lower(text)))
        {
            string word = VqaWordTables.NumberWords.TryGetValue(token, out string? digit) ? digit : token;
            if (!VqaWordTables.Articles.Contains(word)) words.Add(word);
        }
        for (int i = 0; i < words.Count; i++)
            if (VqaWordTables.Contractions.TryGetValue(words[i], out string? expanded)) words[i] = expanded;
        return string.Join(' ', words);
    }

    private static bool HasDigitCommaDigit(string s, bool commaRun)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] != ',' || !Py.IsDecimalBefore(s, i)) continue;
            int j = i + 1;
            if (commaRun) while (j < s.Length && s[j] == ',') j++;
            if (Py.IsDecimalAt(s, j)) return true;
        }
        return false;
    }

    // re.sub(r"(?!<=\d)(\.)(?!\d)", "", s, 32): the first 32 periods not followed by a decimal digit.
    private static string StripPeriods(string s)
    {
        if (!s.Contains('.', StringComparison.Ordinal)) return s;
        var sb = new StringBuilder(s.Length);
        int removed = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '.' && removed < MaxPeriodsRemoved && !Py.IsDecimalAt(s, i + 1))
            {
                removed++;
                continue;
            }
            sb.Append(s[i]);
        }
        return sb.ToString();
    }
}
