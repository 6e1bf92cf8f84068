using Owl3Native.Engine.Sampling;
using Xunit;

namespace Owl3Native.Tests.Sampling;

public sealed class FixedPointSoftmaxTests
{
    private const double TwoTo40 = 1099511627776.0;

    [Fact]
    public void Weight_is_exp_times_2_to_the_40_within_a_few_float_ulps_plus_the_final_truncation()
    {
        double worst = 0;
        for (float d = -27.7f; d <= 0f; d += 0.000173f)
        {
            double exact = Math.Exp(d) * TwoTo40;
            // Float ulp is 6e-8 to 1.2e-7 relative; the cast to an integer loses < 1 more.
            worst = Math.Max(worst, (Math.Abs(FixedPointSoftmax.Weight(d) - exact) - 1) / exact);
        }
        Assert.True(worst < 2.5e-7, $"worst relative error {worst:E3}");
    }

    [Theory]
    [InlineData(0f, 1UL << 40)]
    [InlineData(-28f, 0UL)]                       // exp(-28)·2^40 ≈ 0.76
    [InlineData(float.NegativeInfinity, 0UL)]
    public void Weight_edges(float d, ulong expected) => Assert.Equal(expected, FixedPointSoftmax.Weight(d));

    [Fact]
    public void The_maximum_weighs_one_even_when_it_is_infinite()
    {
        Assert.Equal(FixedPointSoftmax.One, FixedPointSoftmax.Weight(float.PositiveInfinity, float.PositiveInfinity));
        Assert.Equal(0UL, FixedPointSoftmax.Weight(1e30f, float.PositiveInfinity));
        Assert.Equal(FixedPointSoftmax.One, FixedPointSoftmax.Weight(-3f, -3f));
    }

    [Fact]
    public void Exact_fractions_round_down()
    {
        // floor(j·W / 2^24) with j·W far beyond 64 bits.
        Assert.Equal(ulong.MaxValue >> 2, Sampler.MulFraction24(1u << 23, ulong.MaxValue >> 1));
        Assert.Equal(0UL, Sampler.MulFraction24(0, ulong.MaxValue));
        Assert.Equal(ulong.MaxValue - (ulong.MaxValue >> 24) - 1, Sampler.MulFraction24((1u << 24) - 1, ulong.MaxValue));
    }
}
