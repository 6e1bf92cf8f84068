using System.Globalization;

namespace Owl3Native.Eval.Data;

/// <summary>Python string semantics the original's prompts and keys depend on (spec/EVAL.md §8).</summary>
public static class PyText
{
    /// <summary>Python's `str.isspace()` for one character: Unicode whitespace plus the separators U+001C–U+001F.</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001c' and <= '\u001f';

    /// <summary>Python's `str.strip()` (no argument).</summary>
    public static string Strip(string s) => RStrip(LStrip(s));

    /// <summary>Python's `str.lstrip()` (no argument).</summary>
    public static string LStrip(string s)
    {
        int i = 0;
        while (i < s.Length && IsSpace(s[i])) i++;
        return s[i..];
    }

    /// <summary>Python's `str.rstrip()` (no argument).</summary>
    public static string RStrip(string s)
    {
        int n = s.Length;
        while (n > 0 && IsSpace(s[n - 1])) n--;
        return s[..n];
    }

    /// <summary>Python's `str(x)` for the scalar values of a <see cref="DataRow"/>.</summary>
    public static string Str(object value) => value switch
    {
        string s => s,
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        double d => Repr(d),
        _ => value.ToString() ?? "",
    };

    /// <summary>Python's `repr(float)`: shortest round-trip digits, `.0` for integral values, exponent from 1e16.</summary>
    public static string Repr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == Math.Floor(d) && Math.Abs(d) < 1e16) return d.ToString("F1", CultureInfo.InvariantCulture);
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOf('E', StringComparison.Ordinal);
        if (e < 0) return r;
        string mantissa = r[..e], exp = r[(e + 1)..];
        int x = int.Parse(exp, CultureInfo.InvariantCulture);
        return $"{mantissa}e{(x < 0 ? "-" : "+")}{Math.Abs(x):00}";
    }

    /// <summary>Capital letter number <paramref name="i"/> (0 → `A`), as `chr(ord('A') + i)`.</summary>
    public static string Letter(int i) => ((char)('A' + i)).ToString();
}
