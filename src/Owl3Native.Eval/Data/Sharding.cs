using System.Globalization;

namespace Owl3Native.Eval.Data;

/// <summary>`--shard i/N`: this process runs records i, i+N, i+2N, … (0-based), like the original's rank sampler (§1.2).</summary>
/// <param name="Index">0-based shard index (0 ≤ Index &lt; Count).</param>
/// <param name="Count">Number of shards (≥ 1).</param>
public readonly record struct Shard(int Index, int Count)
{
    /// <summary>The whole dataset (shard 0/1).</summary>
    public static Shard All => new(0, 1);

    /// <summary>Parses `i/N`.</summary>
    /// <exception cref="FormatException">The text is not `i/N` with 0 ≤ i &lt; N.</exception>
    public static Shard Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            || !int.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            || n < 1 || i >= n)
            throw new FormatException($"--shard must be i/N with 0 ≤ i < N (0-based), e.g. 0/4; got `{text}`");
        return new Shard(i, n);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>Which records a run processes: `--limit` first (the first N records), then the shard's stride.</summary>
public static class Sharding
{
    /// <summary>The record indices of <paramref name="shard"/> among the first <paramref name="limit"/> (all when null) of <paramref name="count"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative count or limit, or an invalid shard.</exception>
    public static IReadOnlyList<int> Indices(int count, int? limit, Shard shard)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (limit is < 0) throw new ArgumentOutOfRangeException(nameof(limit), "--limit must be ≥ 0");
        if (shard.Count < 1 || shard.Index < 0 || shard.Index >= shard.Count)
            throw new ArgumentOutOfRangeException(nameof(shard), $"invalid shard {shard}");
        int total = Math.Min(count, limit ?? count);
        var result = new List<int>();
        for (int i = shard.Index; i < total; i += shard.Count) result.Add(i);
        return result;
    }

    /// <summary>The items of <see cref="Indices"/>.</summary>
    public static IReadOnlyList<T> Select<T>(IReadOnlyList<T> items, int? limit, Shard shard)
    {
        ArgumentNullException.ThrowIfNull(items);
        return Indices(items.Count, limit, shard).Select(i => items[i]).ToArray();
    }
}
