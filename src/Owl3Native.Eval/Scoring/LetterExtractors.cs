namespace Owl3Native.Eval.Scoring;

/// <summary>
/// The option-letter extractors and answer checks of spec/EVAL.md §3.5 (L1–L5), bug-compatible with the reference.
/// </summary>
public static class LetterExtractors
{
    /// <summary>The letter the reference returns when nothing could be extracted (L1).</summary>
    public const string NoLetter = "X";

    private const string Delimiters = ".,:)";

    /// <summary>
    /// The L1 scan proper: for each letter of <paramref name="order"/> (default <c>EDCBA</c>), whether the text matches
    /// Python's <c>\b{c}[.,:)]</c> (a word boundary — Unicode-aware, so <c>选A.</c> does not match — then the capital,
    /// then one of <c>. , : )</c>); the first letter of the order that matches wins, so later letters win. Case-sensitive.
    /// No retry; <see langword="null"/> when nothing matched.
    /// </summary>
    public static char? ScanLetter(string text, string order = "EDCBA")
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(order);
        foreach (char c in order)
        {
            for (int i = text.IndexOf(c, StringComparison.Ordinal); i >= 0; i = text.IndexOf(c, i + 1))
            {
                bool delimited = i + 1 < text.Length && Delimiters.Contains(text[i + 1], StringComparison.Ordinal);
                bool boundary = i == 0 || !Py.IsWordChar(Py.CodePointBefore(text, i));
                if (delimited && boundary) return c;
            }
        }
        return null;
    }

    /// <summary>
    /// L1 as Q-Bench uses it: <see cref="ScanLetter"/> on the text, then once more on the text with a <c>.</c> appended
    /// (so a bare trailing letter such as <c>B</c> matches); otherwise <see cref="NoLetter"/>.
    /// </summary>
    public static string RegexEtoA(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        char? c = ScanLetter(text) ?? ScanLetter(text + ".");
        return c is char letter ? letter.ToString() : NoLetter;
    }

    /// <summary>
    /// L1 with the MMBench text fallback (§3.5): when the scan finds nothing, the letter of the <em>first</em> option o
    /// (A, B, … order of <paramref name="options"/>) such that <c>lower(text)</c> is a substring of <c>lower(o)</c> or vice
    /// versa; otherwise <see cref="NoLetter"/>.
    /// <para><see cref="ScoreProtocol.Original"/>: an empty answer matches the first option (the empty string is a
    /// substring of everything), so it returns <c>A</c>. <see cref="ScoreProtocol.Official"/>: a blank answer gets no text
    /// fallback.</para>
    /// </summary>
    /// <param name="text">The raw model answer.</param>
    /// <param name="options">The option texts that are present, in letter order (missing options already removed).</param>
    /// <param name="protocol">Reference behaviour or the fixed one.</param>
    public static string RegexEtoA(string text, IReadOnlyList<string> options, ScoreProtocol protocol = ScoreProtocol.Original)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(options);
        string scanned = RegexEtoA(text);
        if (scanned != NoLetter) return scanned;
        if (protocol == ScoreProtocol.Official && Py.Strip(text).Length == 0) return NoLetter;
        const string letters = "ABCDEFG";
        string lowered = Py.Lower(text);
        for (int i = 0; i < options.Count && i < letters.Length; i++)
        {
            string o = Py.Lower(options[i]);
            if (o.Contains(lowered, StringComparison.Ordinal) || lowered.Contains(o, StringComparison.Ordinal))
                return letters[i].ToString();
        }
        return NoLetter;
    }

    /// <summary>
    /// The D→A variant of L1 in the reference's <c>vqa.py</c> (ScienceQA; no dataset entry uses it): scan <c>DCBA</c>,
    /// retry with a <c>.</c> appended, otherwise <c>A</c>.
    /// </summary>
    public static string RegexDtoA(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        char? c = ScanLetter(text, "DCBA") ?? ScanLetter(text + ".", "DCBA");
        return c is char letter ? letter.ToString() : "A";
    }

    /// <summary>The answer phrases the reference deletes (two pairs fused by missing commas, as in the official script).</summary>
    public static readonly IReadOnlyList<string> VideoMmePhrases =
    [
        "The best answer is", "The correct answer is", "The answer is", "The answer",
        "The best option isThe correct option is", "Best answer:Best option:",
        "Answer:", "Option:", "The correct answer", "The correct option",
    ];

    /// <summary>The official Video-MME script's phrase list: the first six entries of <see cref="VideoMmePhrases"/>.</summary>
    public static readonly IReadOnlyList<string> VideoMmeOfficialPhrases = VideoMmePhrases.Take(6).ToArray();

    /// <summary>
    /// L2, Video-MME's <c>extract_characters_regex</c>: trim; delete every occurrence of each answer phrase (in order);
    /// if more than 10 white-space tokens remain and no capital A–D occurs, give up; otherwise the <em>first</em> capital
    /// A/B/C/D anywhere (so <c>Based …</c> yields B).
    /// <para><see cref="ScoreProtocol.Original"/> ([EVAL]): the 10 phrases of <see cref="VideoMmePhrases"/>; giving up
    /// returns <c>A</c>. <see cref="ScoreProtocol.Official"/> (official Video-MME / lmms-eval): the first six phrases;
    /// giving up returns the empty string (never correct).</para>
    /// </summary>
    public static string VideoMme(string text, ScoreProtocol protocol = ScoreProtocol.Original)
    {
        ArgumentNullException.ThrowIfNull(text);
        string fallback = protocol == ScoreProtocol.Official ? "" : "A";
        string s = Py.Strip(text);
        foreach (string phrase in protocol == ScoreProtocol.Official ? VideoMmeOfficialPhrases : VideoMmePhrases)
            s = s.Replace(phrase, "", StringComparison.Ordinal);
        int first = s.AsSpan().IndexOfAny("ABCD");
        if (first < 0) return fallback; // covers both the "> 10 tokens and no A-D" rule and "no match"
        return s[first].ToString();
    }

    /// <summary>
    /// L3, NExT-QA: the lower-cased first character of the answer (an empty answer was replaced by <c>X</c>, giving
    /// <c>x</c>). The reference crashes (IndexError) on an answer that starts with white space; this port takes the first
    /// non-space character instead, and <c>x</c> for an all-space answer.
    /// </summary>
    public static string FirstChar(string prediction)
    {
        string s = AnswerPostProcess.NextQa(prediction);
        int i = 0;
        while (i < s.Length && Py.IsSpace(s[i])) i++;
        if (i == s.Length) return "x";
        return Py.FirstCodePoint(Py.Lower(Py.FirstCodePoint(s[i..])));
    }

    /// <summary>
    /// L4, MVBench / LongVideoBench <c>check_answer</c>. Both sides lower-cased and split at the first space:
    /// <c>pred_option</c> / <c>pred_content</c>, <c>gt_option</c> (e.g. <c>a.</c>) / <c>gt_content</c> (minus one trailing
    /// <c>.</c>).
    /// <para><see cref="ScoreProtocol.Original"/>: correct if <c>pred_option</c> without periods, trimmed, is a substring
    /// of <c>gt_option</c> (so an empty answer, or an answer starting with the article "a", matches option A), or else if
    /// the trimmed <c>gt_content</c> is a substring of <c>pred_content</c> (a wrong letter followed by the right text
    /// counts).</para>
    /// <para><see cref="ScoreProtocol.Official"/> (Ask-Anything <c>check_ans</c>): the first test without the trim, and
    /// the second test is <c>gt_option ⊂ pred_option</c>.</para>
    /// The reference raises on a ground truth without content (<c>"A."</c>); this port then skips the trailing-period cut.
    /// </summary>
    public static bool OptionOrContent(string prediction, string groundTruth, ScoreProtocol protocol = ScoreProtocol.Original)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(groundTruth);
        (string predOption, string predContent) = SplitFirstSpace(Py.Lower(prediction));
        (string gtOption, string gtContent) = SplitFirstSpace(Py.Lower(groundTruth));
        if (gtContent.Length > 0 && gtContent[^1] == '.') gtContent = gtContent[..^1];
        string bare = predOption.Replace(".", "", StringComparison.Ordinal);
        if (protocol == ScoreProtocol.Official)
            return gtOption.Contains(bare, StringComparison.Ordinal) || predOption.Contains(gtOption, StringComparison.Ordinal);
        return gtOption.Contains(Py.Strip(bare), StringComparison.Ordinal)
            || predContent.Contains(Py.Strip(gtContent), StringComparison.Ordinal);
    }

    private static (string Head, string Tail) SplitFirstSpace(string s)
    {
        int i = s.IndexOf(' ', StringComparison.Ordinal);
        return i < 0 ? (s, "") : (s[..i], s[(i + 1)..]);
    }

    /// <summary>
    /// L5, the Interleave colon rule, on an already N3-normalised prediction: if it contains <c>:</c>, split on
    /// <c>:</c>, trim the parts, and take the <em>last</em> part that is a single letter <c>a</c>…<c>h</c>; otherwise the
    /// prediction is returned unchanged.
    /// </summary>
    public static string ColonRule(string normalizedPrediction)
    {
        ArgumentNullException.ThrowIfNull(normalizedPrediction);
        if (!normalizedPrediction.Contains(':', StringComparison.Ordinal)) return normalizedPrediction;
        string result = normalizedPrediction;
        foreach (string part in normalizedPrediction.Split(':'))
        {
            string a = Py.Strip(part);
            if (a.Length == 1 && a[0] is >= 'a' and <= 'h') result = a;
        }
        return result;
    }

    /// <summary>
    /// The Interleave multiple-choice judgement: N3 (<see cref="VqaNormalizer.Interleave"/>) applied
    /// <paramref name="normalizePasses"/> times to both sides (the reference's plain multiple-choice path normalises
    /// twice — once in <c>process_sample</c>, again in <c>judge_multi_choice</c>; the image-choice path once), then
    /// <see cref="ColonRule"/> on the prediction, then equality.
    /// </summary>
    public static bool InterleaveChoice(string prediction, string groundTruth, int normalizePasses = 2)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentOutOfRangeException.ThrowIfLessThan(normalizePasses, 1);
        string p = prediction, g = groundTruth;
        for (int k = 0; k < normalizePasses; k++)
        {
            p = VqaNormalizer.Interleave(p);
            g = VqaNormalizer.Interleave(g);
        }
        return string.Equals(ColonRule(p), g, StringComparison.Ordinal);
    }
}
