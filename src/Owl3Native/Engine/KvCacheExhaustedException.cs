namespace Owl3Native.Engine;

/// <summary>The KV cache has fewer free blocks than a request needs; nothing was allocated.</summary>
public sealed class KvCacheExhaustedException(int requested, int free, int blockSize)
    : Exception($"KV cache exhausted: {requested} block(s) of {blockSize} tokens requested, {free} free")
{
    /// <summary>Blocks asked for.</summary>
    public int Requested { get; } = requested;
    /// <summary>Blocks that were free.</summary>
    public int Free { get; } = free;
}
