using Xunit.Sdk;

namespace Owl3Native.Tests.Engine;

/// <summary>max|a − b| / max|a| with a report of the worst element.</summary>
internal static class TensorAssertions
{
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float maxRel, string what)
    {
        if (expected.Length != actual.Length) throw new XunitException($"{what}: length {actual.Length}, expected {expected.Length}");
        double scale = 0, worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
            double d = Math.Abs((double)expected[i] - actual[i]);
            if (double.IsNaN(d)) d = double.PositiveInfinity;
            if (d > worst) { worst = d; at = i; }
        }
        if (worst > maxRel * Math.Max(scale, 1e-30))
            throw new XunitException($"{what}: max-abs {worst:g4} at [{at}] ({actual[at]} vs {expected[at]}), max-rel {worst / scale:g4} > {maxRel}");
    }
}
