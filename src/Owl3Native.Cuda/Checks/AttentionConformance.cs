using Owl3Native.Core.Backend;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Checks;

/// <summary>One sequence of an attention case: cached tokens, new tokens, and its images (null = none).</summary>
public sealed record AttentionSeqSpec(int Cached, int New, int Crops = 0, int TokensPerCrop = 0, int[]? VisibleFrom = null);

/// <summary>Which attention the case asks for.</summary>
public enum AttentionMode
{
    /// <summary>Causal text keys, plus the visual keys in front when a sequence has images (241101 fused).</summary>
    Fused,
    /// <summary>Visual keys only (240728 / 241014 cross-attention); rows with no visible image give zeros.</summary>
    Cross,
}

/// <summary>
/// The attention kernels against their CPU twins (<see cref="CpuBackend.PagedAttention"/>, CrossAttention,
/// DenseAttention) on fresh random bf16 inputs: scattered block tables, cache slots and outputs poisoned with NaN,
/// images before/between text. Judged by NMSE ≤ 4e-5 and max-abs ≤ 1e-2 (outputs are convex mixes of values in
/// [−1, 1]; P is rounded to bf16 for the tensor-core P·V as in FlashAttention-2). Also the kernels' benchmarks.
/// </summary>
public sealed partial class AttentionConformance(CudaContext context, KernelCache cache)
{
    private const double Nmse = 4e-5, MaxAbs = 1e-2;
    private readonly CpuBackend _cpu = new(Math.Max(1, Environment.ProcessorCount));
    private readonly AttentionKernels _attn = new(cache);

    private CudaContext Context => context;

    /// <summary>Every case the GPU check runs.</summary>
    public IReadOnlyList<ConformanceResult> RunAll(int seed = 100) => Cases(seed).Select(Guarded).ToArray();

    /// <summary>A case that throws is a failed row naming the exception, and the other cases still run.</summary>
    private static ConformanceResult Guarded(Func<ConformanceResult> run)
    {
        try
        {
            return run();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new ConformanceResult($"attention (threw {e.GetType().Name}: {e.Message})", "-", double.NaN, double.NaN, Nmse, false);
        }
    }

    private IEnumerable<Func<ConformanceResult>> Cases(int seed) =>
    [
        // Decode on CUDA cores (the second implementation), then the same shapes on tensor cores.
        () => Case("decode", AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed,
            [new(0, 1), new(16, 1), new(299, 1, 2, 9, [3, 100]), new(4100, 1)], DecodeKernel.CudaCore),
        () => Case("decode", AttentionMode.Cross, heads: 12, kvHeads: 2, headDim: 128, blockSize: 16, seed + 4,
            [new(40, 1, 2, 27, [10, 30]), new(5, 1, 1, 27, [9]), new(12, 1)], DecodeKernel.CudaCore),
        // Decode: GQA 7 (1B), one token, lengths off the tile, a long context (split-K), images in front.
        () => Case("decode", AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed,
            [new(0, 1), new(16, 1), new(299, 1, 2, 9, [3, 100]), new(4100, 1)]),
        () => Case("decode", AttentionMode.Fused, heads: 28, kvHeads: 4, headDim: 128, blockSize: 16, seed + 1,
            [new(37, 1, 3, 16, [5, 6, 20]), new(1023, 1), new(17000, 1)]),
        () => Case("decode", AttentionMode.Fused, heads: 4, kvHeads: 2, headDim: 16, blockSize: 4, seed + 2,
            [new(9, 1, 1, 5, [2]), new(3, 1)]),
        () => Case("decode", AttentionMode.Fused, heads: 8, kvHeads: 8, headDim: 256, blockSize: 16, seed + 3, [new(700, 1), new(5, 1)]),
        () => Case("decode", AttentionMode.Fused, heads: 32, kvHeads: 2, headDim: 72, blockSize: 16, seed + 13, [new(200, 1, 1, 10, [50]), new(63, 1)]),
        () => Case("decode", AttentionMode.Cross, heads: 12, kvHeads: 2, headDim: 128, blockSize: 16, seed + 4,
            [new(40, 1, 2, 27, [10, 30]), new(5, 1, 1, 27, [9]), new(12, 1)]),
        // Programmatic launches (where the device and driver have them): the newest keys written by a K/V write that
        // waits behind a 100 µs delay while the decode starts. Many sequences have their newest key in the first tile
        // of a split (a short one: 0, 16, 63 cached keys; split edges), others far from it.
        .. context.SupportsProgrammaticLaunch ? new Func<ConformanceResult>[]
        {
            () => Case("decode", AttentionMode.Fused, heads: 28, kvHeads: 4, headDim: 128, blockSize: 16, seed + 1,
                [new(37, 1, 3, 16, [5, 6, 20]), new(1023, 1), new(17000, 1), new(63, 1), new(64, 1), new(0, 1), new(16, 1)], programmatic: true),
            () => Case("decode", AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed,
                [new(0, 1), new(16, 1), new(299, 1, 2, 9, [3, 100]), new(4100, 1), new(62, 1), new(127, 1)], fusedCombine: true, programmatic: true),
            () => Case("decode", AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed,
                [new(0, 1), new(16, 1), new(299, 1, 2, 9, [3, 100]), new(4100, 1)], DecodeKernel.CudaCore, programmatic: true),
        } : [],
        // The same split-K shapes with the splits merged inside the decode launch (the last split CTA combines).
        () => Case("decode", AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed,
            [new(0, 1), new(16, 1), new(299, 1, 2, 9, [3, 100]), new(4100, 1)], fusedCombine: true),
        () => Case("decode", AttentionMode.Fused, heads: 28, kvHeads: 4, headDim: 128, blockSize: 16, seed + 1,
            [new(37, 1, 3, 16, [5, 6, 20]), new(1023, 1), new(17000, 1)], fusedCombine: true),
        () => Case("decode", AttentionMode.Fused, heads: 32, kvHeads: 2, headDim: 72, blockSize: 16, seed + 13, [new(200, 1, 1, 10, [50]), new(6300, 1)], fusedCombine: true),
        // Three stages (two tiles in flight) at the models' head dims: GQA 7 with images in front and a long context,
        // split and unsplit (a 1-split plan's CTA walks many tiles through the ring), cross-attention, and under the
        // hostile programmatic timing (the newest key in the prologue's last tile or far from it).
        () => Case("decode", AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed,
            [new(0, 1), new(16, 1), new(299, 1, 2, 9, [3, 100]), new(4100, 1), new(127, 1), new(128, 1)], stages: 3),
        () => Case("decode", AttentionMode.Fused, heads: 28, kvHeads: 4, headDim: 128, blockSize: 16, seed + 1,
            [new(37, 1, 3, 16, [5, 6, 20]), new(1023, 1), new(17000, 1)], stages: 3),
        () => Case("decode", AttentionMode.Cross, heads: 12, kvHeads: 2, headDim: 128, blockSize: 16, seed + 4,
            [new(40, 1, 2, 27, [10, 30]), new(5, 1, 1, 27, [9]), new(12, 1), new(300, 1, 8, 27, [0, 10, 20, 30, 40, 50, 60, 70])], stages: 3),
        .. context.SupportsProgrammaticLaunch ? new Func<ConformanceResult>[]
        {
            () => Case("decode", AttentionMode.Fused, heads: 28, kvHeads: 4, headDim: 128, blockSize: 16, seed + 1,
                [new(37, 1, 3, 16, [5, 6, 20]), new(1023, 1), new(17000, 1), new(63, 1), new(64, 1), new(0, 1), new(16, 1), new(127, 1)],
                programmatic: true, stages: 3),
            () => Case("decode", AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed,
                [new(0, 1), new(16, 1), new(299, 1, 2, 9, [3, 100]), new(4100, 1), new(62, 1), new(127, 1)], programmatic: true, stages: 3),
        } : [],
        () => Case("decode", AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed,
            [new(0, 1), new(16, 1), new(299, 1, 2, 9, [3, 100]), new(4100, 1)], fusedCombine: true, stages: 3),
        // Prefill: chunked (cached > 0), images before / between text, hostile lengths, every dim family.
        () => Case("prefill", AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed + 5,
            [new(0, 1), new(0, 200, 2, 9, [3, 150]), new(37, 65), new(130, 64, 1, 20, [140])]),
        () => Case("prefill", AttentionMode.Fused, heads: 28, kvHeads: 4, headDim: 128, blockSize: 16, seed + 6,
            [new(0, 333, 3, 16, [5, 6, 300]), new(100, 17)]),
        () => Case("prefill", AttentionMode.Fused, heads: 4, kvHeads: 2, headDim: 16, blockSize: 4, seed + 7, [new(0, 70, 1, 5, [2]), new(3, 9)]),
        () => Case("prefill", AttentionMode.Fused, heads: 6, kvHeads: 3, headDim: 200, blockSize: 16, seed + 8, [new(10, 90)]),
        () => Case("prefill", AttentionMode.Fused, heads: 8, kvHeads: 1, headDim: 256, blockSize: 8, seed + 9, [new(0, 129, 2, 30, [0, 64])]),
        () => Case("prefill", AttentionMode.Cross, heads: 12, kvHeads: 2, headDim: 128, blockSize: 16, seed + 10,
            [new(0, 150, 2, 27, [10, 100]), new(20, 40, 1, 27, [45])]),
        () => GateMix(rows: 37, heads: 28, headDim: 128, dynamic: true, seed + 14),
        () => GateMix(rows: 5, heads: 14, headDim: 64, dynamic: false, seed + 15),
        () => Dense(groups: 2, length: 729, heads: 16, headDim: 72, seed + 11),
        () => Dense(groups: 1, length: 100, heads: 4, headDim: 40, seed + 12),
        // The experimental mma.sync shapes (timed beside the defaults in Bench); the sm_90a ones run in RunArchSpecific.
        .. AttentionKernels.PrefillExperiments.Where(v => v.Engine == PrefillEngine.MmaSync).SelectMany(ExperimentCases(seed)),
        () => Dense(groups: 2, length: 300, heads: 4, headDim: 128, seed + 16, causal: true),
    ];

    /// <summary>
    /// The cases of an experimental prefill kernel: a chunked prefill with images between text and GQA 7, dense causal,
    /// dense non-causal below the padded head dim, and cross-attention.
    /// </summary>
    private Func<PrefillVariant, IEnumerable<Func<ConformanceResult>>> ExperimentCases(int seed) => v => new Func<ConformanceResult>[]
        {
            () => Case("prefill", AttentionMode.Fused, heads: 28, kvHeads: 4, headDim: v.Dim == 80 ? 72 : v.Dim, blockSize: 16, seed + 6,
                [new(0, 333, 3, 16, [5, 6, 300]), new(100, 17)], prefillVariant: v),
            () => Dense(groups: 2, length: 300, heads: 4, headDim: v.Dim == 80 ? 72 : v.Dim, seed + 16, causal: true, variant: v),
            () => Dense(groups: 3, length: 150, heads: 2, headDim: v.Dim == 80 ? 72 : v.Dim - 8, seed + 17, causal: false, variant: v),
            () => Case("prefill", AttentionMode.Cross, heads: 12, kvHeads: 2, headDim: v.Dim == 80 ? 72 : v.Dim, blockSize: 16, seed + 10,
                [new(0, 150, 2, 27, [10, 100]), new(20, 40, 1, 27, [45])], prefillVariant: v),
        };

    /// <summary>
    /// The architecture-specific kernels this device and NVRTC can run (the sm_90a warpgroup-MMA prefill), checked after
    /// everything else (a fault in one poisons the context for what follows): their conformance cases, then — for a
    /// kernel that passed them all, and when <paramref name="bench"/> — causal prefill TFLOP/s beside the portable default
    /// kernel on the same problems (same-run ratios); a d128 kernel also runs SigLIP's head dim 72 (zero-padded), checked
    /// and timed beside the d80 kernel. Then the cluster decode (sm_90, the newest and least proven, so last): its
    /// conformance cases, and when they all pass and <paramref name="bench"/>, its batch-1 rows beside the planned launch
    /// pair (% of <paramref name="copyGbPerSecond"/> when given). Kernels this device cannot run yield nothing.
    /// </summary>
    public (IReadOnlyList<ConformanceResult> Results, IReadOnlyList<AttentionBenchRow> Bench, bool ClusterPassed) RunArchSpecific(bool bench, double? copyGbPerSecond = null, int seed = 100)
    {
        var results = new List<ConformanceResult>();
        var rows = new List<AttentionBenchRow>();
        foreach (var v in AttentionKernels.PrefillExperiments.Where(v => v.Engine != PrefillEngine.MmaSync && _attn.Unavailable(v) is null))
        {
            var mine = ExperimentCases(seed)(v).Select(Guarded).ToList();
            // A d128 kernel may also serve SigLIP's head dim 72 (zero-padded): its case, and its time beside the d80 kernel.
            bool vision = v.Dim == 128;
            if (vision) mine.Add(Guarded(() => Dense(groups: 2, length: 729, heads: 16, headDim: 72, seed + 11, variant: v)));
            results.AddRange(mine);
            if (!bench || !mine.All(r => r.Pass)) continue;
            rows.AddRange(PrefillBench([AttentionKernels.PrefillVariantFor(v.Dim), v]));
            if (vision) rows.AddRange(VisionBench([AttentionKernels.PrefillVariantFor(72), v]));
        }
        bool clusterPassed = false;
        if (_attn.ClusterDecodeUnavailable() is null)
        {
            var mine = ClusterCases(seed).Select(Guarded).ToList();
            results.AddRange(mine);
            clusterPassed = mine.All(r => r.Pass);
            if (bench && clusterPassed)
                try
                {
                    rows.AddRange(ClusterBench(copyGbPerSecond));
                }
                catch (Exception e) when (e is not OutOfMemoryException) // the rows and results above stay
                {
                    rows.Add(new AttentionBenchRow("decode paged (cluster rows)", $"FAILED: {e.GetType().Name}: {e.Message}", double.NaN, null, null, null));
                }
        }
        return (results, rows, clusterPassed);
    }

    /// <summary>
    /// The cluster decode (sm_90 with a CUDA 12 driver): shapes of the other decode cases with each (sequence, KV head)'s
    /// splits one cluster — portable (8), non-portable (16), an odd count (5), two (the smallest merge), programmatic,
    /// cross-attention; each with at least two splits holding keys (216 visible visual keys in the cross case).
    /// </summary>
    private IEnumerable<Func<ConformanceResult>> ClusterCases(int seed) =>
    [
        () => Case("decode", AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed,
            [new(0, 1), new(16, 1), new(299, 1, 2, 9, [3, 100]), new(4100, 1)], DecodeKernel.TensorCoreCluster, clusterSplits: 16),
        () => Case("decode", AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed,
            [new(0, 1), new(16, 1), new(299, 1, 2, 9, [3, 100]), new(4100, 1)], DecodeKernel.TensorCoreCluster, clusterSplits: 8),
        () => Case("decode", AttentionMode.Fused, heads: 28, kvHeads: 4, headDim: 128, blockSize: 16, seed + 1,
            [new(37, 1, 3, 16, [5, 6, 20]), new(1023, 1), new(17000, 1)], DecodeKernel.TensorCoreCluster, clusterSplits: 16),
        () => Case("decode", AttentionMode.Fused, heads: 4, kvHeads: 2, headDim: 16, blockSize: 4, seed + 2,
            [new(9, 1, 1, 5, [2]), new(3, 1), new(200, 1)], DecodeKernel.TensorCoreCluster, clusterSplits: 2),
        () => Case("decode", AttentionMode.Fused, heads: 32, kvHeads: 2, headDim: 72, blockSize: 16, seed + 13,
            [new(200, 1, 1, 10, [50]), new(6300, 1)], DecodeKernel.TensorCoreCluster, clusterSplits: 5),
        () => Case("decode", AttentionMode.Fused, heads: 8, kvHeads: 8, headDim: 256, blockSize: 16, seed + 3,
            [new(700, 1), new(5, 1)], DecodeKernel.TensorCoreCluster, clusterSplits: 8),
        () => Case("decode", AttentionMode.Cross, heads: 12, kvHeads: 2, headDim: 128, blockSize: 16, seed + 4,
            [new(40, 1, 2, 27, [10, 30]), new(5, 1, 1, 27, [9]), new(12, 1), new(300, 1, 8, 27, [0, 10, 20, 30, 40, 50, 60, 70])],
            DecodeKernel.TensorCoreCluster, clusterSplits: 4),
        () => Case("decode", AttentionMode.Fused, heads: 28, kvHeads: 4, headDim: 128, blockSize: 16, seed + 1,
            [new(37, 1, 3, 16, [5, 6, 20]), new(1023, 1), new(17000, 1)], DecodeKernel.TensorCoreCluster, clusterSplits: 16, stages: 3),
        .. context.SupportsProgrammaticLaunch ? new Func<ConformanceResult>[]
        {
            () => Case("decode", AttentionMode.Fused, heads: 28, kvHeads: 4, headDim: 128, blockSize: 16, seed + 1,
                [new(37, 1, 3, 16, [5, 6, 20]), new(1023, 1), new(17000, 1), new(63, 1), new(64, 1), new(0, 1), new(16, 1)],
                DecodeKernel.TensorCoreCluster, programmatic: true, clusterSplits: 16),
            () => Case("decode", AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed,
                [new(0, 1), new(16, 1), new(299, 1, 2, 9, [3, 100]), new(4100, 1), new(62, 1), new(127, 1)],
                DecodeKernel.TensorCoreCluster, programmatic: true, clusterSplits: 8, stages: 3),
        } : [],
    ];

    /// <summary>
    /// A paged case: every sequence's cached + new tokens are written into a scattered, NaN-poisoned cache by
    /// kv_write_bf16 (the CPU cache through WriteKv), then the step's rows attend (decode: one new token each).
    /// </summary>
    public ConformanceResult Case(string kind, AttentionMode mode, int heads, int kvHeads, int headDim, int blockSize, int seed,
        IReadOnlyList<AttentionSeqSpec> seqs, DecodeKernel decodeKernel = DecodeKernel.TensorCore,
        PrefillVariant? prefillVariant = null, bool fusedCombine = false, bool programmatic = false, int clusterSplits = 0, int stages = 2)
    {
        if ((clusterSplits > 0) != (decodeKernel == DecodeKernel.TensorCoreCluster)) throw new ArgumentException("the cluster decode, and only it, takes a cluster split count");
        var rng = new Random(seed);
        int stride = kvHeads * headDim, seqCount = seqs.Count;
        int maxBlocks = seqs.Max(s => (s.Cached + s.New + blockSize - 1) / blockSize);
        int usedBlocks = seqs.Sum(s => (s.Cached + s.New + blockSize - 1) / blockSize);
        int numBlocks = usedBlocks * 2 + 3;
        var perm = Enumerable.Range(0, numBlocks).OrderBy(_ => rng.Next()).ToArray();
        var tables = new int[seqCount][];
        for (int s = 0, next = 0; s < seqCount; s++)
        {
            tables[s] = new int[(seqs[s].Cached + seqs[s].New + blockSize - 1) / blockSize];
            for (int b = 0; b < tables[s].Length; b++) tables[s][b] = perm[next++];
        }
        // K/V of every token, written once into both caches.
        int allTokens = seqs.Sum(s => s.Cached + s.New);
        float[] kAll = RandomBf16(rng, allTokens * stride), vAll = RandomBf16(rng, allTokens * stride);
        var visual = new VisualKv?[seqCount];
        for (int s = 0; s < seqCount; s++)
            if (seqs[s].Crops > 0)
            {
                int n = seqs[s].Crops * seqs[s].TokensPerCrop;
                visual[s] = new VisualKv(new Tensor(RandomBf16(rng, kvHeads * n * headDim), kvHeads * n, headDim),
                    new Tensor(RandomBf16(rng, kvHeads * n * headDim), kvHeads * n, headDim), seqs[s].TokensPerCrop, seqs[s].VisibleFrom!);
            }
        using var cpuCache = _cpu.CreateKvCache(1, numBlocks, blockSize, kvHeads, headDim);
        var writeSeqs = new List<AttentionSequence>();
        for (int s = 0, row = 0; s < seqCount; s++)
        {
            int len = seqs[s].Cached + seqs[s].New;
            writeSeqs.Add(new AttentionSequence(row, len, 0, tables[s], [visual[s]]));
            row += len;
        }
        var writeBatch = new AttentionBatch(writeSeqs, cpuCache);
        _cpu.WriteKv(writeBatch, 0, new Tensor(kAll, allTokens, stride), new Tensor(vAll, allTokens, stride));

        // The step: new rows of every sequence.
        int rows = seqs.Sum(s => s.New);
        float[] q = RandomBf16(rng, rows * heads * headDim);
        var stepSeqs = new List<AttentionSequence>();
        for (int s = 0, row = 0; s < seqCount; s++)
        {
            stepSeqs.Add(new AttentionSequence(row, seqs[s].New, seqs[s].Cached, tables[s], [visual[s]]));
            row += seqs[s].New;
        }
        var step = new AttentionBatch(stepSeqs, cpuCache);
        var qt = new Tensor(q, rows, heads * headDim);
        var expected = mode == AttentionMode.Fused ? _cpu.PagedAttention(qt, step, 0, heads, fusedVisual: true)
            : _cpu.CrossAttention(qt, step, 0, heads, new int[rows]);

        // GPU: the same cache through kv_write, the same step through the kernel.
        using var stream = new CudaStream(context);
        long cacheElems = (long)numBlocks * blockSize * stride;
        using var kCache = Poisoned(cacheElems); using var vCache = Poisoned(cacheElems);
        var slots = new int[allTokens];
        for (int s = 0, t0 = 0; s < seqCount; s++)
        {
            int len = seqs[s].Cached + seqs[s].New;
            for (int i = 0; i < len; i++) slots[t0 + i] = tables[s][i / blockSize] * blockSize + i % blockSize;
            t0 += len;
        }
        // Programmatic decode: each sequence's newest token is left out here (its slots stay NaN) and written by a
        // compact K/V write launched programmatically just before the decode (see the decode branch).
        float[] newestK = new float[seqCount * stride], newestV = new float[seqCount * stride];
        int[] newestSlots = new int[seqCount];
        if (programmatic)
            for (int s = 0, t0 = 0; s < seqCount; t0 += seqs[s].Cached + seqs[s].New, s++)
            {
                int last = t0 + seqs[s].Cached + seqs[s].New - 1;
                (newestSlots[s], slots[last]) = (slots[last], -1);
                Array.Copy(kAll, last * stride, newestK, s * stride, stride);
                Array.Copy(vAll, last * stride, newestV, s * stride, stride);
            }
        using var dk = Upload(kAll); using var dv = Upload(vAll); using var dSlots = UploadInts(slots);
        _attn.KvWrite(stream, new KvWriteParams
        {
            K = dk.Pointer, V = dv.Pointer, KCache = kCache.Pointer, VCache = vCache.Pointer, Slots = dSlots.Pointer,
            Tokens = allTokens, KvHeads = kvHeads, HeadDim = headDim, KStride = stride, VStride = stride,
        });
        var flatTables = new int[seqCount * maxBlocks];
        for (int s = 0; s < seqCount; s++) tables[s].CopyTo(flatTables, s * maxBlocks);
        using var dTables = UploadInts(flatTables);
        using var dq = Upload(q); using var dOut = Poisoned((long)rows * heads * headDim);
        var visBuffers = new List<IDisposable>();
        var visK = new ulong[seqCount]; var visV = new ulong[seqCount]; var visTokens = new int[seqCount];
        for (int s = 0; s < seqCount; s++)
            if (visual[s] is { } vk)
            {
                var bk = Upload(vk.Keys.Data); var bv = Upload(vk.Values.Data);
                visBuffers.Add(bk); visBuffers.Add(bv);
                (visK[s], visV[s], visTokens[s]) = (bk.Pointer, bv.Pointer, vk.ImageTokens);
            }
        using var dVisK = UploadLongs(visK); using var dVisV = UploadLongs(visV); using var dVisTokens = UploadInts(visTokens);
        float scaleLog2 = (float)(1.0 / Math.Sqrt(headDim) * 1.4426950408889634);
        string shape;
        try
        {
            if (kind == "decode")
            {
                if (seqs.Any(s => s.New != 1)) throw new ArgumentException("decode cases have one new token per sequence");
                var textLens = seqs.Select(s => mode == AttentionMode.Cross ? 0 : s.Cached + 1).ToArray();
                var visLens = seqs.Select((s, i) => visual[i] is { } vk ? vk.VisibleCrops(s.Cached) * vk.TokensPerCrop : 0).ToArray();
                int maxKeys = seqs.Select((s, i) => textLens[i] + visLens[i]).Max();
                var (splitKeys, splits) = clusterSplits > 0
                    ? (Math.Max(64, ((maxKeys + clusterSplits - 1) / clusterSplits + 63) / 64 * 64), clusterSplits) // may leave CTAs empty
                    : AttentionKernels.DecodeSplits(maxKeys, seqCount, kvHeads, context.Multiprocessors, _attn.DecodeCtasPerMultiprocessor(headDim, stages));
                using var dText = UploadInts(textLens); using var dVis = UploadInts(visLens);
                using var partO = new DeviceBuffer<float>(context, (long)seqCount * heads * splits * headDim);
                using var partMl = new DeviceBuffer<float>(context, (long)seqCount * heads * splits * 2);
                using var counters = UploadInts(new int[seqCount * kvHeads]);
                var p = new DecodeParams
                {
                    Q = dq.Pointer, O = dOut.Pointer, KCache = kCache.Pointer, VCache = vCache.Pointer, BlockTables = dTables.Pointer,
                    TextLens = dText.Pointer, VisLens = dVis.Pointer, VisK = dVisK.Pointer, VisV = dVisV.Pointer, VisTokens = dVisTokens.Pointer,
                    // The cluster decode gets no partial buffers: it must not need them (a write through null would fault).
                    PartO = clusterSplits > 0 ? 0 : partO.Pointer, PartMl = clusterSplits > 0 ? 0 : partMl.Pointer, SplitCounters = fusedCombine ? counters.Pointer : 0,
                    Seqs = seqCount, Heads = heads, KvHeads = kvHeads, HeadDim = headDim,
                    BlockSize = blockSize, MaxBlocks = maxBlocks, Splits = splits, SplitKeys = splitKeys,
                    QStride = heads * headDim, OStride = heads * headDim, ScaleLog2 = scaleLog2,
                };
                using var newK = Upload(newestK); using var newV = Upload(newestV); using var newSlots = UploadInts(newestSlots);
                if (programmatic)
                {
                    // The hostile timing: a delay kernel lets the compact K/V write start at once, which lets the
                    // decode start at once; both sit in pdl_wait() for 100 µs while the newest keys' slots are still
                    // NaN — any tile the decode reads before its wait that holds a newest key would show.
                    cache.Get("diagnostics.cu", "spin_delay").Launch(stream, new Dim3(1), new Dim3(32), new DelayParams { Nanoseconds = 100_000 });
                    _attn.KvWrite(stream, new KvWriteParams
                    {
                        K = newK.Pointer, V = newV.Pointer, KCache = kCache.Pointer, VCache = vCache.Pointer, Slots = newSlots.Pointer,
                        Tokens = seqCount, KvHeads = kvHeads, HeadDim = headDim, KStride = stride, VStride = stride,
                    }, programmatic: true);
                }
                _attn.Decode(stream, p, decodeKernel, programmatic, stages);
                // Launched twice (fused combine, programmatic): the second right after the first, into its own poisoned
                // output — the counters the first leaves behind serve the second (a graph replays the same buffers),
                // and a programmatic second decode overlaps the first's tail. Both outputs are judged.
                bool twice = fusedCombine || programmatic || clusterSplits > 0;
                using var dOut2 = Poisoned(twice ? (long)rows * heads * headDim : 1);
                if (twice) _attn.Decode(stream, p with { O = dOut2.Pointer }, decodeKernel, programmatic, stages);
                stream.Synchronize();
                if (fusedCombine && counters.ToArray().Any(c => c != 0)) throw new InvalidOperationException("the fused combine left split counters non-zero");
                shape = $"{mode} {heads}/{kvHeads}×{headDim} b{blockSize} keys≤{maxKeys} splits {splits}{(twice ? ", launched twice" : "")}";
                kind = (decodeKernel == DecodeKernel.CudaCore ? "decode (cuda cores" : fusedCombine ? "decode (tc, fused combine"
                        : clusterSplits > 0 ? $"decode (tc, cluster of {clusterSplits}" : "decode (tc")
                    + (stages != 2 ? $", {stages} stages" : "")
                    + (programmatic ? ", programmatic launch)" : ")");
                if (twice)
                {
                    var first = Judge($"attention_{kind}", shape, Download(dOut), expected.Data);
                    var second = Judge($"attention_{kind}", shape, Download(dOut2), expected.Data);
                    return !first.Pass ? first with { Shape = shape + " (first launch)" } : second with { Shape = shape + (second.Pass ? "" : " (second launch)") };
                }
            }
            else
            {
                var qStart = new int[seqCount + 1];
                for (int s = 0; s < seqCount; s++) qStart[s + 1] = qStart[s] + seqs[s].New;
                var visLens = new int[rows];
                foreach (var sq in stepSeqs)
                    for (int i = 0; i < sq.TokenCount; i++)
                        visLens[sq.TokenStart + i] = sq.Visual[0] is { } vk ? vk.VisibleCrops(sq.CachedLength + i) * vk.TokensPerCrop : 0;
                var variant = prefillVariant ?? AttentionKernels.PrefillVariantFor(headDim);
                var tiles = AttentionKernels.PrefillTiles(qStart, variant.Rows);
                using var dQStart = UploadInts(qStart); using var dPos = UploadInts(seqs.Select(s => s.Cached).ToArray());
                using var dTiles = UploadInts(tiles); using var dVis = UploadInts(visLens);
                _attn.Prefill(stream, new PrefillParams
                {
                    Q = dq.Pointer, O = dOut.Pointer, K = kCache.Pointer, V = vCache.Pointer, BlockTables = dTables.Pointer,
                    SeqQStart = dQStart.Pointer, SeqKStart = 0, SeqPos = dPos.Pointer, Tiles = dTiles.Pointer, VisLens = dVis.Pointer,
                    VisK = dVisK.Pointer, VisV = dVisV.Pointer, VisTokens = dVisTokens.Pointer, Heads = heads, KvHeads = kvHeads,
                    HeadDim = headDim, BlockSize = blockSize, MaxBlocks = maxBlocks, TextMode = mode == AttentionMode.Cross ? 0 : 1,
                    QStride = heads * headDim, OStride = heads * headDim, KvStride = stride, ScaleLog2 = scaleLog2,
                }, tiles.Length / 2, variant);
                stream.Synchronize();
                if (prefillVariant is not null) kind = $"prefill ({prefillVariant.Kernel})";
                shape = $"{mode} {heads}/{kvHeads}×{headDim} b{blockSize} rows {rows} ({string.Join(",", seqs.Select(s => $"{s.Cached}+{s.New}"))})";
            }
        }
        finally
        {
            foreach (var b in visBuffers) b.Dispose();
        }
        return Judge($"attention_{kind}", shape, Download(dOut), expected.Data);
    }

    /// <summary>
    /// The 240728 (dynamic: per-row gate + per-head bias) or 241014 (static: one gate row) mix against the CPU's
    /// SigmoidInPlace + GatedMixInPlace, with a third of the rows seeing no image (left untouched).
    /// </summary>
    public ConformanceResult GateMix(int rows, int heads, int headDim, bool dynamic, int seed)
    {
        var rng = new Random(seed);
        int cols = heads * headDim, gateRows = dynamic ? rows : 1;
        float[] mixIn = RandomBf16(rng, rows * cols), cross = RandomBf16(rng, rows * cols), gate = RandomBf16(rng, gateRows * cols);
        float[] bias = dynamic ? RandomBf16(rng, headDim) : [];
        var visible = Enumerable.Range(0, rows).Select(r => r % 3 == 0 ? 0 : 1 + r % 2).ToArray();
        var g = new float[gateRows * cols];
        for (int i = 0; i < g.Length; i++) g[i] = gate[i] + (dynamic ? bias[i % headDim] : 0f);
        var gt = new Tensor(g, gateRows, cols);
        _cpu.SigmoidInPlace(gt);
        var expected = new Tensor((float[])mixIn.Clone(), rows, cols);
        _cpu.GatedMixInPlace(expected, new Tensor(cross, rows, cols), gt, visible);
        using var stream = new CudaStream(context);
        using var dc = Upload(mixIn); using var dx = Upload(cross); using var dg = Upload(gate); using var db = Upload(dynamic ? bias : [0f]);
        using var dv = UploadInts(visible);
        _attn.GateMix(stream, new GateMixParams
        {
            Context = dc.Pointer, Cross = dx.Pointer, Gate = dg.Pointer, Bias = dynamic ? db.Pointer : 0, Visible = dv.Pointer,
            Rows = rows, Cols = cols, GateRows = gateRows, BiasPeriod = dynamic ? headDim : 0,
        });
        stream.Synchronize();
        return Judge($"hyper_gate_mix_bf16 ({(dynamic ? "240728 dynamic" : "241014 static")})", $"[{rows}, {heads}×{headDim}]", Download(dc), expected.Data);
    }

    /// <summary>
    /// Dense attention: groups of <paramref name="length"/> rows attend within the group, no mask (SigLIP) or causal
    /// (a prompt prefill with dense K/V, the benchmark's form; its CPU twin is the paged attention over one block).
    /// </summary>
    public ConformanceResult Dense(int groups, int length, int heads, int headDim, int seed, bool causal = false, PrefillVariant? variant = null)
    {
        var rng = new Random(seed);
        int rows = groups * length, width = heads * headDim;
        float[] q = RandomBf16(rng, rows * width), k = RandomBf16(rng, rows * width), v = RandomBf16(rng, rows * width);
        var expected = causal ? CausalReference(q, k, v, groups, length, heads, headDim)
            : _cpu.DenseAttention(new Tensor(q, rows, width), new Tensor(k, rows, width), new Tensor(v, rows, width), length, heads, headDim);
        var qStart = Enumerable.Range(0, groups + 1).Select(g => g * length).ToArray();
        variant ??= AttentionKernels.PrefillVariantFor(headDim);
        var tiles = AttentionKernels.PrefillTiles(qStart, variant.Rows);
        using var stream = new CudaStream(context);
        using var dq = Upload(q); using var dk = Upload(k); using var dv = Upload(v); using var dOut = Poisoned((long)rows * width);
        using var dQStart = UploadInts(qStart); using var dKStart = UploadInts(qStart[..groups]); using var dPos = UploadInts(new int[groups]);
        using var dTiles = UploadInts(tiles);
        _attn.Prefill(stream, DenseParams(dq.Pointer, dk.Pointer, dv.Pointer, dOut.Pointer, dQStart.Pointer, dKStart.Pointer, dPos.Pointer, dTiles.Pointer, heads, headDim, causal),
            tiles.Length / 2, variant);
        stream.Synchronize();
        return Judge($"{variant.Kernel} (dense)", $"{groups}×{length} rows, {heads}×{headDim}, {(causal ? "causal" : "non-causal")}", Download(dOut), expected.Data);
    }

    /// <summary>Causal attention of dense groups on the CPU: each group written as one sequence into a one-block-per-token cache.</summary>
    private Tensor CausalReference(float[] q, float[] k, float[] v, int groups, int length, int heads, int headDim)
    {
        int rows = groups * length, width = heads * headDim;
        using var cpuCache = _cpu.CreateKvCache(1, rows, 1, heads, headDim);
        var seqs = Enumerable.Range(0, groups)
            .Select(g => new AttentionSequence(g * length, length, 0, Enumerable.Range(g * length, length).ToArray(), [null])).ToList();
        var batch = new AttentionBatch(seqs, cpuCache);
        _cpu.WriteKv(batch, 0, new Tensor(k, rows, width), new Tensor(v, rows, width));
        return _cpu.PagedAttention(new Tensor(q, rows, width), batch, 0, heads, fusedVisual: true);
    }

    private static PrefillParams DenseParams(ulong q, ulong k, ulong v, ulong o, ulong qStart, ulong kStart, ulong pos, ulong tiles, int heads, int headDim, bool causal = false) => new()
    {
        Q = q, O = o, K = k, V = v, SeqQStart = qStart, SeqKStart = kStart, SeqPos = pos, Tiles = tiles,
        Heads = heads, KvHeads = heads, HeadDim = headDim, BlockSize = 1, TextMode = causal ? 1 : 2,
        QStride = heads * headDim, OStride = heads * headDim, KvStride = heads * headDim,
        ScaleLog2 = (float)(1.0 / Math.Sqrt(headDim) * 1.4426950408889634),
    };

    private static ConformanceResult Judge(string kernel, string shape, float[] actual, float[] expected) =>
        DeviceData.Judge(kernel, shape, actual, expected, Nmse, MaxAbs);

    private static float[] RandomBf16(Random rng, int n) => DeviceData.RandomBf16(rng, n);

    private DeviceBuffer<ushort> Upload(float[] values) => DeviceData.Upload(context, values);

    private DeviceBuffer<int> UploadInts(int[] values) => DeviceData.Upload(context, values);

    private DeviceBuffer<ulong> UploadLongs(ulong[] values) => DeviceData.Upload(context, values);

    private DeviceBuffer<ushort> Poisoned(long n) => DeviceData.Poisoned(context, n);

    private static float[] Download(DeviceBuffer<ushort> buffer) => DeviceData.Download(buffer);
}

/// <summary>One attention benchmark figure (TFLOP/s for prefill-like work, GB/s and % of copy for decode).</summary>
public sealed record AttentionBenchRow(string Kernel, string Shape, double Ms, double? Tflops, double? GbPerSecond, double? PercentOfCopy);
