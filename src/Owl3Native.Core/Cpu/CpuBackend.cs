using Owl3Native.Core.Backend;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.Cpu;

/// <summary>
/// The CPU backend: SIMD (Vector256, FMA), multi-threaded, bf16 weights read from the mapping and widened in
/// registers, fp32 activations and accumulation. It is the embedded default and the numerical reference for every
/// CUDA kernel. The op families live in partial files (Linear, Norm, Rope, Attention, Elementwise).
/// </summary>
public sealed partial class CpuBackend : IBackend
{
    private readonly ParallelOptions _parallel;

    /// <summary>Creates a backend using <paramref name="threads"/> threads (0: all cores).</summary>
    public CpuBackend(int threads = 0)
    {
        Threads = threads > 0 ? threads : Environment.ProcessorCount;
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = Threads };
    }

    /// <inheritdoc/>
    public string Name => "cpu";

    /// <summary>Worker threads.</summary>
    public int Threads { get; }

    /// <summary>Runs <paramref name="body"/> over [0, count) in about <see cref="Threads"/> contiguous chunks.</summary>
    private void ParallelChunks(int count, Action<int, int> body, int minChunk = 1)
    {
        if (count <= 0) return;
        int chunks = Math.Max(1, Math.Min(Threads * 4, count / Math.Max(1, minChunk)));
        if (chunks == 1 || Threads == 1)
        {
            body(0, count);
            return;
        }
        Parallel.For(0, chunks, _parallel, c =>
        {
            int start = (int)((long)count * c / chunks), end = (int)((long)count * (c + 1) / chunks);
            if (end > start) body(start, end);
        });
    }

    /// <inheritdoc/>
    public Tensor Embedding(Weight table, ReadOnlySpan<int> ids)
    {
        var y = new Tensor(ids.Length, table.Cols);
        for (int t = 0; t < ids.Length; t++)
        {
            int id = ids[t];
            if ((uint)id >= (uint)table.Rows)
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the {table.Rows} rows of `{table.Name}`");
            table.ReadRow(id, y.Row(t));
        }
        return y;
    }

    /// <inheritdoc/>
    public KvCacheStorage CreateKvCache(int layers, int numBlocks, int blockSize, int kvHeads, int headDim) =>
        new CpuKvCache(layers, numBlocks, blockSize, kvHeads, headDim);
}
