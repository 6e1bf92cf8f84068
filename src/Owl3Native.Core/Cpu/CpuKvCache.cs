using Owl3Native.Core.Backend;

namespace Owl3Native.Core.Cpu;

/// <summary>Host K/V blocks in fp32 (the CPU path keeps fp32 so it stays the exact reference).</summary>
internal sealed class CpuKvCache : KvCacheStorage
{
    public CpuKvCache(int layers, int numBlocks, int blockSize, int kvHeads, int headDim)
        : base(layers, numBlocks, blockSize, kvHeads, headDim)
    {
        long perLayer = (long)numBlocks * blockSize * kvHeads * headDim;
        if (perLayer > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(numBlocks), $"{perLayer} floats per layer exceed one array; use fewer blocks");
        K = new float[layers][];
        V = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            K[l] = new float[perLayer];
            V[l] = new float[perLayer];
        }
    }

    /// <summary>Per layer `[numBlocks, blockSize, kvHeads, headDim]`.</summary>
    public float[][] K { get; private set; }
    public float[][] V { get; private set; }

    /// <summary>Offset of a token's row (all kv heads) given its position and the sequence's block table.</summary>
    public int Offset(int[] blockTable, int position) =>
        (blockTable[position / BlockSize] * BlockSize + position % BlockSize) * TokenStride;

    public override void Dispose()
    {
        K = [];
        V = [];
    }
}
