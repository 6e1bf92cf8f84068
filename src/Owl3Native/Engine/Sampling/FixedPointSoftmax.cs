namespace Owl3Native.Engine.Sampling;

/// <summary>
/// Unnormalised softmax weights in 40-bit fixed point, <c>w = floor(exp(x - max) · 2^40)</c>, vocab ≤ 2^23 so the
/// total fits a ulong. Integer weights make every sum exact, so a serial CPU loop and a CUDA block reduction in any
/// order reach the same totals and therefore the same token. exp is a fixed sequence of correctly rounded float32
/// operations (Cephes expf, Horner with fused multiply-adds) rather than MathF.Exp, whose last bit differs between
/// libm and CUDA's expf. CUDA must spell each step with __fmaf_rn/__fmul_rn/__fadd_rn (no contraction, no fast-math,
/// no FTZ) and round n with rintf.
/// </summary>
internal static class FixedPointSoftmax
{
    public const int FractionBits = 40;
    public const ulong One = 1UL << FractionBits;
    public const int MaxVocab = 1 << 23; // 2^23 weights of at most 2^40 sum below 2^63

    // exp(d) · 2^40 < 1 once d < -40·ln2 ≈ -27.73, so all smaller d (and -inf) weigh 0; it also bounds n ≥ -40.
    private const float Cutoff = -28f;
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;     // Cody-Waite split of ln 2; Ln2Hi has 9 significant bits
    private const float Ln2Lo = -2.12194440e-4f;
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f;
    private const float P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /// <summary>Fills <paramref name="weights"/> (shape [vocab]) and returns their sum, ≥ 2^40.</summary>
    /// <exception cref="InvalidOperationException">No logit is above -inf.</exception>
    public static ulong Compute(ReadOnlySpan<float> logits, Span<ulong> weights)
    {
        float max = float.NegativeInfinity;
        foreach (float x in logits) max = MathF.Max(max, x); // NaN was replaced by -inf before this point
        if (max == float.NegativeInfinity) throw Sampler.NoTokenLeft("after the repetition penalty and temperature");

        ulong total = 0;
        for (int i = 0; i < logits.Length; i++) total += weights[i] = Weight(logits[i], max);
        return total;
    }

    /// <summary>Weight of logit <paramref name="x"/> given the row maximum; the maximum weighs exactly 2^40, even when it is +inf.</summary>
    public static ulong Weight(float x, float max) => x == max ? One : Weight(x - max);

    /// <summary><c>floor(exp(d) · 2^40)</c> for d ≤ 0.</summary>
    public static ulong Weight(float d)
    {
        if (!(d >= Cutoff)) return 0;
        float n = MathF.Round(d * Log2E, MidpointRounding.ToEven);           // n in [-40, 0]
        float r = MathF.FusedMultiplyAdd(n, -Ln2Hi, d);
        r = MathF.FusedMultiplyAdd(n, -Ln2Lo, r);                              // |r| ≤ ln2/2 (plus rounding)
        float p = MathF.FusedMultiplyAdd(P0, r, P1);
        p = MathF.FusedMultiplyAdd(p, r, P2);
        p = MathF.FusedMultiplyAdd(p, r, P3);
        p = MathF.FusedMultiplyAdd(p, r, P4);
        p = MathF.FusedMultiplyAdd(p, r, P5);
        float e = MathF.FusedMultiplyAdd(p, r * r, r) + 1f;                   // exp(r) in [0.70, 1.42]
        float scale = BitConverter.Int32BitsToSingle((127 + FractionBits + (int)n) << 23); // 2^(40+n), exact
        return (ulong)(e * scale);                                             // exact product, truncating cast
    }
}
