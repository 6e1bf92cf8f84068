using System.Globalization;
using System.Text;
using Xunit.Sdk;

namespace Owl3Native.TestKit;

/// <summary>
/// Compares a backend result (fp32) with a <see cref="NaiveOps"/> reference (double) and, on failure, reports the metric,
/// the worst index, max abs and relative error and the first pairs. Metrics:
/// <list type="bullet">
/// <item>NMSE = Σ(a − e)² / Σe², for reductions (matmul, norms, attention), where one element can cancel to ~0;</item>
/// <item>max-rel = maxᵢ |aᵢ − eᵢ| / max(|eᵢ|, floor): elementwise relative error, the floor turning it into an absolute
/// bound for values smaller than the floor (pass floor = max|e| for an error relative to the tensor's scale).</item>
/// </list>
/// </summary>
public static class ReferenceAssert
{
    /// <summary>NMSE of <paramref name="actual"/> against <paramref name="expected"/>.</summary>
    public static double Nmse(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        double err = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = actual[i] - expected[i];
            err += d * d;
            norm += expected[i] * expected[i];
        }
        return norm == 0 ? err : err / norm;
    }

    /// <summary>max-rel with the given floor, and where it happens.</summary>
    public static (double Error, int Index) MaxRel(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double floor)
    {
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Abs(actual[i] - expected[i]) / Math.Max(Math.Abs(expected[i]), floor);
            if (!(e <= worst)) { worst = e; at = i; }                                  // NaN counts as worst
        }
        return (worst, at);
    }

    /// <summary>Largest |expected|.</summary>
    public static double MaxAbs(ReadOnlySpan<double> expected)
    {
        double m = 0;
        foreach (double e in expected) m = Math.Max(m, Math.Abs(e));
        return m;
    }

    /// <summary>Fails unless NMSE ≤ <paramref name="bound"/>.</summary>
    public static void NmseBelow(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double bound, string what)
    {
        SameLength(actual, expected, what);
        double nmse = Nmse(actual, expected);
        if (!(nmse <= bound)) throw new XunitException(Report($"{what}: NMSE {Fmt(nmse)} > {Fmt(bound)}", actual, expected));
    }

    /// <summary>Fails unless max-rel (with <paramref name="floor"/>) ≤ <paramref name="bound"/>.</summary>
    public static void MaxRelBelow(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double bound, double floor, string what)
    {
        SameLength(actual, expected, what);
        var (err, _) = MaxRel(actual, expected, floor);
        if (!(err <= bound)) throw new XunitException(Report($"{what}: max-rel {Fmt(err)} > {Fmt(bound)} (floor {Fmt(floor)})", actual, expected));
    }

    /// <summary>Fails unless every element is bitwise equal (copies, and the same computation on another thread count).</summary>
    public static void Identical(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, string what)
    {
        if (actual.Length != expected.Length) throw new XunitException($"{what}: {actual.Length} values, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                throw new XunitException($"{what}: first difference at index {i}: {Fmt(actual[i])} vs {Fmt(expected[i])}");
    }

    /// <summary>The failure text: the headline, worst index, max abs/rel error and the first pairs.</summary>
    public static string Report(string headline, ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        var sb = new StringBuilder(headline).AppendLine();
        double maxAbs = 0;
        int worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(actual[i] - expected[i]);
            if (!(d <= maxAbs)) { maxAbs = d; worst = i; }
        }
        sb.AppendLine(CultureInfo.InvariantCulture, $"  {expected.Length} values, max |expected| {Fmt(MaxAbs(expected))}, NMSE {Fmt(Nmse(actual, expected))}");
        if (expected.Length > 0)
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"  worst index {worst}: actual {Fmt(actual[worst])}, expected {Fmt(expected[worst])}, abs err {Fmt(maxAbs)}, rel err {Fmt(maxAbs / Math.Max(Math.Abs(expected[worst]), 1e-300))}");
        for (int i = 0; i < Math.Min(6, expected.Length); i++)
            sb.AppendLine(CultureInfo.InvariantCulture, $"  [{i}] actual {Fmt(actual[i])}, expected {Fmt(expected[i])}");
        return sb.ToString();
    }

    private static void SameLength(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, string what)
    {
        if (actual.Length != expected.Length) throw new XunitException($"{what}: {actual.Length} values, expected {expected.Length}");
    }

    private static string Fmt(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
