using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Model;

/// <summary>
/// One sequence of a device step: tokens already cached, new tokens, its block table (physical block per logical block),
/// and its request's visual K/V (null: no images).
/// </summary>
public sealed record DeviceSeq(int Cached, int New, int[] Blocks, DeviceVisual? Visual = null);

/// <summary>
/// A forward step's attention bookkeeping on the device, shared by every layer of the step: positions and cache slots
/// per new token, block tables, the decode part's text lengths and split plan (the leading sequences that bring one
/// token each, <see cref="DecodeSeqs"/>) and the prefill part's CTA list (the other sequences: prefill chunks, packed).
/// A decode step has only the first, a prefill step only the second, a mixed step both.
/// </summary>
public sealed class DeviceStep : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly Dictionary<int, (ulong K, ulong V)> _visual = [];

    /// <summary>Plans and uploads a step over <paramref name="seqs"/> in a cache of <paramref name="blockSize"/>-token blocks.</summary>
    /// <exception cref="ArgumentException">A block table too short for its sequence, or no new tokens in a sequence.</exception>
    public DeviceStep(CudaContext context, AttentionKernels attention, IReadOnlyList<DeviceSeq> seqs, int blockSize, int kvHeads, int headDim)
    {
        var plan = StepPlan.Of(seqs, blockSize);
        (Seqs, Tokens, IsDecode, MaxBlocks, HasVisual) = (seqs.Count, plan.Tokens, plan.IsDecode, plan.MaxBlocks, plan.HasVisual);
        // The leading sequences of one new token each run the decode kernel; the rest (prefill chunks) the prefill kernel.
        int d = DecodeSeqs = plan.DecodeSeqs;
        try
        {
            Positions = Up(context, plan.Positions);
            Slots = Up(context, plan.Slots);
            BlockTables = Up(context, plan.BlockTables);
            SeqQStart = Up(context, plan.SeqQStart);
            SeqPos = Up(context, plan.SeqPos);
            TextLens = Up(context, plan.TextLens);
            LastRows = Up(context, plan.LastRows);
            // Images: visible visual keys per new row (a decode step's rows are its sequences), visual tokens per sequence,
            // and per hyper layer the sequences' K/V addresses (0 for a sequence without images).
            if (plan.HasVisual)
            {
                VisLens = Up(context, plan.VisLens);
                VisTokens = Up(context, plan.VisTokens);
                foreach (int layer in seqs.Where(s => s.Visual is not null).SelectMany(s => s.Visual!.Layers.Keys).Distinct())
                {
                    ulong[] k = [.. seqs.Select(s => s.Visual is { } v && v.Layers.TryGetValue(layer, out var kv) ? kv.K : 0ul)];
                    ulong[] v = [.. seqs.Select(s => s.Visual is { } vis && vis.Layers.TryGetValue(layer, out var kv) ? kv.V : 0ul)];
                    _visual[layer] = (UpLongs(context, k), UpLongs(context, v));
                }
            }
            ((SplitKeys, Splits, ClusterSplits), (VisualSplitKeys, VisualSplits, VisualClusterSplits), (CrossSplitKeys, CrossSplits, CrossClusterSplits)) =
                DecodePlan(plan, d, attention, context.Multiprocessors, kvHeads, headDim, keys => keys);
            DecodeStages = attention.DecodeStages(headDim);
            if (d > 0 && plan.HasVisual) ZeroLens = Up(context, new int[Seqs]);
            if (d < Seqs)
            {
                // The prefill part: its sequences' row starts are absolute, its CTA list counts sequences from the first of them.
                PrefillVariant = attention.DevicePrefillVariant(headDim);
                var tiles = AttentionKernels.PrefillTiles(plan.SeqQStart.AsSpan(d), PrefillVariant.Rows);
                PrefillTileCount = tiles.Length / 2;
                PrefillTiles = Up(context, tiles);
            }
            else
            {
                PrefillVariant = AttentionKernels.PrefillVariantFor(headDim);
                PrefillTiles = Up(context, new int[2]);
            }
            context.Synchronize(); // a pageable upload may return before its transfer lands; the layers run on other streams
        }
        catch
        {
            Dispose(); // nothing kept when an allocation or the plan fails part way
            throw;
        }
    }

    /// <summary>
    /// A decode step (its token <paramref name="ids"/> included, at <see cref="DecodeArena.Ids"/>) written into
    /// <paramref name="arena"/>'s fixed buffers on <paramref name="stream"/> (in stream order, nothing allocated): every
    /// address the layers read is the arena's, so a CUDA graph captured from one such step
    /// replays any later one of the same <see cref="DecodeGraphKey"/>. Disposing it frees nothing.
    /// </summary>
    /// <exception cref="ArgumentException">Not a decode step, more sequences or wider tables than the arena holds, or a block table too short.</exception>
    public DeviceStep(DecodeArena arena, CudaStream stream, AttentionKernels attention, IReadOnlyList<DeviceSeq> seqs, ReadOnlySpan<int> ids, int blockSize, int kvHeads, int headDim)
    {
        if (seqs.Count == 0 || seqs.Any(q => q.New != 1)) throw new ArgumentException("an arena step is a decode step: one new token per sequence");
        if (seqs.Count > arena.Seqs) throw new ArgumentException($"{seqs.Count} sequences on an arena for {arena.Seqs}");
        int width = DecodeArena.TableWidth(seqs.Max(q => q.Blocks.Length));
        var plan = StepPlan.Of(seqs, blockSize, width);
        if (width > arena.MaxBlocks) throw new ArgumentException($"block tables of {width} columns on an arena for {arena.MaxBlocks}");
        (Seqs, Tokens, IsDecode, MaxBlocks, HasVisual, DecodeSeqs) = (seqs.Count, plan.Tokens, true, width, plan.HasVisual, seqs.Count);
        var a = arena.Write(stream, plan, seqs, ids);
        (Positions, Slots, BlockTables, SeqQStart, SeqPos, TextLens, LastRows) = (a.Positions, a.Slots, a.BlockTables, a.SeqQStart, a.SeqPos, a.TextLens, a.LastRows);
        if (plan.HasVisual)
        {
            (VisLens, VisTokens, ZeroLens) = (a.VisLens, a.VisTokens, a.ZeroLens);
            foreach (var (layer, kv) in a.Visual) _visual[layer] = kv;
        }
        // Planned on bucketed key counts (DecodeArena.PlanKeys), so the graph key stays put while sequences grow.
        ((SplitKeys, Splits, ClusterSplits), (VisualSplitKeys, VisualSplits, VisualClusterSplits), (CrossSplitKeys, CrossSplits, CrossClusterSplits)) =
            DecodePlan(plan, Seqs, attention, stream.Context.Multiprocessors, kvHeads, headDim, DecodeArena.PlanKeys);
        DecodeStages = attention.DecodeStages(headDim);
        PrefillVariant = AttentionKernels.PrefillVariantFor(headDim);
        PrefillTiles = a.PrefillTiles;
    }

    /// <summary>
    /// The split plans of the decode part (the first <paramref name="d"/> sequences, one row each): over the text keys
    /// (layers without images), over visual + text keys (hyper layers with images), over the visible visual keys only
    /// (240728/241014's cross-attention, whose text lengths are 0); key counts through <paramref name="keys"/> (a graph
    /// step buckets them). (64, 1) where there is no such part. With <see cref="AttentionKernels.ClusterDecode"/>, plans
    /// of one wave are cluster plans (<see cref="AttentionKernels.ClusterDecodeSplits"/>).
    /// </summary>
    private static ((int SplitKeys, int Splits, bool Cluster) Text, (int SplitKeys, int Splits, bool Cluster) Visual, (int SplitKeys, int Splits, bool Cluster) Cross) DecodePlan(
        StepPlan plan, int d, AttentionKernels attention, int multiprocessors, int kvHeads, int headDim, Func<int, int> keys)
    {
        if (d == 0) return ((64, 1, false), (64, 1, false), (64, 1, false));
        int stages = attention.DecodeStages(headDim);
        int ctas = attention.DecodeCtasPerMultiprocessor(headDim, stages);
        int maxCluster = attention.ClusterDecode ? attention.ClusterDecodeLimit(headDim, stages) : 0;
        // maxCluster 0: the launch pair's plan, as DecodeSplits gives it.
        (int, int, bool) Plan(int n) => AttentionKernels.ClusterDecodeSplits(keys(n), d, kvHeads, multiprocessors, ctas, maxCluster);
        var text = Plan(plan.TextLens.Take(d).Max());
        if (!plan.HasVisual) return (text, text, (64, 1, false));
        return (text, Plan(plan.DecodeKeysOf(d)), Plan(Math.Max(1, plan.VisLens.Take(d).Max())));
    }

    /// <summary>What a CUDA graph captured from this decode step depends on besides the arena's contents.</summary>
    public DecodeGraphKey GraphKey => new(Seqs, MaxBlocks, HasVisual, Splits, SplitKeys, VisualSplits, VisualSplitKeys, CrossSplits, CrossSplitKeys,
        ClusterSplits, VisualClusterSplits, CrossClusterSplits, DecodeStages);

    /// <summary>Sequences.</summary>
    public int Seqs { get; }
    /// <summary>New tokens of all sequences (the rows of the step's activations).</summary>
    public int Tokens { get; }
    /// <summary>Every sequence brings one token: the layers run the decode kernel only.</summary>
    public bool IsDecode { get; }
    /// <summary>
    /// The leading sequences that bring one token each: the decode kernel serves them (rows 0 .. DecodeSeqs − 1), the
    /// prefill kernel the rest (a mixed step: decode rows next to prefill chunks, as the scheduler orders them).
    /// </summary>
    public int DecodeSeqs { get; }
    /// <summary>Some sequence brings images (visual K/V).</summary>
    public bool HasVisual { get; }
    /// <summary>Columns of <see cref="BlockTables"/>.</summary>
    public int MaxBlocks { get; }
    /// <summary>int32 absolute position of each new token.</summary>
    public ulong Positions { get; }
    /// <summary>int32 cache slot (block · blockSize + offset) of each new token.</summary>
    public ulong Slots { get; }
    /// <summary>int32 `[seqs, maxBlocks]`.</summary>
    public ulong BlockTables { get; }
    /// <summary>int32 first row of each sequence, `[seqs + 1]`.</summary>
    public ulong SeqQStart { get; }
    /// <summary>int32 cached length of each sequence.</summary>
    public ulong SeqPos { get; }
    /// <summary>int32 length after the step of each sequence (the decode's key counts).</summary>
    public ulong TextLens { get; }
    /// <summary>int32 row of each sequence's last new token (whose logits the step produces).</summary>
    public ulong LastRows { get; }
    /// <summary>int32 visible visual keys of each new row (0 when the step has no images).</summary>
    public ulong VisLens { get; }
    /// <summary>int32 visual tokens (per KV head) of each sequence's request (0 when the step has no images).</summary>
    public ulong VisTokens { get; }

    /// <summary>Device arrays `[seqs]` of the sequences' visual key and value addresses for hyper layer <paramref name="layer"/> ((0, 0): none).</summary>
    public (ulong K, ulong V) VisualFor(int layer) => _visual.TryGetValue(layer, out var kv) ? kv : (0, 0);
    /// <summary>Prefill part: the CTA list for <see cref="PrefillVariant"/> (sequences counted from <see cref="DecodeSeqs"/>).</summary>
    public ulong PrefillTiles { get; }
    /// <summary>Prefill part: CTAs per head.</summary>
    public int PrefillTileCount { get; }
    /// <summary>The prefill kernel the step's tile list was planned for.</summary>
    public PrefillVariant PrefillVariant { get; }
    /// <summary>Decode: split-K partitions of the text keys (layers without images).</summary>
    public int Splits { get; }
    /// <summary>Decode: keys per split (layers without images).</summary>
    public int SplitKeys { get; }
    /// <summary>Decode: split-K partitions of the visual + text keys (hyper layers when the step has images).</summary>
    public int VisualSplits { get; }
    /// <summary>Decode: keys per split of the visual + text keys.</summary>
    public int VisualSplitKeys { get; }
    /// <summary>Decode: split-K partitions of the visible visual keys (240728/241014 cross-attention).</summary>
    public int CrossSplits { get; }
    /// <summary>Decode: keys per split of the visible visual keys.</summary>
    public int CrossSplitKeys { get; }
    /// <summary>Decode: stages of the tensor-core decode kernels (<see cref="AttentionKernels.DecodeStages"/>; the plans assume it).</summary>
    public int DecodeStages { get; } = 2;
    /// <summary>Decode: the text splits merge in a thread-block cluster (<see cref="AttentionKernels.ClusterDecode"/>).</summary>
    public bool ClusterSplits { get; }
    /// <summary>Decode: the visual + text splits merge in a thread-block cluster.</summary>
    public bool VisualClusterSplits { get; }
    /// <summary>Decode: the cross-attention splits merge in a thread-block cluster.</summary>
    public bool CrossClusterSplits { get; }
    /// <summary>Decode with images: int32 zeros `[seqs]`, the text lengths of a cross-attention (else the address 0).</summary>
    public ulong ZeroLens { get; }

    /// <summary>Frees the step's device arrays.</summary>
    public void Dispose()
    {
        foreach (var b in _owned) b.Dispose();
    }

    private ulong UpLongs(CudaContext context, ulong[] values) => Own(DeviceUpload.Of<ulong>(context, values));

    private ulong Up(CudaContext context, int[] values) => Own(DeviceUpload.Of<int>(context, values));

    private ulong Own<T>(DeviceBuffer<T> buffer) where T : unmanaged
    {
        _owned.Add(buffer);
        return buffer.Pointer;
    }
}

/// <summary>The host side of a <see cref="DeviceStep"/>: what it uploads.</summary>
public sealed record StepPlan(int Tokens, bool IsDecode, int MaxBlocks, int[] Positions, int[] Slots, int[] BlockTables, int[] SeqQStart, int[] SeqPos, int[] TextLens,
    int[] VisLens, int[] VisTokens)
{
    /// <summary>Some sequence brings images.</summary>
    public bool HasVisual => VisTokens.Any(t => t > 0);

    /// <summary>Keys the longest decode row walks (visible visual keys + text keys), for the split plan; 0 unless a decode step.</summary>
    public int DecodeKeys => IsDecode ? DecodeKeysOf(TextLens.Length) : 0;

    /// <summary>Keys the longest row of the first <paramref name="decodeSeqs"/> sequences walks, each of one new token (its row = its index).</summary>
    public int DecodeKeysOf(int decodeSeqs) => decodeSeqs == 0 ? 0 : TextLens.Take(decodeSeqs).Select((t, i) => t + VisLens[i]).Max();

    /// <summary>The leading sequences of one new token each (a decode step: all of them); the decode kernel serves them.</summary>
    public int DecodeSeqs
    {
        get
        {
            int d = 0;
            while (d + 1 < SeqQStart.Length && SeqQStart[d + 1] - SeqQStart[d] == 1) d++;
            return d;
        }
    }

    /// <summary>The row of each sequence's last new token.</summary>
    public int[] LastRows => [.. SeqQStart.Skip(1).Select(r => r - 1)];

    /// <summary>
    /// Positions (cached length onwards) and cache slots (block · blockSize + offset) of each sequence's new tokens in
    /// row order, the block tables padded to the longest, cumulative row starts, cached lengths, lengths after the step;
    /// a decode step when every sequence brings exactly one token.
    /// </summary>
    /// <param name="seqs">The step's sequences.</param>
    /// <param name="blockSize">Tokens per cache block.</param>
    /// <param name="tableWidth">Columns of the block tables (0: the longest table's).</param>
    /// <exception cref="ArgumentException">A sequence without new tokens, or a block table too short for its sequence.</exception>
    public static StepPlan Of(IReadOnlyList<DeviceSeq> seqs, int blockSize, int tableWidth = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        int n = seqs.Count, maxBlocks = Math.Max(1, n == 0 ? 1 : seqs.Max(s => s.Blocks.Length));
        if (tableWidth > 0)
        {
            // A fixed width (a captured decode graph's): the tables are padded to it.
            if (tableWidth < maxBlocks) throw new ArgumentException($"a block table of {maxBlocks} blocks is wider than {tableWidth}");
            maxBlocks = tableWidth;
        }
        var positions = new List<int>();
        var slots = new List<int>();
        var qStart = new int[n + 1];
        var seqPos = new int[n];
        var textLens = new int[n];
        var tables = new int[n * maxBlocks];
        var visLens = new List<int>();
        var visTokens = new int[n];
        for (int i = 0; i < n; i++)
        {
            var s = seqs[i];
            if (s.Visual is { IsDisposed: true }) throw new ObjectDisposedException(nameof(DeviceVisual), $"sequence {i}'s visual K/V were freed");
            visTokens[i] = s.Visual?.ImageTokens ?? 0;
            if (s.New < 1) throw new ArgumentException($"sequence {i} brings no new token");
            int total = s.Cached + s.New;
            if ((long)s.Blocks.Length * blockSize < total)
                throw new ArgumentException($"sequence {i}: {s.Blocks.Length} blocks of {blockSize} hold {s.Blocks.Length * blockSize} tokens, it needs {total}");
            for (int p = s.Cached; p < total; p++)
            {
                positions.Add(p);
                slots.Add(s.Blocks[p / blockSize] * blockSize + p % blockSize);
                visLens.Add(s.Visual is { } v ? v.VisibleCrops(p) * v.TokensPerCrop : 0);
            }
            qStart[i + 1] = qStart[i] + s.New;
            seqPos[i] = s.Cached;
            textLens[i] = total;
            s.Blocks.CopyTo(tables, i * maxBlocks);
        }
        return new StepPlan(qStart[n], n > 0 && seqs.All(s => s.New == 1), maxBlocks, [.. positions], [.. slots], tables, qStart, seqPos, textLens,
            [.. visLens], visTokens);
    }
}
