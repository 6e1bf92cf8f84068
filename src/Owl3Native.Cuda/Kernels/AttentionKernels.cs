using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Kernels;

/// <summary>
/// Launchers of the attention kernels (kernels/attention_prefill.cu, attention_decode_paged.cu, kv_write.cu) and the
/// host-side planning they need: the prefill instantiation and shared memory for a head dim, the packed (sequence,
/// first row) tile list, and the split-K plan of a decode step.
/// </summary>
public sealed class AttentionKernels(KernelCache cache)
{
    /// <summary>Head dims the prefill kernel is instantiated for (any multiple of 8 up to 256 runs on the next one up).</summary>
    public static IReadOnlyList<int> PrefillDims { get; } = [16, 32, 48, 64, 80, 96, 128, 160, 192, 256];

    /// <summary>The instantiation (padded head dim) for <paramref name="headDim"/>.</summary>
    /// <exception cref="ArgumentException">headDim is not a multiple of 8 in 8..256.</exception>
    public static int PrefillDim(int headDim)
    {
        if (headDim < 8 || headDim > 256 || headDim % 8 != 0)
            throw new ArgumentException($"attention kernels take head dims that are multiples of 8 up to 256; got {headDim}");
        return PrefillDims.First(d => d >= headDim);
    }

    /// <summary>
    /// The instantiation's shape, mirroring the OWL3_PREFILL table of attention_prefill.cu: key rows per tile (fewer
    /// for wide heads: registers) and query rows per CTA (4 warps × 2 row blocks of 16 up to head dim 128, × 1 above).
    /// d128 and d80 take FlashAttention-2's 128 × 64 (H200, one run: d128 causal 2 × 16k 340 vs 270 TFLOP/s for 128 × 32;
    /// SigLIP's 72 → 80: 174 vs 143 TFLOP/s).
    /// </summary>
    public static (int KeyTile, int Rows) PrefillShape(int paddedDim) => paddedDim switch
    {
        <= 64 or 80 or 128 => (64, 128),
        < 128 => (32, 128),
        _ => (32, 64),
    };

    /// <summary>Query rows per prefill CTA for a head dim.</summary>
    public static int PrefillRows(int headDim) => PrefillShape(PrefillDim(headDim)).Rows;

    /// <summary>Dynamic shared memory of one prefill CTA: Q and two stages of K and V tiles, rows padded by 16 bytes.</summary>
    public static int PrefillSharedBytes(int paddedDim)
    {
        var (keyTile, rows) = PrefillShape(paddedDim);
        return (rows + 4 * keyTile) * (paddedDim + 8) * 2; // Q + two stages of K and V
    }

    /// <summary>
    /// The CTA list of packed sequences: (sequence, first row within it) for every tile of rowsPerCta rows
    /// (<see cref="PrefillRows"/>), from the cumulative row
    /// offsets <paramref name="seqQStart"/> (length seqs + 1). Longest sequences' tiles first, so the tail of a launch
    /// is the short work.
    /// </summary>
    public static int[] PrefillTiles(ReadOnlySpan<int> seqQStart, int rowsPerCta)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowsPerCta, 1);
        var tiles = new List<(int Seq, int Row, int Work)>();
        for (int s = 0; s + 1 < seqQStart.Length; s++)
        {
            int len = seqQStart[s + 1] - seqQStart[s];
            if (len < 0) throw new ArgumentException($"sequence {s} has negative length {len}");
            for (int r = 0; r < len; r += rowsPerCta) tiles.Add((s, r, r));
        }
        var ordered = tiles.OrderByDescending(t => t.Work).ThenBy(t => t.Seq).ToArray();
        var flat = new int[ordered.Length * 2];
        for (int i = 0; i < ordered.Length; i++) (flat[2 * i], flat[2 * i + 1]) = (ordered[i].Seq, ordered[i].Row);
        return flat;
    }

    /// <summary>Most splits a decode launch may use (DECODE_MAX_SPLITS of attention_decode_paged.cu).</summary>
    public const int MaxDecodeSplits = 256;

    /// <summary>
    /// Split-K plan of a decode step: keys per split (a multiple of the 64-key tile) and the number of splits. A model
    /// of the step, fitted to an H200 sweep (bench/results/gpu): the kvHeads · seqs · splits CTAs run in waves of
    /// multiprocessors · ctasPerMultiprocessor; a wave takes the longer of its bytes at full bandwidth (reached with
    /// about 65 % of the slots busy) and one CTA's own streaming time, plus a CTA's fixed cost (~5 tiles: launch,
    /// Q, pipeline fill, merge); the combine costs ~0.05 tile per split. The plan takes the cheapest, fewer splits on
    /// ties. Measured (H200, 4 KV heads, 3 CTAs per SM): batch 64 × 32k keys 1 split 99 % of copy, 2 splits 76 % (a
    /// 1.3-wave tail), 3 splits 97 %; batch 1 × 32k keys 32 / 64 / 86 / 128 splits 43 / 52 / 48 / 39 %. Refitted on
    /// CUDA-graph replays (the device's own time; host-launched batch-1 rows were launch-bound), session 3: batch 1 ×
    /// 4k keys 4 / 8 / 16 / 22 / 32 splits 32.7 / 20.3 / 13.9 / 13.1 / 10.6 µs — 1.55 µs a tile and ~7.9 µs
    /// (5 tiles) a CTA's fixed cost, as modelled; the combine's 0.1 tile per split had made 22 splits win.
    /// </summary>
    public static (int SplitKeys, int Splits) DecodeSplits(int maxKeys, int seqs, int kvHeads, int multiprocessors, int ctasPerMultiprocessor = 2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(multiprocessors, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ctasPerMultiprocessor, 1);
        const int tile = 64;
        const double ctaCost = 5.0, combineCost = 0.05, saturating = 0.65;
        long pairs = Math.Max(1L, (long)seqs * kvHeads), slots = (long)multiprocessors * ctasPerMultiprocessor;
        double busyForBandwidth = Math.Max(1.0, saturating * slots);
        int tiles = Math.Max(1, (maxKeys + tile - 1) / tile);
        (int SplitKeys, int Splits) best = (tiles * tile, 1);
        double bestCost = double.MaxValue;
        for (int perSplit = tiles; perSplit >= 1; perSplit--)
        {
            int splits = (tiles + perSplit - 1) / perSplit;
            if (splits > MaxDecodeSplits) break;
            if ((tiles + splits - 1) / splits != perSplit) continue; // the same plan as a larger perSplit
            double cost = splits > 1 ? combineCost * splits : 0;
            for (long left = pairs * splits; left > 0; left -= slots)
                cost += Math.Max(Math.Min(left, slots) * perSplit / busyForBandwidth, perSplit) + ctaCost;
            if (cost < bestCost - 1e-9) (bestCost, best) = (cost, (perSplit * tile, splits));
        }
        return best;
    }

    /// <summary>
    /// The plan of a decode step whose splits would merge inside a thread-block cluster: the <see cref="DecodeSplits"/>
    /// plan when it has one split, or when even clusters of its split count capped at <see cref="MaxClusterSplits"/> would
    /// take more than one wave of CTAs (seqs · kvHeads · splits &gt; multiprocessors: a cluster saves a launch and a
    /// round trip, which only a step of few CTAs feels); otherwise min(planned, 16) splits of whole tiles as one cluster
    /// each (Cluster = true; fewer when the keys fill fewer).
    /// </summary>
    /// <remarks><paramref name="maxCluster"/>: the largest cluster this device schedules for the head dim (<see cref="ClusterDecodeLimit"/>); below 2, never a cluster.</remarks>
    public static (int SplitKeys, int Splits, bool Cluster) ClusterDecodeSplits(int maxKeys, int seqs, int kvHeads, int multiprocessors, int ctasPerMultiprocessor = 2,
        int maxCluster = MaxClusterSplits)
    {
        var (splitKeys, splits) = DecodeSplits(maxKeys, seqs, kvHeads, multiprocessors, ctasPerMultiprocessor);
        int n = Math.Min(splits, Math.Min(maxCluster, MaxClusterSplits));
        if (n < 2 || (long)seqs * kvHeads * n > multiprocessors) return (splitKeys, splits, false);
        const int tile = 64;
        int tiles = Math.Max(1, (maxKeys + tile - 1) / tile), perSplit = (tiles + n - 1) / n;
        return (perSplit * tile, (tiles + perSplit - 1) / perSplit, true);
    }

    /// <summary>Set to 1, decode steps of one wave merge their splits in a thread-block cluster (<see cref="ClusterDecode"/>).</summary>
    public const string ClusterDecodeVariable = "OWL3_DECODE_CLUSTER";

    /// <summary>
    /// Whether the engine's decode steps use <see cref="ClusterDecodeSplits"/> and the cluster kernel: only when
    /// OWL3_DECODE_CLUSTER=1 (read once, by the first step) and this device can run it. Off by default until a device
    /// run has measured it against the launch pair (the GPU check's cluster rows).
    /// </summary>
    public bool ClusterDecode => _clusterDecode ??= Environment.GetEnvironmentVariable(ClusterDecodeVariable) == "1" && ClusterDecodeUnavailable() is null;

    private bool? _clusterDecode;

    /// <summary>
    /// The largest cluster of cluster-decode CTAs (<paramref name="stages"/> stages) this device can schedule for
    /// <paramref name="headDim"/>: 16 (a non-portable size) or 8 when one such cluster fits (cuOccupancyMaxActiveClusters),
    /// else 0 (then no cluster plan).
    /// </summary>
    public int ClusterDecodeLimit(int headDim, int stages = 2)
    {
        int dp = PrefillDim(headDim);
        return _clusterLimit.GetOrAdd((dp, stages), k =>
        {
            if (ClusterDecodeUnavailable() is not null) return 0;
            var f = cache.Get(ClusterDecodeFile, DecodeKernelName(k.Dim, k.Stages, cluster: true));
            foreach (int n in new[] { MaxClusterSplits, 8 })
                if (f.MaxActiveClusters(new Dim3(1, 1, (uint)n), 128, DecodeSharedBytes(k.Dim, k.Stages)) >= 1) return n;
            return 0;
        });
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(int Dim, int Stages), int> _clusterLimit = new();

    /// <summary>Set to 3, the engine's decode steps run the 3-stage kernels where the head dim has them (<see cref="DecodeStages"/>).</summary>
    public const string DecodeStagesVariable = "OWL3_DECODE_STAGES";

    /// <summary>
    /// Stages of the engine's tensor-core decode for <paramref name="headDim"/>: 3 when OWL3_DECODE_STAGES=3 (read once)
    /// and the head dim has a 3-stage kernel (<see cref="DecodeStageDims"/>), else 2. Off by default until a device run has
    /// timed it (the GPU check's "3 stages" rows).
    /// </summary>
    public int DecodeStages(int headDim) =>
        (_stagesAsked ??= Environment.GetEnvironmentVariable(DecodeStagesVariable) == "3") && DecodeStageDims.Contains(PrefillDim(headDim)) ? 3 : 2;

    private bool? _stagesAsked;

    /// <summary>
    /// The portable default prefill instantiation for a head dim (the OWL3_PREFILL table of attention_prefill.cu: 4 warps,
    /// mma.sync, any sm_80+ device). <see cref="DevicePrefillVariant"/> is what a launch without a variant runs.
    /// </summary>
    public static PrefillVariant PrefillVariantFor(int headDim)
    {
        int dp = PrefillDim(headDim);
        var (keyTile, rows) = PrefillShape(dp);
        return new PrefillVariant($"attention_prefill_d{dp}_bf16", dp, keyTile, rows, 128);
    }

    /// <summary>
    /// Other prefill kernels, which the GPU bundle checks and times beside the defaults where the device and NVRTC can
    /// run them (<see cref="Unavailable"/>): d128 and d80 with the 32-key tiles they used before 64-key tiles measured
    /// faster (the OWL3_PREFILL_EXP list of attention_prefill.cu), and d128 on Hopper's warpgroup MMA
    /// (attention_prefill_sm90.cu: 2 consumer warpgroups × 64 rows, 128-key tiles, 3 stages; sm_90a, NVRTC ≥ 12) in two
    /// schedules: the consumers loading their own halves of each tile (256 threads), and a producer warpgroup loading
    /// for them (384 threads; the device default where it runs: <see cref="PrefillArchDefaults"/>); and the producer
    /// schedule at head dim 64 (the 1B model; also a device default).
    /// </summary>
    public static IReadOnlyList<PrefillVariant> PrefillExperiments { get; } =
    [
        new("attention_prefill_bc32_d128_bf16", 128, 32, 128, 128),
        new("attention_prefill_bc32_d80_bf16", 80, 32, 128, 128),
        new("attention_prefill_wgmma_ws3_d128_bf16", 128, 128, 128, 256, PrefillEngine.Wgmma, Stages: 3),
        new("attention_prefill_wgmma_ws3p_d128_bf16", 128, 128, 128, 384, PrefillEngine.Wgmma, Stages: 3),
        new("attention_prefill_wgmma_ws3p_d64_bf16", 64, 128, 128, 384, PrefillEngine.Wgmma, Stages: 3),
    ];

    /// <summary>
    /// Kernels that replace <see cref="PrefillVariantFor"/> where the device and NVRTC can run them (same padded head dim
    /// and query rows per CTA, so a tile list planned with <see cref="PrefillRows"/> serves both): d128 and d64 on
    /// Hopper's warpgroup MMA, decoupled schedule fed by a producer warpgroup. H200, session 3 (bench/results/gpu/
    /// 2026-11-26-h200-s3c*), causal, 32 heads, 8 × 4k / 4 × 8k / 2 × 16k tokens, same-call ratios:
    /// d128 414 / 452 / 463 TFLOP/s (s3c6), 1.31–1.43× the mma.sync kernel and 1.07–1.18× the decoupled kernel without
    /// a producer; 418 / 420 / 446 (s3c10), 1.20–1.26× PyTorch's FlashAttention-2 (336 / 351 / 353) in the same call.
    /// d64 (the 1B model) 289 / 318 / 334 (s3c10), 1.25–1.34× the mma.sync kernel, 1.00–1.08× FlashAttention-2.
    /// </summary>
    public static IReadOnlyList<PrefillVariant> PrefillArchDefaults { get; } =
        [.. PrefillExperiments.Where(v => v.Kernel is "attention_prefill_wgmma_ws3p_d128_bf16" or "attention_prefill_wgmma_ws3p_d64_bf16")];

    /// <summary>
    /// The prefill kernel this device runs for <paramref name="headDim"/>: the first of <see cref="PrefillArchDefaults"/>
    /// for its padded head dim that this device and NVRTC can run (sm_90a needs NVRTC ≥ 12; OWL3_NO_ARCH_KERNELS=1 turns
    /// those off), else the portable <see cref="PrefillVariantFor"/>.
    /// </summary>
    public PrefillVariant DevicePrefillVariant(int headDim)
    {
        var portable = PrefillVariantFor(headDim);
        return PrefillArchDefaults.FirstOrDefault(v => v.Dim == portable.Dim && v.Rows == portable.Rows && Unavailable(v) is null) ?? portable;
    }

    /// <summary>Why <paramref name="variant"/> cannot run on this device with this NVRTC (an sm_90a kernel elsewhere), or null.</summary>
    public string? Unavailable(PrefillVariant variant) => cache.Unavailable(variant.File);

    /// <summary>The default instantiation for <paramref name="headDim"/>, then the other shapes of the same padded dim.</summary>
    public static IEnumerable<PrefillVariant> PrefillVariantsFor(int headDim) =>
        PrefillExperiments.Where(v => v.Dim == PrefillDim(headDim)).Prepend(PrefillVariantFor(headDim));

    /// <summary>
    /// Prefill / chunked prefill / SigLIP attention; <paramref name="tiles"/> = PrefillTiles(..., variant.Rows).Length / 2.
    /// <paramref name="variant"/> defaults to <see cref="DevicePrefillVariant"/>(p.HeadDim); any instantiation whose padded
    /// head dim is at least p.HeadDim's may serve it (SigLIP's 72 on a 128-wide kernel, say).
    /// </summary>
    public void Prefill(CudaStream stream, in PrefillParams p, int tiles, PrefillVariant? variant = null)
    {
        if (p.Heads % p.KvHeads != 0) throw new ArgumentException($"{p.Heads} query heads are not a multiple of {p.KvHeads} KV heads");
        // Q rows are copied in 16-byte chunks (cp.async): a row stride in whole chunks keeps every row aligned.
        if (p.QStride % 8 != 0) throw new ArgumentException($"query row stride {p.QStride} must be a multiple of 8 elements (16-byte row loads)");
        variant ??= DevicePrefillVariant(p.HeadDim);
        // A kernel serves every head dim up to its padded one (the columns beyond D are zero-filled and never written).
        if (variant.Dim < PrefillDim(p.HeadDim)) throw new ArgumentException($"{variant.Kernel} serves head dims up to {variant.Dim}, not {p.HeadDim}");
        if (tiles == 0) return;
        var f = cache.Get(variant.File, variant.Kernel);
        f.Launch(stream, new Dim3((uint)p.Heads, (uint)tiles), new Dim3((uint)variant.Threads), p, (uint)variant.SharedBytes);
    }

    /// <summary>The cluster decode's kernel file (sm_90 only: <see cref="DecodeKernel.TensorCoreCluster"/>).</summary>
    public const string ClusterDecodeFile = "attention_decode_cluster.cu";

    /// <summary>The most splits <see cref="DecodeKernel.TensorCoreCluster"/> takes: one cluster of 16 CTAs (non-portable above 8; H100/H200 form 16).</summary>
    public const int MaxClusterSplits = 16;

    /// <summary>Why the cluster decode cannot run on this device with this NVRTC (not sm_90, an old driver), or null.</summary>
    public string? ClusterDecodeUnavailable() =>
        cache.Unavailable(ClusterDecodeFile) ?? (cache.Context.SupportsClusterLaunch ? null : $"thread-block clusters need an sm_90 device and a CUDA 12 driver (found {cache.Context.Arch}, driver {cache.Context.DriverVersion})");

    /// <summary>Dynamic shared memory of the tensor-core decode: <paramref name="stages"/> stages of 64-key K and V tiles.</summary>
    public static int DecodeSharedBytes(int paddedDim, int stages = 2) => stages * 2 * 64 * (paddedDim + 8) * 2;

    /// <summary>
    /// Padded head dims with a 3-stage tensor-core decode (attention_decode_tc_s3_d*, attention_decode_cluster_s3_d*): the
    /// models' 64 and 128. Two tiles in flight while one is computed instead of one — a CTA streams about twice the bytes
    /// per round trip, which is what a step of few CTAs is limited by — for 1.5× the shared memory (fewer CTAs a
    /// multiprocessor). An experiment until a device run has timed it (the GPU check's "3 stages" rows).
    /// </summary>
    public static IReadOnlyList<int> DecodeStageDims { get; } = [64, 128];

    /// <summary>The tensor-core decode kernel's name (<paramref name="cluster"/>: the cluster form) for a padded head dim and stage count.</summary>
    /// <exception cref="ArgumentException">A stage count other than 2 or 3, or 3 at a head dim without that instantiation.</exception>
    public static string DecodeKernelName(int paddedDim, int stages, bool cluster)
    {
        if (stages is not (2 or 3) || (stages == 3 && !DecodeStageDims.Contains(paddedDim)))
            throw new ArgumentException($"no {stages}-stage decode kernel at head dim {paddedDim} (2 stages at every head dim, 3 at {string.Join(", ", DecodeStageDims)})");
        return $"attention_decode_{(cluster ? "cluster" : "tc")}{(stages == 2 ? "" : $"_s{stages}")}_d{paddedDim}_bf16";
    }

    /// <summary>CTAs of the tensor-core decode for <paramref name="headDim"/> one multiprocessor holds at once (the split planner's input).</summary>
    public int DecodeCtasPerMultiprocessor(int headDim, int stages = 2)
    {
        int dp = PrefillDim(headDim);
        // Asked by every decode step's plan; the device's answer never changes.
        return _decodeCtas.GetOrAdd((dp, stages), k => cache.Get("attention_decode_paged.cu", DecodeKernelName(k.Dim, k.Stages, cluster: false))
            .MaxActiveBlocksPerMultiprocessor(128, DecodeSharedBytes(k.Dim, k.Stages)));
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(int Dim, int Stages), int> _decodeCtas = new();

    /// <summary>CTAs of a prefill instantiation one multiprocessor holds at once.</summary>
    public int PrefillCtasPerMultiprocessor(PrefillVariant variant) =>
        cache.Get(variant.File, variant.Kernel).MaxActiveBlocksPerMultiprocessor(variant.Threads, variant.SharedBytes);

    /// <summary>
    /// Decode attention (+ the split combine when p.Splits &gt; 1; PartO/PartMl must then hold seqs·heads·splits·(D | 2)
    /// floats; with p.SplitCounters the tensor-core kernel merges the splits in the same launch). <paramref name="kernel"/> picks the tensor-core kernel (default; GQA groups ≤ 16), the CUDA-core one
    /// (groups ≤ 8), kept as the second implementation the conformance check and the benchmark compare, or the
    /// tensor-core kernel whose splits (≤ 16) merge inside one thread-block cluster (sm_90; no partials, no combine).
    /// </summary>
    /// <remarks>
    /// <paramref name="programmatic"/>: programmatic dependent launches (sm_90+): the decode may start while the previous
    /// kernel of the stream (the step's K/V write) still runs — its cached tiles other than the newest key's load under
    /// that kernel's tail — and the combine while the decode finishes. The lengths, block tables and visual K/V must
    /// then be older than that previous kernel (written before it, e.g. by the step's host copy). <paramref name="stages"/>:
    /// K/V tiles in flight + 1 for the tensor-core kernels (2 everywhere, 3 at <see cref="DecodeStageDims"/>).
    /// </remarks>
    public void Decode(CudaStream stream, in DecodeParams p, DecodeKernel kernel = DecodeKernel.TensorCore, bool programmatic = false, int stages = 2)
    {
        int dp = PrefillDim(p.HeadDim);
        if (kernel == DecodeKernel.CudaCore && stages != 2) throw new ArgumentException("the CUDA-core decode has no stage count to choose");
        if (kernel != DecodeKernel.CudaCore) DecodeKernelName(dp, stages, cluster: false); // refuses a stage count this head dim lacks
        int maxGroup = kernel == DecodeKernel.CudaCore ? 8 : 16;
        if (p.Heads % p.KvHeads != 0 || p.Heads / p.KvHeads > maxGroup)
            throw new ArgumentException($"{kernel} decode attention serves GQA groups of at most {maxGroup} query heads; got {p.Heads} heads over {p.KvHeads} KV heads");
        if (p.Seqs == 0) return;
        if (p.Splits < 1 || p.SplitKeys < 1) throw new ArgumentException($"splits {p.Splits} × {p.SplitKeys} keys");
        if (p.KCache == 0 || p.VCache == 0 || p.Q == 0 || p.O == 0 || p.TextLens == 0)
            throw new ArgumentException("decode attention needs Q, O, the K/V cache and the text lengths (the cache base also serves as the address of masked loads)");
        if (p.QStride % 2 != 0) throw new ArgumentException($"query row stride {p.QStride} must be even (32-bit fragment loads)");
        if (p.Splits > 1 && kernel != DecodeKernel.TensorCoreCluster && (p.PartO == 0 || p.PartMl == 0)) throw new ArgumentException($"{p.Splits} splits need the PartO/PartMl buffers");
        if (p.Splits > MaxDecodeSplits) throw new ArgumentException($"{p.Splits} splits > {MaxDecodeSplits} (the combine kernel's limit; DecodeSplits never plans more)");
        var grid = new Dim3((uint)p.KvHeads, (uint)p.Seqs, (uint)p.Splits);
        if (kernel == DecodeKernel.TensorCoreCluster)
        {
            if (p.Splits > MaxClusterSplits) throw new ArgumentException($"{p.Splits} splits > {MaxClusterSplits}, the largest cluster the cluster decode forms");
            if (ClusterDecodeUnavailable() is { } why) throw new NotSupportedException(why);
            cache.Get(ClusterDecodeFile, DecodeKernelName(dp, stages, cluster: true))
                .Launch(stream, grid, new Dim3(128), p, (uint)DecodeSharedBytes(dp, stages), programmatic, cluster: new Dim3(1, 1, (uint)p.Splits));
            return;
        }
        if (kernel == DecodeKernel.TensorCore)
            cache.Get("attention_decode_paged.cu", DecodeKernelName(dp, stages, cluster: false)).Launch(stream, grid, new Dim3(128), p, (uint)DecodeSharedBytes(dp, stages), programmatic);
        else
            cache.Get("attention_decode_paged.cu", "attention_decode_paged_bf16").Launch(stream, grid, new Dim3(128), p, programmatic: programmatic);
        // The tensor-core kernel combines its own splits when given the counters; otherwise a combine launch follows.
        if (p.Splits > 1 && (kernel != DecodeKernel.TensorCore || p.SplitCounters == 0))
            cache.Get("attention_decode_paged.cu", "attention_decode_combine_bf16")
                .Launch(stream, new Dim3((uint)p.Heads, (uint)p.Seqs), new Dim3(128), p, programmatic: programmatic);
    }

    /// <summary>240728/241014 hyper layers: context ← (1 − σ(gate + bias))·context + σ(…)·cross on rows with a visible image.</summary>
    public void GateMix(CudaStream stream, in GateMixParams p)
    {
        if (p.Cols % 8 != 0) throw new ArgumentException($"gate mix columns {p.Cols} must be a multiple of 8");
        if (p.GateRows != 1 && p.GateRows != p.Rows) throw new ArgumentException($"gate of {p.GateRows} rows for {p.Rows} context rows (1 or the same)");
        if (p.Bias != 0 && p.BiasPeriod < 1) throw new ArgumentException("a gate bias needs its period (the head dim)");
        long chunks = p.Rows * (p.Cols / 8);
        if (chunks == 0) return;
        cache.Get("hyper.cu", "hyper_gate_mix_bf16").Launch(stream, new Dim3((uint)Math.Min((chunks + 255) / 256, 65535)), new Dim3(256), p);
    }

    /// <summary>
    /// Writes a step's K/V rows into their cache slots (RoPE on the keys when p.Rope != 0), and with p.Q rotates the step's
    /// queries in place in the same launch (as rope_bf16 would). <paramref name="programmatic"/>: a programmatic dependent
    /// launch (sm_90+; it waits for the previous kernel before reading k, v and q).
    /// </summary>
    public void KvWrite(CudaStream stream, in KvWriteParams p, bool programmatic = false)
    {
        if (p.HeadDim % 2 != 0) throw new ArgumentException($"head dim {p.HeadDim} must be even");
        if (p.Q != 0 && (p.Rope == 0 || p.QHeads < 1 || p.QStride < p.QHeads * p.HeadDim))
            throw new ArgumentException($"queries to rotate need RoPE on, their heads and a row stride of at least heads × head dim (rope {p.Rope}, {p.QHeads} heads, stride {p.QStride})");
        long pairs = (long)p.Tokens * (p.KvHeads + (p.Q != 0 ? p.QHeads : 0)) * (p.HeadDim / 2);
        if (pairs == 0) return;
        uint blocks = (uint)Math.Min((pairs + 255) / 256, 65535);
        cache.Get("kv_write.cu", "kv_write_bf16").Launch(stream, new Dim3(blocks), new Dim3(256), p, programmatic: programmatic);
    }
}

/// <summary>A prefill kernel instantiation: padded head dim, keys per K/V tile, query rows per CTA, threads per CTA, engine.</summary>
public sealed record PrefillVariant(string Kernel, int Dim, int KeyTile, int Rows, int Threads, PrefillEngine Engine = PrefillEngine.MmaSync, int Stages = 2)
{
    /// <summary>The kernel file: attention_prefill.cu (mma.sync) or attention_prefill_sm90.cu (wgmma).</summary>
    public string File => Engine == PrefillEngine.Wgmma ? "attention_prefill_sm90.cu" : "attention_prefill.cu";

    /// <summary>
    /// Dynamic shared memory: the Q tile and <see cref="Stages"/> stages of K and V tiles — rows padded by 16 bytes
    /// (mma.sync), or dense in the 128-byte swizzle plus 1024 bytes to align the tiles (wgmma).
    /// </summary>
    public int SharedBytes => Engine == PrefillEngine.Wgmma ? (Rows + 2 * Stages * KeyTile) * Dim * 2 + 1024 : (Rows + 2 * Stages * KeyTile) * (Dim + 8) * 2;
}

/// <summary>The tensor-core instruction a prefill kernel is built on.</summary>
public enum PrefillEngine
{
    /// <summary>Warp-level mma.sync m16n8k16 (sm_80 and later): attention_prefill.cu.</summary>
    MmaSync,
    /// <summary>Warpgroup-level wgmma m64n128k16 (sm_90a, NVRTC ≥ 12): attention_prefill_sm90.cu.</summary>
    Wgmma,
}

/// <summary>The two decode attention implementations.</summary>
public enum DecodeKernel
{
    /// <summary>mma.sync over the GQA group's heads as tile rows (attention_decode_tc_d*_bf16).</summary>
    TensorCore,
    /// <summary>CUDA cores, one query head per register set (attention_decode_paged_bf16).</summary>
    CudaCore,
    /// <summary>
    /// The tensor-core kernel with the splits of each (sequence, KV head) launched as one thread-block cluster and merged
    /// through distributed shared memory (attention_decode_cluster_d*_bf16; sm_90, 1 ≤ splits ≤ 16; no combine launch,
    /// no partial buffers).
    /// </summary>
    TensorCoreCluster,
}
