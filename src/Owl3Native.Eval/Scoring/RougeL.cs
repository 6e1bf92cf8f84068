namespace Owl3Native.Eval.Scoring;

/// <summary>
/// ROUGE-L F as the <c>rouge</c> PyPI package 1.0.x computes it (<c>Rouge().get_scores(hyp, ref)[0]['rouge-l']['f']</c>,
/// spec/EVAL.md §4.12, [ROUGE]): summary-level union-LCS with <c>exclusive=True</c> (word <em>sets</em>).
/// <list type="number">
/// <item>Both texts are split into sentences at every <c>.</c>; empty pieces are dropped, the rest re-joined as
/// <c>" ".join(piece.split())</c> (a white-space-only piece becomes an empty sentence, whose single word is "").</item>
/// <item>m = distinct words of the reference, n = distinct words of the hypothesis (words = <c>split(" ")</c>).</item>
/// <item>For each reference sentence, the LCS of its words with each hypothesis sentence is reconstructed (the
/// reference's tie-break: step up when <c>table[i-1][j] &gt; table[i][j-1]</c>, else left) and its words added to a
/// running set; the count of words each reference sentence adds is summed into <c>llcs</c>.</item>
/// <item>R = llcs / m, P = llcs / n, F = 2·(P·R) / (P + R + 1e-8).</item>
/// </list>
/// </summary>
public static class RougeL
{
    /// <summary>
    /// The F score of <paramref name="hypothesis"/> against <paramref name="reference"/>.
    /// The package raises when either text has no sentence (only periods); this returns 0 for that case.
    /// </summary>
    public static double F(string hypothesis, string reference)
    {
        ArgumentNullException.ThrowIfNull(hypothesis);
        ArgumentNullException.ThrowIfNull(reference);
        List<string[]> hyp = Sentences(hypothesis), refs = Sentences(reference);
        if (hyp.Count == 0 || refs.Count == 0) return 0.0;
        int m = refs.SelectMany(w => w).Distinct(StringComparer.Ordinal).Count();
        int n = hyp.SelectMany(w => w).Distinct(StringComparer.Ordinal).Count();
        var union = new HashSet<string>(StringComparer.Ordinal);
        int llcs = 0;
        foreach (string[] refWords in refs)
        {
            int before = union.Count;
            foreach (string[] hypWords in hyp) union.UnionWith(LcsWords(refWords, hypWords));
            llcs += union.Count - before;
        }
        double r = (double)llcs / m, p = (double)llcs / n;
        return 2.0 * ((p * r) / (p + r + 1e-8));
    }

    private static List<string[]> Sentences(string text)
    {
        var sentences = new List<string[]>();
        foreach (string piece in text.Split('.'))
        {
            if (piece.Length == 0) continue;
            sentences.Add(string.Join(' ', Py.SplitWhitespace(piece)).Split(' '));
        }
        return sentences;
    }

    // _recon_lcs(x, y): the words of x on one LCS of x and y, with the package's backtracking order.
    private static List<string> LcsWords(string[] x, string[] y)
    {
        int n = x.Length, m = y.Length;
        var table = new int[n + 1, m + 1];
        for (int i = 1; i <= n; i++)
            for (int j = 1; j <= m; j++)
                table[i, j] = string.Equals(x[i - 1], y[j - 1], StringComparison.Ordinal)
                    ? table[i - 1, j - 1] + 1
                    : Math.Max(table[i - 1, j], table[i, j - 1]);
        var words = new List<string>();
        for (int i = n, j = m; i > 0 && j > 0;)
        {
            if (string.Equals(x[i - 1], y[j - 1], StringComparison.Ordinal)) { words.Add(x[i - 1]); i--; j--; }
            else if (table[i - 1, j] > table[i, j - 1]) i--;
            else j--;
        }
        return words;
    }
}
