using Owl3Native.Verification;
using Xunit;

namespace Owl3Native.Tests.Verification;

/// <summary>How `verify --device cuda` judges (its GPU runs are the device's; the rules are checked here).</summary>
public sealed class DeviceGoldenJudgeTests
{
    [Fact]
    public void Floats_pass_by_nmse_within_the_bf16_bound_and_fail_beyond_it_or_on_nan()
    {
        var rng = new Random(3);
        var golden = Enumerable.Range(0, 1000).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float Rms() => MathF.Sqrt(golden.Sum(v => v * v) / golden.Length);
        // Noise of 1 % of the RMS: NMSE ~1e-4, a pass; 10 %: ~1e-2, a fail.
        var small = golden.Select(v => v + 0.01f * Rms() * (float)(rng.NextDouble() * 2 - 1) * 1.7f).ToArray();
        var large = golden.Select(v => v + 0.1f * Rms() * (float)(rng.NextDouble() * 2 - 1) * 1.7f).ToArray();
        var pass = DeviceGoldenVerifier.JudgeFloats("x", [1000], small, golden);
        Assert.Equal(ComparisonStatus.Pass, pass.Status);
        Assert.InRange(pass.Nmse!.Value, 1e-5, DeviceGoldenVerifier.NmseBound);
        Assert.Equal(ComparisonStatus.Fail, DeviceGoldenVerifier.JudgeFloats("x", [1000], large, golden).Status);
        var nan = (float[])golden.Clone();
        nan[7] = float.NaN;
        var bad = DeviceGoldenVerifier.JudgeFloats("x", [1000], nan, golden);
        Assert.Equal(ComparisonStatus.Fail, bad.Status);
        Assert.True(double.IsPositiveInfinity(bad.Nmse!.Value));
        Assert.Equal(ComparisonStatus.Fail, DeviceGoldenVerifier.JudgeFloats("x", [1000], golden.AsSpan(1).ToArray(), golden).Status); // a short result
    }

    [Fact]
    public void A_differing_greedy_token_passes_only_as_a_near_tie_of_the_goldens_own_logits()
    {
        const int vocab = 4;
        // Row RMS 1 (values ±1): the tie tolerance is 2·√1e-3 ≈ 0.063 of it.
        float[] Row(float a, float b) => [a, b, -1f, -1f];
        var logits = new[] { Row(1f, 0.97f), Row(1f, 0.8f) }.SelectMany(r => r).ToArray();
        long[] golden = [0, 0];
        Assert.Equal(ComparisonStatus.Pass, DeviceGoldenVerifier.JudgeTokens("t", [1, 2], [0, 0], golden, logits, vocab).Status);
        var tie = DeviceGoldenVerifier.JudgeTokens("t", [1, 2], [1, 0], golden, logits, vocab); // 1 vs 0.97: a near-tie
        Assert.Equal(ComparisonStatus.Pass, tie.Status);
        Assert.Contains("1 of the 1 that differ are near-ties", tie.Note);
        var real = DeviceGoldenVerifier.JudgeTokens("t", [1, 2], [0, 1], golden, logits, vocab); // 1 vs 0.8: not one
        Assert.Equal(ComparisonStatus.Fail, real.Status);
    }
}
