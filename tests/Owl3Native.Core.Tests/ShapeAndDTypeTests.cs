using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.Tests;

/// <summary>Shape arithmetic and the dtype table the safetensors reader relies on.</summary>
public sealed class ShapeAndDTypeTests
{
    [Fact]
    public void Scalar_shape_has_rank_0_and_one_element()
    {
        var scalar = new Shape();

        Assert.Equal(0, scalar.Rank);
        Assert.Equal(1, scalar.ElementCount);
        Assert.Equal("[]", scalar.ToString());
    }

    [Fact]
    public void Shape_with_a_zero_dimension_has_no_elements()
    {
        Assert.Equal(0, new Shape(0, 4).ElementCount);
        Assert.True(new Shape(3, 0, long.MaxValue).TryGetElementCount(out long count));
        Assert.Equal(0, count);
    }

    [Fact]
    public void Shape_rejects_a_negative_dimension() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Shape(2, -1));

    [Fact]
    public void Shape_copies_its_dimensions()
    {
        long[] dims = [2, 3];
        var shape = new Shape(dims);
        dims[0] = 99;

        Assert.Equal(2, shape[0]);
    }

    [Fact]
    public void Element_count_overflow_is_reported_not_wrapped()
    {
        var huge = new Shape(4294967296, 4294967296, 16);

        Assert.False(huge.TryGetElementCount(out _));
        Assert.Throws<OverflowException>(() => huge.ElementCount);
        Assert.True(new Shape(long.MaxValue).TryGetElementCount(out long max));
        Assert.Equal(long.MaxValue, max);
    }

    [Fact]
    public void Shapes_compare_by_dimensions()
    {
        Assert.Equal(new Shape(2, 3), new Shape(2, 3));
        Assert.Equal(new Shape(2, 3).GetHashCode(), new Shape(2, 3).GetHashCode());
        Assert.NotEqual(new Shape(3, 2), new Shape(2, 3));
        Assert.NotEqual(new Shape(6), new Shape(2, 3));
        Assert.Equal("[2, 3]", new Shape(2, 3).ToString());
    }

    [Fact]
    public void Every_dtype_round_trips_through_its_safetensors_name()
    {
        foreach (var dtype in Enum.GetValues<DType>())
        {
            Assert.True(DTypeInfo.TryParseSafeTensors(dtype.SafeTensorsName(), out var parsed), dtype.ToString());
            Assert.Equal(dtype, parsed);
            Assert.False(DTypeInfo.IsValidSafeTensorsButUnsupported(dtype.SafeTensorsName()));
        }
    }

    [Theory]
    [InlineData(DType.BF16, 2)]
    [InlineData(DType.F16, 2)]
    [InlineData(DType.F32, 4)]
    [InlineData(DType.F64, 8)]
    [InlineData(DType.I64, 8)]
    [InlineData(DType.I32, 4)]
    [InlineData(DType.I16, 2)]
    [InlineData(DType.I8, 1)]
    [InlineData(DType.U8, 1)]
    [InlineData(DType.Bool, 1)]
    public void SizeOf_matches_the_format(DType dtype, int size) =>
        Assert.Equal(size, dtype.SizeOf());

    [Theory]
    [InlineData("bf16")]
    [InlineData("Bool")]
    [InlineData("FP32")]
    [InlineData("")]
    public void TryParseSafeTensors_is_exact_and_case_sensitive(string name) =>
        Assert.False(DTypeInfo.TryParseSafeTensors(name, out _));
}
