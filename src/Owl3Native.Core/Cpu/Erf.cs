namespace Owl3Native.Core.Cpu;

/// <summary>
/// erf in double precision (.NET has none): Maclaurin series for |x| &lt; 2.5, continued fraction of erfc beyond.
/// Accurate to ~1e-15, far below fp32 resolution.
/// </summary>
internal static class Erf
{
    public static double Compute(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        double ax = Math.Abs(x);
        if (ax < 2.5)
        {
            // erf(x) = 2/√π · Σ (−1)^n x^(2n+1) / (n! (2n+1))
            double sum = 0, term = ax, x2 = ax * ax;
            for (int n = 0; n < 60; n++)
            {
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
                term *= -x2 / (n + 1);
            }
            double r = 1.1283791670955126 * sum;
            return x < 0 ? -r : r;
        }
        if (ax > 6) return x < 0 ? -1 : 1;
        // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + ...)))))  (Lentz-free backward evaluation)
        double f = ax;
        for (int k = 60; k >= 1; k--) f = ax + k / 2.0 / f;
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        return x < 0 ? erfc - 1 : 1 - erfc;
    }
}
