using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.Backend;

/// <summary>
/// One request's visual keys and values for one hyper layer (spec/MODEL.md §4.1), computed once per request:
/// `Keys`/`Values` are `[kvHeads, imageTokens, headDim]` with MI-RoPE already applied to the keys; image token
/// `u` belongs to crop `u / TokensPerCrop`, which text at absolute position `t` may see iff `t ≥ VisibleFrom[crop]`.
/// </summary>
public sealed record VisualKv(Tensor Keys, Tensor Values, int TokensPerCrop, int[] VisibleFrom)
{
    /// <summary>Crops appear in marker order, so <see cref="VisibleFrom"/> must ascend strictly.</summary>
    public int[] VisibleFrom { get; } = Ascending(VisibleFrom);

    private static int[] Ascending(int[] from)
    {
        for (int j = 1; j < from.Length; j++)
            if (from[j] <= from[j - 1])
                throw new ArgumentException($"image markers must appear in increasing positions; crop {j} starts at {from[j]} after {from[j - 1]}");
        return from;
    }

    /// <summary>Number of crops.</summary>
    public int Crops => VisibleFrom.Length;

    /// <summary>Visual tokens (crops × tokens per crop).</summary>
    public int ImageTokens => Crops * TokensPerCrop;

    /// <summary>How many crops text at position <paramref name="t"/> sees (crops become visible in marker order).</summary>
    public int VisibleCrops(int t)
    {
        int n = 0;
        foreach (int from in VisibleFrom) if (t >= from) n++;
        return n;
    }

    /// <summary>Whether crop <paramref name="crop"/> is visible from position <paramref name="t"/>.</summary>
    public bool IsVisible(int crop, int t) => t >= VisibleFrom[crop];
}

/// <summary>
/// One sequence's slice of a forward step: `TokenCount` new tokens at rows [TokenStart, TokenStart + TokenCount) of
/// the step's flattened activations, at absolute positions CachedLength.. (chunked prefill and decode use the same
/// absolute indices). `Visual[layer]` is null for non-hyper layers and requests without images.
/// </summary>
public sealed class AttentionSequence(int tokenStart, int tokenCount, int cachedLength, int[] blockTable, VisualKv?[] visual)
{
    /// <summary>First row of this sequence in the step's activations.</summary>
    public int TokenStart { get; } = tokenStart;
    /// <summary>New tokens this step.</summary>
    public int TokenCount { get; } = tokenCount;
    /// <summary>Tokens already in the cache = absolute position of the first new token.</summary>
    public int CachedLength { get; } = cachedLength;
    /// <summary>Physical block of each logical block.</summary>
    public int[] BlockTable { get; } = blockTable;
    /// <summary>Visual K/V per layer (null where none).</summary>
    public VisualKv?[] Visual { get; } = visual;
    /// <summary>Length after this step.</summary>
    public int TotalLength => CachedLength + TokenCount;
}

/// <summary>Everything the attention ops of one forward step need: the sequences, positions, and the cache.</summary>
public sealed class AttentionBatch
{
    /// <summary>Builds a batch; positions are derived from each sequence's cached length.</summary>
    public AttentionBatch(IReadOnlyList<AttentionSequence> sequences, KvCacheStorage cache)
    {
        Sequences = sequences;
        Cache = cache;
        Tokens = sequences.Sum(s => s.TokenCount);
        Positions = new int[Tokens];
        foreach (var s in sequences)
        {
            if (s.BlockTable.Length * cache.BlockSize < s.TotalLength)
                throw new ArgumentException($"block table of {s.BlockTable.Length} blocks holds {s.BlockTable.Length * cache.BlockSize} tokens; the sequence needs {s.TotalLength}");
            for (int i = 0; i < s.TokenCount; i++) Positions[s.TokenStart + i] = s.CachedLength + i;
        }
    }

    /// <summary>Sequences in row order.</summary>
    public IReadOnlyList<AttentionSequence> Sequences { get; }
    /// <summary>The paged K/V cache.</summary>
    public KvCacheStorage Cache { get; }
    /// <summary>Total new tokens.</summary>
    public int Tokens { get; }
    /// <summary>Absolute position of every row.</summary>
    public int[] Positions { get; }

    /// <summary>True when any sequence has visual K/V in <paramref name="layer"/>.</summary>
    public bool HasVisual(int layer) => Sequences.Any(s => s.Visual[layer] is not null);
}
