using Owl3Native.Engine.Sampling;
using Xunit;

namespace Owl3Native.Tests.Sampling;

public sealed class PhiloxTests
{
    // Random123 kat_vectors, "philox4x32 10": counter words, key words, expected output words.
    [Theory]
    [InlineData(0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u,
                0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
                0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u,
                0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void Matches_the_Random123_known_answers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1,
                                                     uint x0, uint x1, uint x2, uint x3)
    {
        Assert.Equal((x0, x1, x2, x3), Philox.Generate(c0, c1, c2, c3, k0, k1));
    }

    [Fact]
    public void Ulong_overload_puts_low_words_first()
    {
        var r = Philox.Generate(key: 0x299f31d0_a4093822, counterHi: 0x03707344_13198a2e, counterLo: 0x85a308d3_243f6a88);
        Assert.Equal((0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u), r);
    }

    [Theory]
    [InlineData(0x0000_0000u, 0f)]
    [InlineData(0x0000_00FFu, 0f)]                       // the low 8 bits are dropped
    [InlineData(0x0000_0100u, 1f / 16777216f)]           // one grid step, 2^-24
    [InlineData(0x8000_0000u, 0.5f)]
    [InlineData(0xFFFF_FFFFu, 1f - 1f / 16777216f)]     // the largest value is below 1
    public void Uniform_is_the_top_24_bits_times_2_to_the_minus_24(uint x, float expected)
    {
        Assert.Equal(expected, Philox.ToUniformFloat(x));
    }

    [Fact]
    public void Uniforms_from_consecutive_counters_lie_in_the_unit_interval_with_mean_one_half()
    {
        const int n = 100_000;
        double sum = 0;
        int belowHalf = 0;
        for (int i = 0; i < n; i++)
        {
            var (x0, x1, x2, x3) = Philox.Generate(key: 42, counterHi: 0, counterLo: (ulong)i);
            foreach (uint x in new[] { x0, x1, x2, x3 })
            {
                float u = Philox.ToUniformFloat(x);
                Assert.InRange(u, 0f, 1f - 1f / 16777216f);
                sum += u;
                if (u < 0.5f) belowHalf++;
            }
        }
        // 4n uniforms: the mean's standard error is sqrt(1/12 / 4n) ≈ 4.6e-4, so 0.003 is > 6 sigma.
        Assert.InRange(sum / (4.0 * n), 0.497, 0.503);
        Assert.InRange(belowHalf / (4.0 * n), 0.495, 0.505);
    }
}
