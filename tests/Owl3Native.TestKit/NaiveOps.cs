namespace Owl3Native.TestKit;

/// <summary>
/// The slow twin of every backend op: plain nested loops, double activations and double accumulation, no SIMD, no
/// threads, nothing shared with `Owl3Native.Core.Cpu`. Activations are row-major `double[]` with their dimensions
/// passed beside them; weights are `float[]` `[out, in]` exactly as read from a checkpoint. Written to be read against
/// spec/MODEL.md, not to be fast.
/// </summary>
public static class NaiveOps
{
    /// <summary>Widens fp32 values to double.</summary>
    public static double[] ToDouble(ReadOnlySpan<float> x)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i];
        return y;
    }

    /// <summary>`y = x·wᵀ + b`: x `[rows, inF]`, w `[outF, inF]`, b `[outF]` → `[rows, outF]`.</summary>
    public static double[] Linear(double[] x, int rows, int inF, float[] w, int outF, float[]? b = null)
    {
        Check(x.Length == rows * inF && w.Length == outF * inF && (b is null || b.Length == outF), "Linear shapes");
        var y = new double[rows * outF];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
            {
                double sum = b is null ? 0 : b[o];
                for (int i = 0; i < inF; i++) sum += x[r * inF + i] * (double)w[o * inF + i];
                y[r * outF + o] = sum;
            }
        return y;
    }

    /// <summary>`x · 1/√(mean(x²) + eps) · w` per row of `[rows, cols]` (spec/MODEL.md §3.3, without the dtype rounding).</summary>
    public static double[] RmsNorm(double[] x, int rows, int cols, float[] w, double eps)
    {
        Check(x.Length == rows * cols && w.Length == cols, "RmsNorm shapes");
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double sq = 0;
            for (int i = 0; i < cols; i++) sq += x[r * cols + i] * x[r * cols + i];
            double inv = 1.0 / Math.Sqrt(sq / cols + eps);
            for (int i = 0; i < cols; i++) y[r * cols + i] = x[r * cols + i] * inv * w[i];
        }
        return y;
    }

    /// <summary>`(x − mean)/√(var + eps) · w + b` per row, biased variance (SigLIP, spec/MODEL.md §2.1).</summary>
    public static double[] LayerNorm(double[] x, int rows, int cols, float[] w, float[] b, double eps)
    {
        Check(x.Length == rows * cols && w.Length == cols && b.Length == cols, "LayerNorm shapes");
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0;
            for (int i = 0; i < cols; i++) mean += x[r * cols + i];
            mean /= cols;
            double variance = 0;
            for (int i = 0; i < cols; i++) variance += (x[r * cols + i] - mean) * (x[r * cols + i] - mean);
            variance /= cols;
            double inv = 1.0 / Math.Sqrt(variance + eps);
            for (int i = 0; i < cols; i++) y[r * cols + i] = (x[r * cols + i] - mean) * inv * w[i] + b[i];
        }
        return y;
    }

    /// <summary>`0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))` (SigLIP MLP).</summary>
    public static double GeluTanh(double z) => 0.5 * z * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)));

    /// <summary>`0.5·z·(1 + erf(z/√2))` (241101 projector); for z &lt; 0 as `0.5·z·erfc(−z/√2)`, which keeps the tail exact.</summary>
    public static double GeluErf(double z) => z >= 0 ? 0.5 * z * (1 + Erf(z / Math.Sqrt(2))) : 0.5 * z * Erfc(-z / Math.Sqrt(2));

    /// <summary>`z·σ(z)`.</summary>
    public static double Silu(double z) => z * Sigmoid(z);

    /// <summary>`1/(1 + e^−z)`.</summary>
    public static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    /// <summary>
    /// erf by the series with positive terms only, `erf(x) = 2/√π · e^(−x²) · Σₙ 2ⁿ x^(2n+1) / (1·3·…·(2n+1))`: no
    /// cancellation, so the relative error stays near machine precision (≤ 1e-14) for every |x| ≤ 6; beyond 6,
    /// `1 − erf` is below 2e-17 and ±1 is exact in double. Independent of the Maclaurin/continued-fraction form in Core.
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        double ax = Math.Abs(x);
        if (ax > 6) return Math.Sign(x);
        double term = ax, sum = ax, x2 = ax * ax;
        for (int n = 1; n < 500; n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < 1e-18 * sum) break;
        }
        double r = 2 / Math.Sqrt(Math.PI) * Math.Exp(-x2) * sum;
        return x < 0 ? -r : r;
    }

    /// <summary>
    /// erfc without cancellation: `1 − erf(x)` below 0.5 (where erfc &gt; 0.47), else Craig's integral
    /// `erfc(x) = 2/π · ∫₀^{π/2} exp(−x²/sin²θ) dθ` by the trapezoid rule on 200 intervals. The integrand has all odd
    /// derivatives zero at both ends, so the trapezoid rule converges exponentially: relative error ≤ 1e-14 for x ≥ 0.5.
    /// </summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0.5) return 1 - Erf(x);
        const int intervals = 200;
        double h = Math.PI / 2 / intervals, sum = 0;
        for (int i = 1; i <= intervals; i++)
        {
            double sin = Math.Sin(i * h);
            sum += (i == intervals ? 0.5 : 1) * Math.Exp(-x * x / (sin * sin));          // the θ = 0 end contributes 0
        }
        return 2 / Math.PI * sum * h;
    }

    /// <summary>Applies <paramref name="f"/> to every element (a copy).</summary>
    public static double[] Map(double[] x, Func<double, double> f)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = f(x[i]);
        return y;
    }

    /// <summary>`silu(x·gateᵀ) ⊙ (x·upᵀ)`: x `[rows, inF]`, gate/up `[inter, inF]` → `[rows, inter]`.</summary>
    public static double[] SwiGlu(double[] x, int rows, int inF, float[] gate, float[] up, int inter)
    {
        var g = Linear(x, rows, inF, gate, inter);
        var u = Linear(x, rows, inF, up, inter);
        var y = new double[g.Length];
        for (int i = 0; i < y.Length; i++) y[i] = Silu(g[i]) * u[i];
        return y;
    }

    /// <summary>`inv_freq[i] = 1 / θ^(2i/D)` rounded to fp32, as the reference builds it in fp32 (spec/MODEL.md §3.4).</summary>
    public static float[] RopeInverseFrequencies(int headDim, double theta)
    {
        var inv = new float[headDim / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            float exponent = (float)(2 * i) / headDim;                      // fp32 arange / dim
            float power = (float)Math.Pow((float)theta, exponent);         // fp32 pow, correctly rounded via double
            inv[i] = 1f / power;
        }
        return inv;
    }

    /// <summary>
    /// Rotate-half RoPE (spec/MODEL.md §3.4) of `[rows, heads·headDim]` at per-row positions: angle = fp32(p)·inv_freq[i]
    /// in fp32, cos/sin and the rotation in double. x1 = first half, x2 = second half; out = [x1·c − x2·s, x2·c + x1·s].
    /// </summary>
    public static double[] Rope(double[] x, int rows, int heads, int headDim, IReadOnlyList<int> positions, double theta)
    {
        Check(x.Length == rows * heads * headDim && positions.Count == rows && headDim % 2 == 0, "Rope shapes");
        var inv = RopeInverseFrequencies(headDim, theta);
        int half = headDim / 2;
        var y = (double[])x.Clone();
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
            {
                int o = (r * heads + h) * headDim;
                for (int i = 0; i < half; i++)
                {
                    float angle = (float)positions[r] * inv[i];
                    double c = Math.Cos(angle), s = Math.Sin(angle);
                    double x1 = x[o + i], x2 = x[o + i + half];
                    y[o + i] = x1 * c - x2 * s;
                    y[o + i + half] = x2 * c + x1 * s;
                }
            }
        return y;
    }

    /// <summary>
    /// Softmax attention with a boolean mask. q `[queries, heads·headDim]`, k/v `[keys, kvHeads·headDim]`; query head h
    /// reads kv head h / (heads/kvHeads); scores `q·k · scale` (default 1/√headDim) over the keys with
    /// <c>mayAttend(query, key)</c>. A query that may attend no key gets zeros. → `[queries, heads·headDim]`.
    /// </summary>
    public static double[] Attention(double[] q, int queries, int heads, double[] k, double[] v, int keys, int kvHeads, int headDim,
        Func<int, int, bool> mayAttend, double? scale = null)
    {
        Check(q.Length == queries * heads * headDim && k.Length == keys * kvHeads * headDim && v.Length == k.Length && heads % kvHeads == 0, "Attention shapes");
        double sc = scale ?? 1 / Math.Sqrt(headDim);
        int group = heads / kvHeads;
        var y = new double[q.Length];
        var scores = new double[keys];
        for (int t = 0; t < queries; t++)
            for (int h = 0; h < heads; h++)
            {
                int g = h / group;
                double max = double.NegativeInfinity;
                for (int u = 0; u < keys; u++)
                {
                    if (!mayAttend(t, u)) { scores[u] = double.NegativeInfinity; continue; }
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) dot += q[(t * heads + h) * headDim + d] * k[(u * kvHeads + g) * headDim + d];
                    scores[u] = dot * sc;
                    max = Math.Max(max, scores[u]);
                }
                if (double.IsNegativeInfinity(max)) continue;
                double sum = 0;
                for (int u = 0; u < keys; u++) sum += scores[u] = double.IsNegativeInfinity(scores[u]) ? 0 : Math.Exp(scores[u] - max);
                for (int u = 0; u < keys; u++)
                {
                    if (scores[u] == 0) continue;
                    double p = scores[u] / sum;
                    for (int d = 0; d < headDim; d++) y[(t * heads + h) * headDim + d] += p * v[(u * kvHeads + g) * headDim + d];
                }
            }
        return y;
    }

    /// <summary>
    /// im2col of the SigLIP patch convolution (spec/MODEL.md §2.1 step 1): pixels `[crops, channels, size, size]` →
    /// `[crops·grid², channels·patch²]` with grid = ⌊(size − patch)/patch⌋ + 1, patches row-major, each row in
    /// (channel, ky, kx) order. Pixels past the last whole patch are never read.
    /// </summary>
    public static double[] Patches(float[] pixels, int crops, int channels, int size, int patch)
    {
        Check(pixels.Length == crops * channels * size * size, "Patches shapes");
        int grid = (size - patch) / patch + 1, cols = channels * patch * patch;
        var y = new double[crops * grid * grid * cols];
        for (int n = 0; n < crops; n++)
            for (int gy = 0; gy < grid; gy++)
                for (int gx = 0; gx < grid; gx++)
                {
                    int row = (n * grid + gy) * grid + gx;
                    for (int c = 0; c < channels; c++)
                        for (int ky = 0; ky < patch; ky++)
                            for (int kx = 0; kx < patch; kx++)
                                y[row * cols + (c * patch + ky) * patch + kx] =
                                    pixels[((n * channels + c) * size + gy * patch + ky) * size + gx * patch + kx];
                }
        return y;
    }

    private static void Check(bool ok, string what)
    {
        if (!ok) throw new ArgumentException($"{what} do not match");
    }
}
