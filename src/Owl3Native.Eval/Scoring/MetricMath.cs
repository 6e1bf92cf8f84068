using System.Globalization;
using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Scoring;

/// <summary>
/// Arithmetic that mirrors how the reference forms each number, so that percentages agree to the last bit where the
/// reference computes them the same way: <c>c / n * 100</c> (a fraction the reference returns, × 100) versus
/// <c>c * 100.0 / n</c> (the reference's own percentage), NumPy's pairwise summation for <c>np.mean</c>. A zero
/// denominator gives JSON <c>null</c>.
/// </summary>
internal static class MetricMath
{
    /// <summary>A fraction the reference returns (<c>c / n</c>), converted to percent: <c>(c / n) · 100</c>.</summary>
    public static JsonNode? FractionPercent(double numerator, double denominator) =>
        denominator == 0 ? null : JsonValue.Create(numerator / denominator * 100);

    /// <summary>A percentage the reference computes itself as <c>c · 100 / n</c>.</summary>
    public static JsonNode? Percent(double numerator, double denominator) =>
        denominator == 0 ? null : JsonValue.Create(numerator * 100.0 / denominator);

    /// <summary>
    /// NumPy <c>np.mean</c> of a contiguous float64 array: the pairwise sum of all elements, then the division (checked
    /// against NumPy 1.24); NaN for an empty list.
    /// </summary>
    public static double NumpyMean(IReadOnlyList<double> values) =>
        values.Count == 0 ? double.NaN : PairwiseSum(values, 0, values.Count) / values.Count;

    // numpy/core/src/umath/loops_utils.h.src pairwise_sum (PW_BLOCKSIZE 128, 8 accumulators).
    private static double PairwiseSum(IReadOnlyList<double> a, int start, int n)
    {
        if (n < 8)
        {
            double res = 0.0; // NumPy starts from -0.0 (identity of add); no difference after adding any value here
            for (int i = 0; i < n; i++) res += a[start + i];
            return n == 0 ? 0.0 : res;
        }
        if (n <= 128)
        {
            var r = new double[8];
            for (int k = 0; k < 8; k++) r[k] = a[start + k];
            int i;
            for (i = 8; i < n - (n % 8); i += 8)
                for (int k = 0; k < 8; k++) r[k] += a[start + i + k];
            double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < n; i++) res += a[start + i];
            return res;
        }
        int n2 = n / 2;
        n2 -= n2 % 8;
        return PairwiseSum(a, start, n2) + PairwiseSum(a, start + n2, n - n2);
    }

    /// <summary>JSON number, or <c>null</c> for NaN / infinity.</summary>
    public static JsonNode? Number(double value) => double.IsFinite(value) ? JsonValue.Create(value) : null;

    /// <summary>Parses a percent string such as <c>" 59.3%"</c> (Video-MME) into 59.3.</summary>
    public static double ParsePercent(string text)
    {
        string t = Py.Strip(text);
        if (t.EndsWith('%')) t = t[..^1];
        return double.Parse(t, NumberStyles.Float, CultureInfo.InvariantCulture);
    }
}
