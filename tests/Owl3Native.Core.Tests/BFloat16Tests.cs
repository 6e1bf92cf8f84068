using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.Tests;

/// <summary>bf16 ↔ fp32: round-to-nearest-even, NaN and infinity handling, and the vectorised span path.</summary>
public sealed class BFloat16Tests
{
    private static ushort FromBits(uint bits) => BFloat16.FromSingle(BitConverter.UInt32BitsToSingle(bits));

    [Theory]
    [InlineData(1.0f, 0x3F80)]
    [InlineData(-1.0f, 0xBF80)]
    [InlineData(0.0f, 0x0000)]
    [InlineData(-0.0f, 0x8000)]
    [InlineData(2.0f, 0x4000)]
    [InlineData(0.5f, 0x3F00)]
    [InlineData(3.140625f, 0x4049)]
    public void FromSingle_keeps_values_that_bf16_holds_exactly(float value, int expected) =>
        Assert.Equal((ushort)expected, BFloat16.FromSingle(value));

    [Theory]
    [InlineData(0x3F80_8000u, 0x3F80)] // 1 + 2^-8: halfway, rounds down to the even 0x3F80
    [InlineData(0x3F81_8000u, 0x3F82)] // halfway between 0x3F81 and 0x3F82: up to the even one
    [InlineData(0xBF80_8000u, 0xBF80)] // negative halfway, to even
    [InlineData(0xBF81_8000u, 0xBF82)]
    [InlineData(0x3F80_8001u, 0x3F81)] // just above halfway: up
    [InlineData(0x3F80_7FFFu, 0x3F80)] // just below halfway: down
    [InlineData(0x3F81_7FFFu, 0x3F81)]
    [InlineData(0x3FFF_8000u, 0x4000)] // rounding carries into the exponent
    [InlineData(0x0000_8000u, 0x0000)] // subnormal halfway, to even (zero)
    [InlineData(0x0001_8000u, 0x0002)]
    [InlineData(0x0000_0001u, 0x0000)] // the smallest subnormal rounds to zero
    public void FromSingle_rounds_to_nearest_even(uint bits, int expected) =>
        Assert.Equal((ushort)expected, FromBits(bits));

    [Fact]
    public void FromSingle_keeps_infinities()
    {
        Assert.Equal((ushort)0x7F80, BFloat16.FromSingle(float.PositiveInfinity));
        Assert.Equal((ushort)0xFF80, BFloat16.FromSingle(float.NegativeInfinity));
    }

    [Fact]
    public void FromSingle_rounds_the_largest_floats_to_infinity()
    {
        Assert.Equal((ushort)0x7F80, BFloat16.FromSingle(float.MaxValue));
        Assert.Equal((ushort)0xFF80, BFloat16.FromSingle(float.MinValue));
        Assert.Equal((ushort)0x7F80, FromBits(0x7F7F_8000u)); // halfway above the largest finite bf16 (odd): up, to infinity
        Assert.Equal((ushort)0x7F7F, FromBits(0x7F7F_7FFFu)); // just below: the largest finite bf16
    }

    [Theory]
    [InlineData(0x7FC0_0000u)] // float.NaN's usual bits (quiet)
    [InlineData(0xFFC0_0000u)] // negative quiet NaN
    [InlineData(0x7F80_0001u)] // signalling NaN with only a low payload bit: truncation would give infinity
    [InlineData(0xFF80_0001u)]
    [InlineData(0x7FFF_FFFFu)] // all payload bits: rounding up would overflow the sign
    [InlineData(0x7F80_8000u)]
    public void FromSingle_keeps_NaN_a_NaN_with_its_sign(uint bits)
    {
        ushort b = FromBits(bits);

        Assert.True(float.IsNaN(BFloat16.ToSingle(b)), $"0x{bits:X8} became 0x{b:X4}");
        Assert.Equal(bits >> 31, (uint)b >> 15);
    }

    [Fact]
    public void FromSingle_of_float_NaN_is_NaN() =>
        Assert.True(float.IsNaN(BFloat16.ToSingle(BFloat16.FromSingle(float.NaN))));

    [Fact]
    public void ToSingle_then_FromSingle_returns_every_non_NaN_bf16()
    {
        for (int b = 0; b <= ushort.MaxValue; b++)
        {
            float f = BFloat16.ToSingle((ushort)b);
            Assert.Equal((uint)b << 16, BitConverter.SingleToUInt32Bits(f));
            if (!float.IsNaN(f)) Assert.Equal((ushort)b, BFloat16.FromSingle(f));
        }
    }

    [Fact]
    public void ToSingle_of_a_span_equals_the_scalar_for_lengths_0_to_40()
    {
        var random = new Random(1234);
        for (int length = 0; length <= 40; length++)
        {
            var source = new ushort[length + 1];
            for (int i = 0; i < source.Length; i++) source[i] = (ushort)random.Next(65536);
            source[random.Next(source.Length)] = 0x7FC1; // a NaN with payload must survive the vector path bit for bit

            // Both an aligned start and one element in, so the vector loads see both alignments.
            foreach (int start in new[] { 0, 1 })
            {
                var src = source.AsSpan(start, length);
                var destination = new float[src.Length + 1];
                destination[^1] = 12345f;

                BFloat16.ToSingle(src, destination.AsSpan(0, src.Length));

                for (int i = 0; i < src.Length; i++)
                    Assert.Equal(BitConverter.SingleToUInt32Bits(BFloat16.ToSingle(src[i])), BitConverter.SingleToUInt32Bits(destination[i]));
                Assert.Equal(12345f, destination[^1]);
            }
        }
    }

    [Fact]
    public void FromSingle_of_a_span_equals_the_scalar()
    {
        var random = new Random(99);
        var source = new float[37];
        for (int i = 0; i < source.Length; i++) source[i] = BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32));
        var destination = new ushort[source.Length];

        BFloat16.FromSingle(source, destination);

        for (int i = 0; i < source.Length; i++)
            Assert.Equal(BFloat16.FromSingle(source[i]), destination[i]);
    }

    [Fact]
    public void Span_conversions_reject_a_destination_that_is_too_short()
    {
        Assert.Throws<ArgumentException>(() => BFloat16.ToSingle(new ushort[17], new float[16]));
        Assert.Throws<ArgumentException>(() => BFloat16.FromSingle(new float[5], new ushort[4]));
    }
}
