namespace Owl3Native.Core.Backend;

/// <summary>
/// Paged K/V storage of every decoder layer: per layer, K and V of `[numBlocks, blockSize, kvHeads, headDim]`.
/// Blocks are handed out by the engine's allocator; a sequence addresses its tokens through a block table
/// (token i lives in block `table[i / blockSize]`, slot `i % blockSize`). Owned by a backend (host or device memory).
/// </summary>
public abstract class KvCacheStorage : IDisposable
{
    /// <summary>Creates the layout description.</summary>
    protected KvCacheStorage(int layers, int numBlocks, int blockSize, int kvHeads, int headDim)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numBlocks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        Layers = layers;
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        KvHeads = kvHeads;
        HeadDim = headDim;
    }

    /// <summary>Decoder layers.</summary>
    public int Layers { get; }
    /// <summary>Blocks per layer.</summary>
    public int NumBlocks { get; }
    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }
    /// <summary>Key/value heads.</summary>
    public int KvHeads { get; }
    /// <summary>Head dim.</summary>
    public int HeadDim { get; }

    /// <summary>Floats of one token's K (or V) in one layer.</summary>
    public int TokenStride => KvHeads * HeadDim;

    /// <summary>Frees the storage. Idempotent.</summary>
    public abstract void Dispose();
}
