using Owl3Native.Eval.Data;
using Xunit;

namespace Owl3Native.Eval.Tests.Data;

public sealed class ShardingTests
{
    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("2/4", 2, 4)]
    [InlineData(" 3 / 4 ", 3, 4)]
    public void Shard_parses_zero_based_i_of_n(string text, int index, int count) =>
        Assert.Equal(new Shard(index, count), Shard.Parse(text));

    [Theory]
    [InlineData("4/4")]
    [InlineData("1/0")]
    [InlineData("-1/4")]
    [InlineData("1")]
    [InlineData("a/b")]
    [InlineData("1/2/3")]
    public void Bad_shards_are_rejected(string text)
    {
        var e = Assert.Throws<FormatException>(() => Shard.Parse(text));
        Assert.Contains("0-based", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shard_takes_every_nth_record_from_its_index()
    {
        Assert.Equal([1, 4, 7], Sharding.Indices(10, null, new Shard(1, 3)));
        Assert.Equal([0, 3, 6, 9], Sharding.Indices(10, null, new Shard(0, 3)));
        Assert.Empty(Sharding.Indices(2, null, new Shard(3, 4)));
    }

    [Fact]
    public void Limit_applies_before_sharding()
    {
        Assert.Equal([1, 3], Sharding.Indices(10, 5, new Shard(1, 2)));
        Assert.Equal([0, 2, 4], Sharding.Indices(10, 5, new Shard(0, 2)));
        Assert.Equal([0, 1, 2], Sharding.Indices(3, 50, Shard.All));
        Assert.Empty(Sharding.Indices(10, 0, Shard.All));
    }

    [Fact]
    public void Shards_partition_the_limited_records()
    {
        var all = Enumerable.Range(0, 4).SelectMany(i => Sharding.Indices(23, 17, new Shard(i, 4))).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, 17), all);
        Assert.Equal(["b", "d"], Sharding.Select(["a", "b", "c", "d", "e"], 4, new Shard(1, 2)));
    }
}
