using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Model;

/// <summary>
/// What a decode step captured as a CUDA graph depends on besides the contents of its <see cref="DecodeArena"/>: the
/// launch shapes (sequences, block-table width, images or not) and the split plans (grid sizes and keys per split are
/// kernel arguments). A later step with the same key replays the graph with its own positions, lengths and tables.
/// </summary>
public sealed record DecodeGraphKey(int Seqs, int TableWidth, bool HasVisual, int Splits, int SplitKeys, int VisualSplits, int VisualSplitKeys,
    int CrossSplits, int CrossSplitKeys, bool ClusterSplits = false, bool VisualClusterSplits = false, bool CrossClusterSplits = false, int DecodeStages = 2);

/// <summary>
/// Fixed device buffers a decode step's bookkeeping is written into, so every address the layers read stays the same
/// from step to step (the condition for replaying a captured CUDA graph): positions, cache slots, block tables, row
/// starts, cached and total lengths, last rows, visible visual keys and visual tokens per sequence, and per hyper layer
/// the sequences' visual K/V addresses. Sized for <see cref="Seqs"/> sequences of block tables up to
/// <see cref="MaxBlocks"/> wide.
/// </summary>
public sealed class DecodeArena : IDisposable
{
    private const int Regions = 9; // positions, slots, row starts, cached lengths, lengths, last rows, visible visual keys, visual tokens, token ids
    private readonly DeviceBuffer<int> _small, _tables, _constant;
    private readonly DeviceBuffer<ulong> _visual;
    private readonly PinnedBuffer<int> _smallHost, _tablesHost; // host mirrors: a step's copies are DMA transfers on its stream
    private readonly PinnedBuffer<ulong> _visualHost;
    private readonly int[] _hyperLayers;

    /// <summary>
    /// An arena for up to <paramref name="seqs"/> sequences whose block tables are at most <paramref name="maxBlocks"/>
    /// blocks long, with visual K/V address arrays for each of <paramref name="hyperLayers"/>.
    /// </summary>
    public DecodeArena(CudaContext context, int seqs, int maxBlocks, IReadOnlyList<int> hyperLayers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seqs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBlocks, 1);
        (Seqs, MaxBlocks, _hyperLayers) = (seqs, TableWidth(maxBlocks), [.. hyperLayers]);
        var owned = new List<IDisposable>();
        try
        {
            _small = Keep(new DeviceBuffer<int>(context, (long)Regions * (seqs + 1)));
            _tables = Keep(new DeviceBuffer<int>(context, (long)seqs * MaxBlocks));
            _constant = Keep(new DeviceBuffer<int>(context, seqs + 2)); // zeros [seqs] (a cross-attention's text lengths), a dummy tile pair
            _visual = Keep(new DeviceBuffer<ulong>(context, Math.Max(1L, 2L * _hyperLayers.Length * seqs)));
            _smallHost = Keep(new PinnedBuffer<int>(context, _small.Length));
            _tablesHost = Keep(new PinnedBuffer<int>(context, _tables.Length));
            _visualHost = Keep(new PinnedBuffer<ulong>(context, _visual.Length));
            _constant.FillBytes(0);
            _visual.FillBytes(0);
            context.Synchronize(); // the memsets ran on the legacy stream; steps run on a non-blocking one
        }
        catch
        {
            foreach (var d in owned) d.Dispose();
            throw;
        }

        T Keep<T>(T d) where T : IDisposable { owned.Add(d); return d; }
    }

    /// <summary>Most sequences a step may have.</summary>
    public int Seqs { get; }

    /// <summary>Widest block table (a power of two).</summary>
    public int MaxBlocks { get; }

    /// <summary>The block-table width a step with tables of up to <paramref name="blocks"/> blocks uses: the next power of two, at least 8 (so a graph outlives many steps of a growing sequence).</summary>
    public static int TableWidth(int blocks) => (int)Math.Max(8u, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, blocks)));

    /// <summary>
    /// The key count a graph step plans its splits for: <paramref name="keys"/> rounded up to a multiple of 256, or of an
    /// eighth of its power of two when that is larger (at most 1/8 more than needed). A growing sequence keeps its split
    /// plan, and so its graph, for hundreds of steps instead of changing it every 64-key tile; the kernels give the
    /// splits past a row's keys nothing to do.
    /// </summary>
    public static int PlanKeys(int keys)
    {
        if (keys <= 0) return 0;
        int step = Math.Max(256, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)keys) / 16);
        return (int)Math.Min(int.MaxValue, (keys + (long)step - 1) / step * step);
    }

    /// <summary>Device addresses of a written step's arrays.</summary>
    public sealed record Addresses(ulong Positions, ulong Slots, ulong BlockTables, ulong SeqQStart, ulong SeqPos, ulong TextLens, ulong LastRows,
        ulong VisLens, ulong VisTokens, ulong ZeroLens, ulong PrefillTiles, IReadOnlyList<(int Layer, (ulong K, ulong V) Kv)> Visual);

    /// <summary>int32 token ids of the step written last (<see cref="Write"/>'s ids), one per sequence.</summary>
    public ulong Ids => At(_small, 8L * (Seqs + 1));

    /// <summary>
    /// Writes <paramref name="plan"/> (a decode step's, tables <see cref="MaxBlocks"/> wide or narrower), the step's token
    /// <paramref name="ids"/> (to <see cref="Ids"/>) and the sequences' visual K/V addresses on <paramref name="stream"/>, in
    /// its order (DMA from pinned host mirrors); the addresses returned are the same for every step.
    /// </summary>
    public Addresses Write(CudaStream stream, StepPlan plan, IReadOnlyList<DeviceSeq> seqs, ReadOnlySpan<int> ids)
    {
        int n = seqs.Count, stride = Seqs + 1;
        if (n > Seqs || plan.MaxBlocks > MaxBlocks || plan.Positions.Length != n || ids.Length != n)
            throw new ArgumentException($"a decode step of {n} sequences × {plan.MaxBlocks} blocks ({ids.Length} ids) on an arena for {Seqs} × {MaxBlocks}");
        // The host mirrors are rewritten only here, after the previous step's synchronise: its copies have run.
        var small = _smallHost.Span;
        plan.Positions.CopyTo(small[(0 * stride)..]);
        plan.Slots.CopyTo(small[(1 * stride)..]);
        plan.SeqQStart.CopyTo(small[(2 * stride)..]);
        plan.SeqPos.CopyTo(small[(3 * stride)..]);
        plan.TextLens.CopyTo(small[(4 * stride)..]);
        plan.LastRows.CopyTo(small[(5 * stride)..]);
        plan.VisLens.CopyTo(small[(6 * stride)..]);
        plan.VisTokens.CopyTo(small[(7 * stride)..]);
        ids.CopyTo(small[(8 * stride)..]);
        _smallHost.CopyToAsync(_small, (long)Regions * stride, stream);
        plan.BlockTables.CopyTo(_tablesHost.Span);
        _tablesHost.CopyToAsync(_tables, plan.BlockTables.Length, stream);
        var visual = new List<(int, (ulong, ulong))>();
        if (plan.HasVisual)
        {
            var addresses = _visualHost.Span;
            addresses.Clear();
            for (int h = 0; h < _hyperLayers.Length; h++)
            {
                for (int i = 0; i < n; i++)
                    if (seqs[i].Visual is { } v && v.Layers.TryGetValue(_hyperLayers[h], out var kv))
                        (addresses[(2 * h) * Seqs + i], addresses[(2 * h + 1) * Seqs + i]) = (kv.K, kv.V);
                visual.Add((_hyperLayers[h], (At(_visual, (2L * h) * Seqs), At(_visual, (2L * h + 1) * Seqs))));
            }
            _visualHost.CopyToAsync(_visual, _visual.Length, stream);
        }
        ulong S(int region) => At(_small, (long)region * stride);
        return new Addresses(S(0), S(1), _tables.Pointer, S(2), S(3), S(4), S(5), S(6), S(7), _constant.Pointer, At(_constant, Seqs), visual);
    }

    /// <summary>Frees the buffers.</summary>
    public void Dispose()
    {
        _small.Dispose();
        _tables.Dispose();
        _constant.Dispose();
        _visual.Dispose();
        _smallHost.Dispose();
        _tablesHost.Dispose();
        _visualHost.Dispose();
    }

    private static ulong At<T>(DeviceBuffer<T> b, long index) where T : unmanaged => b.Pointer + (ulong)(index * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
}
