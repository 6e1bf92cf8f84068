using System.Globalization;
using System.Numerics;
using System.Text;

namespace Owl3Native.Eval.Scoring;

/// <summary>
/// The few Python 3 string and number semantics the reference scorers rely on (spec/EVAL.md §8), mirrored exactly where
/// it matters for scores: <c>str.isspace</c>, <c>strip()</c>, <c>strip(chars)</c> (a character <em>set</em>),
/// <c>split()</c>, <c>split(sep)[0]</c> / <c>[1]</c>, <c>lower()</c>, the Unicode-aware <c>\w</c>/<c>\d</c> of <c>re</c>,
/// <c>round(x, n)</c> (half-to-even on the exact binary value) and <c>f"{x:.nf}"</c>. Every comparison is ordinal.
/// </summary>
internal static class Py
{
    /// <summary>Python <c>str.isspace</c> for one UTF-16 unit: .NET white space plus U+001C–U+001F (bidi B/S in Python).</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f');

    /// <summary>Python <c>s.strip()</c>.</summary>
    public static string Strip(string s)
    {
        int a = 0, b = s.Length;
        while (a < b && IsSpace(s[a])) a++;
        while (b > a && IsSpace(s[b - 1])) b--;
        return a == 0 && b == s.Length ? s : s[a..b];
    }

    /// <summary>Python <c>s.strip(chars)</c>: removes any character of the <em>set</em> <paramref name="chars"/> from both ends.</summary>
    public static string StripChars(string s, string chars)
    {
        int a = 0, b = s.Length;
        while (a < b && chars.Contains(s[a], StringComparison.Ordinal)) a++;
        while (b > a && chars.Contains(s[b - 1], StringComparison.Ordinal)) b--;
        return a == 0 && b == s.Length ? s : s[a..b];
    }

    /// <summary>Python <c>s.split()</c>: runs of white space separate tokens; no empty tokens.</summary>
    public static List<string> SplitWhitespace(string s)
    {
        var tokens = new List<string>();
        int i = 0;
        while (i < s.Length)
        {
            while (i < s.Length && IsSpace(s[i])) i++;
            int start = i;
            while (i < s.Length && !IsSpace(s[i])) i++;
            if (i > start) tokens.Add(s[start..i]);
        }
        return tokens;
    }

    /// <summary>Python <c>s.split(sep)[0]</c>: the text before the first <paramref name="sep"/>, or the whole string.</summary>
    public static string Before(string s, string sep)
    {
        int i = s.IndexOf(sep, StringComparison.Ordinal);
        return i < 0 ? s : s[..i];
    }

    /// <summary>
    /// Python <c>s.split(sep)[1]</c>: the text between the first and the second <paramref name="sep"/> (or to the end).
    /// Raises, as Python does, when <paramref name="sep"/> does not occur.
    /// </summary>
    public static string SecondPiece(string s, string sep)
    {
        int i = s.IndexOf(sep, StringComparison.Ordinal);
        if (i < 0) throw new ArgumentException($"separator '{sep}' does not occur (Python split(sep)[1] raises IndexError)", nameof(s));
        string rest = s[(i + sep.Length)..];
        int j = rest.IndexOf(sep, StringComparison.Ordinal);
        return j < 0 ? rest : rest[..j];
    }

    /// <summary>
    /// Python <c>str.lower()</c>. .NET's invariant lower-casing is the Unicode simple mapping; Python's adds the two
    /// special cases that matter for letters: U+0130 (İ → "i̇") and the Final_Sigma rule for U+03A3 (ς after a cased
    /// letter, case-ignorable characters skipped, when no cased letter follows).
    /// </summary>
    public static string Lower(string s)
    {
        if (s.IndexOf('\u0130', StringComparison.Ordinal) < 0 && s.IndexOf('\u03A3', StringComparison.Ordinal) < 0)
            return s.ToLowerInvariant();
        var sb = new StringBuilder(s.Length + 4);
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is not ('\u0130' or '\u03A3')) continue;
            sb.Append(s[start..i].ToLowerInvariant());
            if (c == '\u0130') sb.Append("i\u0307");
            else sb.Append(IsFinalSigma(s, i) ? '\u03C2' : '\u03C3');
            start = i + 1;
        }
        sb.Append(s[start..].ToLowerInvariant());
        return sb.ToString();
    }

    // CPython handle_capital_sigma: \p{cased} \p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased}).
    private static bool IsFinalSigma(string s, int i)
    {
        int j = i;
        int before = -1;
        while (j > 0)
        {
            int cp = CodePointBefore(s, j);
            j -= cp > 0xFFFF ? 2 : 1;
            if (!IsCaseIgnorable(cp)) { before = cp; break; }
        }
        if (before < 0 || !IsCased(before)) return false;
        for (int k = i + 1; k < s.Length;)
        {
            int cp = CodePointAt(s, k);
            k += cp > 0xFFFF ? 2 : 1;
            if (!IsCaseIgnorable(cp)) return !IsCased(cp);
        }
        return true;
    }

    // Unicode Cased: Lu, Ll, Lt plus the Other_Lowercase / Other_Uppercase code points.
    private static bool IsCased(int cp)
    {
        UnicodeCategory cat = CharUnicodeInfo.GetUnicodeCategory(cp);
        if (cat is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter) return true;
        return cp is 0xAA or 0xBA or (>= 0x2B0 and <= 0x2B8) or 0x2C0 or 0x2C1 or (>= 0x2E0 and <= 0x2E4) or 0x345 or 0x37A
            or (>= 0x1D2C and <= 0x1D6A) or 0x1D78 or (>= 0x1D9B and <= 0x1DBF) or 0x2071 or 0x207F or (>= 0x2090 and <= 0x209C)
            or (>= 0x2160 and <= 0x217F) or (>= 0x24B6 and <= 0x24E9) or 0x2C7C or 0x2C7D or 0xA69C or 0xA69D or 0xA770
            or 0xA7F8 or 0xA7F9 or (>= 0xAB5C and <= 0xAB5F);
    }

    // Unicode Case_Ignorable: Mn, Me, Cf, Lm, Sk, and Word_Break MidLetter / MidNumLet / Single_Quote.
    private static bool IsCaseIgnorable(int cp)
    {
        if (cp is 0x27 or 0x2E or 0x3A or 0xB7 or 0x387 or 0x55F or 0x5F4 or 0x2018 or 0x2019 or 0x2024 or 0x2027
            or 0xFE13 or 0xFE52 or 0xFE55 or 0xFF07 or 0xFF0E or 0xFF1A) return true;
        return CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark
            or UnicodeCategory.Format or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;
    }

    /// <summary>The code point starting at <paramref name="i"/> (a lone surrogate counts as itself).</summary>
    public static int CodePointAt(string s, int i) =>
        char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? char.ConvertToUtf32(s[i], s[i + 1]) : s[i];

    /// <summary>The code point that ends just before <paramref name="end"/>.</summary>
    public static int CodePointBefore(string s, int end) =>
        char.IsLowSurrogate(s[end - 1]) && end >= 2 && char.IsHighSurrogate(s[end - 2]) ? char.ConvertToUtf32(s[end - 2], s[end - 1]) : s[end - 1];

    /// <summary>Python's first character <c>s[0]</c> (one code point) as a string; empty for an empty string.</summary>
    public static string FirstCodePoint(string s) =>
        s.Length == 0 ? "" : s[..(char.IsHighSurrogate(s[0]) && s.Length > 1 && char.IsLowSurrogate(s[1]) ? 2 : 1)];

    /// <summary>Python <c>s[:n]</c> (n code points, not UTF-16 units).</summary>
    public static string TruncateCodePoints(string s, int n)
    {
        int units = 0;
        for (int k = 0; k < n && units < s.Length; k++)
            units += char.IsHighSurrogate(s[units]) && units + 1 < s.Length && char.IsLowSurrogate(s[units + 1]) ? 2 : 1;
        return units >= s.Length ? s : s[..units];
    }

    /// <summary>Python <c>re</c> <c>\d</c> on str patterns: a Unicode decimal digit (category Nd).</summary>
    public static bool IsDecimal(int codePoint) =>
        CharUnicodeInfo.GetUnicodeCategory(codePoint) == UnicodeCategory.DecimalDigitNumber;

    /// <summary>Whether a decimal digit starts at <paramref name="i"/> (false past the end).</summary>
    public static bool IsDecimalAt(string s, int i) => i >= 0 && i < s.Length && IsDecimal(CodePointAt(s, i));

    /// <summary>Whether a decimal digit ends just before <paramref name="end"/> (false at the start).</summary>
    public static bool IsDecimalBefore(string s, int end) => end > 0 && IsDecimal(CodePointBefore(s, end));

    /// <summary>
    /// Python <c>re</c> <c>\w</c> on str patterns: <c>str.isalnum()</c> (letters L*, numbers N*) or the underscore.
    /// (.NET's <c>\w</c> also takes non-spacing marks and every connector punctuation, and no letter-like numbers.)
    /// </summary>
    public static bool IsWordChar(int codePoint)
    {
        if (codePoint == '_') return true;
        return CharUnicodeInfo.GetUnicodeCategory(codePoint) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter
                or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => true,
            _ => false,
        };
    }

    /// <summary>
    /// Python <c>f"{x:.{digits}f}"</c>: the exact binary value of <paramref name="x"/> rounded half-to-even to
    /// <paramref name="digits"/> decimals (a negative value that rounds to zero keeps its sign, as in Python).
    /// </summary>
    public static string FormatFixed(double x, int digits)
    {
        if (double.IsNaN(x)) return "nan";
        if (double.IsInfinity(x)) return x > 0 ? "inf" : "-inf";
        ArgumentOutOfRangeException.ThrowIfNegative(digits);
        bool negative = double.IsNegative(x);
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(x));
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0) exponent = 1; else mantissa |= 1L << 52;
        exponent -= 1075; // |x| = mantissa · 2^exponent
        BigInteger num = mantissa * BigInteger.Pow(10, digits), den = BigInteger.One;
        if (exponent >= 0) num <<= exponent; else den <<= -exponent;
        BigInteger q = BigInteger.DivRem(num, den, out BigInteger r);
        int cmp = (r * 2).CompareTo(den);
        if (cmp > 0 || (cmp == 0 && !q.IsEven)) q += 1;
        string digitsText = q.ToString(CultureInfo.InvariantCulture).PadLeft(digits + 1, '0');
        string text = digits == 0 ? digitsText : digitsText[..^digits] + "." + digitsText[^digits..];
        return negative ? "-" + text : text;
    }

    /// <summary>Python <c>round(x, digits)</c> for a float: correctly rounded, half-to-even on the exact binary value.</summary>
    public static double Round(double x, int digits) =>
        double.IsFinite(x) ? double.Parse(FormatFixed(x, digits), NumberStyles.Float, CultureInfo.InvariantCulture) : x;

    /// <summary>
    /// Python code-point ordering of strings (what <c>sorted</c> and pandas' group order use); .NET's ordinal comparison
    /// orders UTF-16 units, which differs for characters above U+FFFF.
    /// </summary>
    public static readonly IComparer<string> CodePointComparer = Comparer<string>.Create(CompareCodePoints);

    private static int CompareCodePoints(string? a, string? b)
    {
        if (ReferenceEquals(a, b)) return 0;
        if (a is null) return -1;
        if (b is null) return 1;
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            int ca = CodePointAt(a, i), cb = CodePointAt(b, j);
            if (ca != cb) return ca.CompareTo(cb);
            i += ca > 0xFFFF ? 2 : 1;
            j += cb > 0xFFFF ? 2 : 1;
        }
        return (a.Length - i).CompareTo(b.Length - j);
    }
}
