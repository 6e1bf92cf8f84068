using Owl3Native.Engine.Sampling;
using Xunit;

namespace Owl3Native.Tests.Sampling;

public sealed class LogitProcessorTests
{
    [Fact]
    public void Ordered_bits_sort_like_floats()
    {
        float[] ascending = [float.NegativeInfinity, -3e38f, -1f, -1e-40f, 0f, 1e-40f, 1f, 3e38f, float.PositiveInfinity];
        uint[] bits = ascending.Select(LogitProcessors.OrderedBits).ToArray();
        Assert.Equal(bits.Order(), bits);
        Assert.Equal(bits.Length, bits.Distinct().Count());
        Assert.Equal(LogitProcessors.OrderedBits(0f), LogitProcessors.OrderedBits(-0f));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(50)]
    [InlineData(999)]
    [InlineData(1000)]
    public void Kth_largest_counts_duplicates(int k)
    {
        var rng = new Random(k);
        float[] x = Enumerable.Range(0, 1000).Select(_ => rng.Next(-20, 20) / 8f).ToArray(); // many duplicates
        for (int i = 0; i < 30; i++) x[rng.Next(x.Length)] = float.NegativeInfinity;
        x[rng.Next(x.Length)] = -0f;
        Assert.Equal(x.OrderDescending().ElementAt(k - 1), LogitProcessors.KthLargest(x, k));
    }
}
