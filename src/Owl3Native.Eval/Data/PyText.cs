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

    /// <summary>
    /// Python's `repr(float)`: the shortest round-trip digits, positional with `.0` for integral values, scientific
    /// (`1e+16`, `1e-05`) when the decimal point sits more than 16 digits right or 4 left of the first digit.
    /// </summary>
    public static string Repr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        string sign = d < 0 || (d == 0 && double.IsNegative(d)) ? "-" : "";
        string r = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOfAny(['E', 'e']);
        int exp10 = e < 0 ? 0 : int.Parse(r[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        string mantissa = e < 0 ? r : r[..e];
        int dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        string intPart = dot < 0 ? mantissa : mantissa[..dot], all = intPart + (dot < 0 ? "" : mantissa[(dot + 1)..]);
        string digits = all.TrimStart('0');
        int decpt = intPart.Length + exp10 - (all.Length - digits.Length); // value = 0.digits × 10^decpt
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) return sign + "0.0";
        if (decpt > 16 || decpt <= -4)
        {
            int x = decpt - 1;
            string m = digits.Length > 1 ? $"{digits[0]}.{digits[1..]}" : digits;
            return $"{sign}{m}e{(x < 0 ? "-" : "+")}{Math.Abs(x):00}";
        }
        if (decpt <= 0) return $"{sign}0.{new string('0', -decpt)}{digits}";
        if (decpt >= digits.Length) return $"{sign}{digits}{new string('0', decpt - digits.Length)}.0";
        return $"{sign}{digits[..decpt]}.{digits[decpt..]}";
    }

    /// <summary>Capital letter number <paramref name="i"/> (0 → `A`), as `chr(ord('A') + i)`.</summary>
    public static string Letter(int i) => ((char)('A' + i)).ToString();
}
