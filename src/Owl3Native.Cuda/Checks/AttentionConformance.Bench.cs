using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Checks;

// The attention benchmarks and the profiler's launches (the conformance cases are in AttentionConformance.cs).
public sealed partial class AttentionConformance
{
    /// <summary>
    /// Benchmarks on random bf16 operands: dense causal prefill TFLOP/s at head dim 128 (batch × heads filling the chip)
    /// for the default instantiation and each experimental shape (same run, so their ratios hold); decode GB/s of K/V
    /// read (bf16, paged, block 16, GQA 7, 4 KV heads) at 1k–32k keys for batch 1 and 64 against the device copy
    /// bandwidth, launched from the host and replayed from a CUDA graph (the device's own time), with the split count
    /// swept at four shapes; SigLIP attention (729 tokens, 16 × 72, non-causal) per crop. Each shape names the CTAs one
    /// multiprocessor holds.
    /// </summary>
    public IReadOnlyList<AttentionBenchRow> Bench(double copyGbPerSecond)
    {
        var rows = new List<AttentionBenchRow>(PrefillBench(AttentionKernels.PrefillVariantsFor(128).Where(v => v.Engine == PrefillEngine.MmaSync).ToArray()));
        using var stream = new CudaStream(Context);
        int decodeCtas = _attn.DecodeCtasPerMultiprocessor(128);
        // The launch floor: a kernel that does nothing (one thread reads the timer once), 64 CTAs — batch 1 × 1k keys'
        // decode grid — one or two launches a step, replayed from a CUDA graph. No decode step of one or two launches
        // can take less; at batch 1 that, not bandwidth, is what a short context's step costs.
        var empty = cache.Get("diagnostics.cu", "spin_delay");
        foreach (int launches in new[] { 1, 2 })
        {
            const int reps = 20;
            float ms = DeviceData.GraphTime(stream, () => { for (int l = 0; l < launches; l++) empty.Launch(stream, new Dim3(64), new Dim3(128), new DelayParams { Nanoseconds = 0 }); }, reps);
            rows.Add(new AttentionBenchRow("launch floor (empty kernel, CUDA graph)", $"64 CTAs × 128 threads, {launches} launch{(launches > 1 ? "es" : "")} a step", ms, null, null, null));
        }
        foreach (int batch in new[] { 1, 64 })
            foreach (int len in new[] { 1024, 4096, 16384, 32768 })
            {
                if (DecodeProblem.CacheBytes(batch, len) > Context.MemoryInfo().Free / 2) continue;
                using var problem = new DecodeProblem(this, stream, batch, len);
                var (plannedKeys, planned) = AttentionKernels.DecodeSplits(len, batch, DecodeProblem.KvHeads, Context.Multiprocessors, decodeCtas);
                // The planner's split count, and at three shapes a sweep of it (the tail of the last wave of CTAs).
                int[] sweep = (batch, len) switch
                {
                    (64, 32768) or (64, 4096) => [1, 2, 3, 4, 6, 12],
                    (1, 32768) => [32, 64, 128],
                    (1, 4096) => [4, 8, 16, 32],
                    _ => [],
                };
                foreach (int splits in sweep.Append(planned).Distinct())
                {
                    int splitKeys = splits == planned ? plannedKeys : ((len + splits - 1) / splits + 63) / 64 * 64;
                    int realSplits = (len + splitKeys - 1) / splitKeys;
                    var p = problem.Params(realSplits, splitKeys);
                    double bytes = problem.Bytes;
                    foreach (var kernel in splits == planned && batch == 64 && len == 32768 ? [DecodeKernel.TensorCore, DecodeKernel.CudaCore] : new[] { DecodeKernel.TensorCore })
                    {
                        int reps = kernel == DecodeKernel.TensorCore ? 20 : 5;
                        _attn.Decode(stream, p, kernel);
                        float ms = stream.Time(() => { for (int i = 0; i < reps; i++) _attn.Decode(stream, p, kernel); }) / reps;
                        double gbs = bytes / (ms / 1000) / 1e9;
                        // K/V bytes read per second against the copy's bytes moved (read + written) per second.
                        string shape = $"batch {batch}, {len} keys, 28/4×128, splits {realSplits}{(splits == planned ? " (planned)" : "")}, {decodeCtas} CTA/SM";
                        rows.Add(new AttentionBenchRow($"decode paged ({(kernel == DecodeKernel.TensorCore ? "tc" : "cuda cores")})", shape,
                            ms, null, gbs, 100 * gbs / copyGbPerSecond));
                        if (kernel != DecodeKernel.TensorCore) continue;
                        // The same launches replayed from a CUDA graph: the device's time without the host's launch
                        // cost (a decode step of the engine is a graph); the gap between the two rows is that cost.
                        float graphMs = DeviceData.GraphTime(stream, () => _attn.Decode(stream, p, kernel), reps);
                        double graphGbs = bytes / (graphMs / 1000) / 1e9;
                        rows.Add(new AttentionBenchRow("decode paged (tc, CUDA graph)", shape, graphMs, null, graphGbs, 100 * graphGbs / copyGbPerSecond));
                        if (splits != planned) continue;
                        // At the planned split: programmatic launches (each decode's first tiles load under the previous
                        // launch's tail), and the splits merged by the last split CTA (one launch instead of two).
                        using var counters = UploadInts(new int[batch * DecodeProblem.KvHeads]);
                        var fused = p with { SplitCounters = counters.Pointer };
                        foreach (var (name, q0, pdl) in new[] { ("programmatic", p, true), ("fused combine", fused, false), ("fused combine, programmatic", fused, true) })
                        {
                            if ((q0.SplitCounters != 0 && realSplits == 1) || (pdl && !Context.SupportsProgrammaticLaunch)) continue;
                            float vms = DeviceData.GraphTime(stream, () => _attn.Decode(stream, q0, kernel, pdl), reps);
                            double vgbs = bytes / (vms / 1000) / 1e9;
                            rows.Add(new AttentionBenchRow($"decode paged (tc, {name}, CUDA graph)", shape, vms, null, vgbs, 100 * vgbs / copyGbPerSecond));
                        }
                        // Three stages (two tiles in flight while one is computed), at its own planned split (it
                        // holds fewer CTAs a multiprocessor), launched plainly and programmatically.
                        int ctas3 = _attn.DecodeCtasPerMultiprocessor(DecodeProblem.HeadDim, 3);
                        var (keys3, splits3) = AttentionKernels.DecodeSplits(len, batch, DecodeProblem.KvHeads, Context.Multiprocessors, ctas3);
                        var p3 = problem.Params(splits3, keys3);
                        foreach (bool pdl in Context.SupportsProgrammaticLaunch ? new[] { false, true } : [false])
                        {
                            float ms3 = DeviceData.GraphTime(stream, () => _attn.Decode(stream, p3, kernel, pdl, stages: 3), reps);
                            double gbs3 = bytes / (ms3 / 1000) / 1e9;
                            rows.Add(new AttentionBenchRow($"decode paged (tc, 3 stages{(pdl ? ", programmatic" : "")}, CUDA graph)",
                                $"batch {batch}, {len} keys, 28/4×128, splits {splits3} (planned), {ctas3} CTA/SM", ms3, null, gbs3, 100 * gbs3 / copyGbPerSecond));
                        }
                        // The floor: one kernel reading the same K/V bytes once and doing nothing else, in the same
                        // graph form, with the plan's CTA count and with 8 CTAs a multiprocessor; the faster counts. No
                        // single-kernel decode of this step can be faster.
                        long chunks = DecodeProblem.CacheBytes(batch, len) / 2 / 16;
                        var readKernel = cache.Get("diagnostics.cu", "stream_read");
                        float fms = float.MaxValue;
                        int floorCtas = 0;
                        foreach (int ctas in new[] { batch * DecodeProblem.KvHeads * realSplits, 8 * Context.Multiprocessors }.Distinct())
                        {
                            using var sink = new DeviceBuffer<uint>(Context, (long)ctas * 128);
                            var read = new ReadParams { A = problem.KCache, B = problem.VCache, Out = sink.Pointer, Chunks = chunks, PerCta = (chunks + ctas - 1) / ctas };
                            float t = DeviceData.GraphTime(stream, () => readKernel.Launch(stream, new Dim3((uint)ctas), new Dim3(128), read), reps);
                            if (t < fms) (fms, floorCtas) = (t, ctas);
                        }
                        double fgbs = bytes / (fms / 1000) / 1e9;
                        rows.Add(new AttentionBenchRow("decode paged (read floor, CUDA graph)", $"{shape}; floor {floorCtas} CTAs", fms, null, fgbs, 100 * fgbs / copyGbPerSecond));
                    }
                }
            }
        rows.AddRange(VisionBench(AttentionKernels.PrefillVariantsFor(72).Where(v => v.Engine == PrefillEngine.MmaSync).ToArray()));
        return rows;
    }

    /// <summary>
    /// SigLIP's attention (64 crops × 729 tokens, 16 heads × 72, non-causal) on <paramref name="variants"/>: time per crop
    /// per layer and TFLOP/s counted at D = 72 (a kernel padded wider does more work for the same count).
    /// </summary>
    private List<AttentionBenchRow> VisionBench(IReadOnlyList<PrefillVariant> variants)
    {
        var rows = new List<AttentionBenchRow>();
        using var stream = new CudaStream(Context);
        int crops = 64, length = 729, heads = 16, headDim = 72;
        using var problem = new DenseProblem(this, stream, crops, length, heads, headDim, seed: 7);
        foreach (var variant in variants)
        {
            float ms = problem.Time(variant, causal: false);
            double flops = 4.0 * crops * heads * headDim * length * (double)length;
            rows.Add(new AttentionBenchRow($"vision attention ({variant.Kernel})", $"{crops} crops × 729, 16×72, per crop (one layer); {variant.Rows}×{variant.KeyTile} tiles",
                ms / crops, flops / (ms / 1000) / 1e12, null, null));
        }
        return rows;
    }

    /// <summary>Causal d128 prefill TFLOP/s of <paramref name="variants"/> on the same random problems: 2 × 16k, 4 × 8k, 8 × 4k tokens, 32 heads.</summary>
    private List<AttentionBenchRow> PrefillBench(IReadOnlyList<PrefillVariant> variants)
    {
        var rows = new List<AttentionBenchRow>();
        using var stream = new CudaStream(Context);
        int headDim = variants[0].Dim; // one padded head dim per call (128 unless the variants serve another)
        if (variants.Any(v => v.Dim != headDim)) throw new ArgumentException("prefill variants of one head dim per benchmark");
        foreach (int len in new[] { 4096, 8192, 16384 })
        {
            int heads = 32, batch = Math.Max(1, 16384 / len * 2);
            using var problem = new DenseProblem(this, stream, batch, len, heads, headDim, seed: 1);
            foreach (var variant in variants)
            {
                float ms = problem.Time(variant, causal: true);
                double flops = 4.0 * batch * heads * headDim * len * (double)len / 2;
                rows.Add(new AttentionBenchRow($"prefill causal ({variant.Kernel})",
                    $"{batch}×{len} tokens, {heads}×{headDim}; {variant.Threads / 32} warps, {variant.Rows}×{variant.KeyTile} tiles, {_attn.PrefillCtasPerMultiprocessor(variant)} CTA/SM",
                    ms, flops / (ms / 1000) / 1e12, null, null));
            }
        }
        return rows;
    }

    /// <summary>
    /// One launch of each d128 prefill shape (causal, 2 × 16k tokens, 32 heads) and of the tensor-core decode (batch
    /// 64 × 32k keys, planned splits), for a profiler (`ncu -k regex:attention_`) to attach to; nothing is timed here.
    /// </summary>
    public void ProfileLaunches()
    {
        using var stream = new CudaStream(Context);
        using (var problem = new DenseProblem(this, stream, seqs: 2, length: 16384, heads: 32, headDim: 128, seed: 1))
            foreach (var variant in AttentionKernels.PrefillVariantsFor(128).Where(v => _attn.Unavailable(v) is null))
            {
                problem.Launch(variant, causal: true);
                stream.Synchronize();
            }
        using (var decode = new DecodeProblem(this, stream, batch: 64, len: 32768))
        {
            var (splitKeys, splits) = AttentionKernels.DecodeSplits(32768, 64, DecodeProblem.KvHeads, Context.Multiprocessors, _attn.DecodeCtasPerMultiprocessor(DecodeProblem.HeadDim));
            _attn.Decode(stream, decode.Params(splits, splitKeys));
            stream.Synchronize();
        }
    }

    /// <summary>
    /// Batch-1 decode at 1k–32k keys (the bench's shape) with the splits merged inside one thread-block cluster (16 CTAs,
    /// non-portable; 8, portable), beside the planned tensor-core launch pair and its programmatic form, all replayed from
    /// CUDA graphs in this one run (same-run ratios; % of <paramref name="copyGbPerSecond"/> when given). A cluster of 16 takes fewer
    /// splits than the plan from 4k keys on: the rows show what that costs against the launch it saves. A cluster size
    /// the device cannot schedule yields a FAILED row.
    /// </summary>
    private List<AttentionBenchRow> ClusterBench(double? copyGbPerSecond)
    {
        var rows = new List<AttentionBenchRow>();
        using var stream = new CudaStream(Context);
        foreach (int len in new[] { 1024, 4096, 16384, 32768 })
            try
            {
                ClusterRows(stream, len, copyGbPerSecond, rows);
            }
            catch (CudaException e) // a fault is sticky: every later row would fail the same way
            {
                rows.Add(new AttentionBenchRow("decode paged (cluster rows)", $"batch 1, {len} keys; FAILED: {e.Message}", double.NaN, null, null, null));
                break;
            }
        return rows;
    }

    private void ClusterRows(CudaStream stream, int len, double? copyGbPerSecond, List<AttentionBenchRow> rows)
    {
        const int reps = 20;
        int ctas = _attn.DecodeCtasPerMultiprocessor(DecodeProblem.HeadDim);
        {
            using var problem = new DecodeProblem(this, stream, batch: 1, len);
            var (plannedKeys, planned) = AttentionKernels.DecodeSplits(len, 1, DecodeProblem.KvHeads, Context.Multiprocessors, ctas);
            var forms = new List<(string Name, string Shape, DecodeParams P, DecodeKernel Kernel, bool Pdl, int Stages)>();
            foreach (bool pdl in Context.SupportsProgrammaticLaunch ? new[] { false, true } : [false])
                forms.Add(($"decode paged (tc{(pdl ? ", programmatic" : "")}, CUDA graph)", $"splits {planned} (planned) + combine", problem.Params(planned, plannedKeys), DecodeKernel.TensorCore, pdl, 2));
            int dp = AttentionKernels.PrefillDim(DecodeProblem.HeadDim);
            int Active(int n, int stages) => cache.Get(AttentionKernels.ClusterDecodeFile, AttentionKernels.DecodeKernelName(dp, stages, cluster: true))
                .MaxActiveClusters(new Dim3(1, 1, (uint)n), 128, AttentionKernels.DecodeSharedBytes(dp, stages));
            foreach (int cs in new[] { 16, 8 })
            {
                int ck = Math.Max(64, ((len + cs - 1) / cs + 63) / 64 * 64);
                foreach (bool pdl in cs == 16 && Context.SupportsProgrammaticLaunch ? new[] { false, true } : [false])
                    foreach (int stages in cs == 16 ? new[] { 2, 3 } : [2])
                        forms.Add(($"decode paged (tc, cluster of {cs}{(stages == 3 ? ", 3 stages" : "")}{(pdl ? ", programmatic" : "")}, CUDA graph)",
                            $"splits {cs} × {ck} keys, one cluster; {Active(cs, stages)} such clusters fit at once",
                            problem.Params(cs, ck) with { PartO = 0, PartMl = 0 }, DecodeKernel.TensorCoreCluster, pdl, stages));
            }
            foreach (var (name, shape, p, kernel, pdl, stages) in forms)
            {
                string full = $"batch 1, {len} keys, 28/4×128, {shape}";
                try
                {
                    float ms = DeviceData.GraphTime(stream, () => _attn.Decode(stream, p, kernel, pdl, stages), reps);
                    double gbs = problem.Bytes / (ms / 1000) / 1e9;
                    rows.Add(new AttentionBenchRow(name, full, ms, null, gbs, 100 * gbs / copyGbPerSecond));
                }
                catch (CudaException e)
                {
                    rows.Add(new AttentionBenchRow(name, $"{full}; FAILED: {e.Message}", double.NaN, null, null, null));
                }
            }
        }
    }

    /// <summary>
    /// The decode benchmark's problem: <c>batch</c> sequences of <c>len</c> keys in a paged bf16 cache (blocks of 16,
    /// scattered), GQA 7 with 4 KV heads of 128 (the 7B's attention), random operands; partial buffers sized per plan.
    /// </summary>
    private sealed class DecodeProblem : IDisposable
    {
        public const int KvHeads = 4, Heads = 28, HeadDim = 128, BlockSize = 16;
        private readonly AttentionConformance _owner;
        private readonly int _batch, _len;
        private readonly List<IDisposable> _buffers = [];
        private readonly ulong _q, _o, _tables, _textLens;
        private DeviceBuffer<float>? _partO, _partMl;

        /// <summary>Bytes of the K and V caches of <paramref name="batch"/> × <paramref name="len"/> keys.</summary>
        public static long CacheBytes(int batch, int len) => 2L * batch * len * KvHeads * HeadDim * 2;

        public DecodeProblem(AttentionConformance owner, CudaStream stream, int batch, int len)
        {
            (_owner, _batch, _len) = (owner, batch, len);
            int blocksPer = len / BlockSize, numBlocks = blocksPer * batch;
            long cacheElems = (long)numBlocks * BlockSize * KvHeads * HeadDim;
            KCache = Keep(owner.Random(stream, cacheElems, 4)).Pointer;
            VCache = Keep(owner.Random(stream, cacheElems, 5)).Pointer;
            _tables = Keep(owner.UploadInts(Enumerable.Range(0, numBlocks).OrderBy(i => (i * 7919L) % numBlocks).ToArray())).Pointer;
            _textLens = Keep(owner.UploadInts(Enumerable.Repeat(len, batch).ToArray())).Pointer;
            _q = Keep(owner.Random(stream, (long)batch * Heads * HeadDim, 6)).Pointer;
            _o = Keep(new DeviceBuffer<ushort>(owner.Context, (long)batch * Heads * HeadDim)).Pointer;
        }

        public ulong KCache { get; }
        public ulong VCache { get; }

        /// <summary>K/V bytes one decode step reads.</summary>
        public double Bytes => CacheBytes(_batch, _len);

        /// <summary>The step's params with <paramref name="splits"/> × <paramref name="splitKeys"/> and partial buffers that hold them.</summary>
        public DecodeParams Params(int splits, int splitKeys)
        {
            long partRows = (long)_batch * Heads * splits;
            if (_partO is null || _partO.Length < partRows * HeadDim)
            {
                // Larger buffers for this plan; the smaller ones stay alive (params made before may still name them).
                _partO = Keep(new DeviceBuffer<float>(_owner.Context, partRows * HeadDim));
                _partMl = Keep(new DeviceBuffer<float>(_owner.Context, partRows * 2));
            }
            return new DecodeParams
            {
                Q = _q, O = _o, KCache = KCache, VCache = VCache, BlockTables = _tables, TextLens = _textLens,
                PartO = _partO.Pointer, PartMl = _partMl!.Pointer, Seqs = _batch, Heads = Heads, KvHeads = KvHeads, HeadDim = HeadDim,
                BlockSize = BlockSize, MaxBlocks = _len / BlockSize, Splits = splits, SplitKeys = splitKeys,
                QStride = Heads * HeadDim, OStride = Heads * HeadDim, ScaleLog2 = 0.1f,
            };
        }

        private T Keep<T>(T buffer) where T : IDisposable
        {
            _buffers.Add(buffer);
            return buffer;
        }

        public void Dispose()
        {
            foreach (var b in _buffers) b.Dispose();
        }
    }

    /// <summary>
    /// Equal-length sequences with dense K/V on random operands (the prefill and SigLIP benchmarks, the profiler's
    /// launches); each variant's tile list is uploaded once.
    /// </summary>
    private sealed class DenseProblem : IDisposable
    {
        private readonly AttentionConformance _owner;
        private readonly CudaStream _stream;
        private readonly int _heads, _headDim;
        private readonly int[] _qStart;
        private readonly List<IDisposable> _buffers = [];
        private readonly Dictionary<PrefillVariant, (DeviceBuffer<int> Tiles, int Count)> _tiles = [];
        private readonly ulong _q, _k, _v, _o, _dQStart, _dKStart, _dPos;

        public DenseProblem(AttentionConformance owner, CudaStream stream, int seqs, int length, int heads, int headDim, int seed)
        {
            (_owner, _stream, _heads, _headDim) = (owner, stream, heads, headDim);
            long n = (long)seqs * length * heads * headDim;
            _qStart = Enumerable.Range(0, seqs + 1).Select(b => b * length).ToArray();
            _q = Keep(owner.Random(stream, n, seed)).Pointer;
            _k = Keep(owner.Random(stream, n, seed + 1)).Pointer;
            _v = Keep(owner.Random(stream, n, seed + 2)).Pointer;
            _o = Keep(new DeviceBuffer<ushort>(owner.Context, n)).Pointer;
            _dQStart = Keep(owner.UploadInts(_qStart)).Pointer;
            _dKStart = Keep(owner.UploadInts(_qStart[..seqs])).Pointer;
            _dPos = Keep(owner.UploadInts(new int[seqs])).Pointer;
        }

        private T Keep<T>(T buffer) where T : IDisposable
        {
            _buffers.Add(buffer);
            return buffer;
        }

        public void Launch(PrefillVariant variant, bool causal)
        {
            if (!_tiles.TryGetValue(variant, out var t))
            {
                var list = AttentionKernels.PrefillTiles(_qStart, variant.Rows);
                _tiles[variant] = t = (Keep(_owner.UploadInts(list)), list.Length / 2);
            }
            var p = DenseParams(_q, _k, _v, _o, _dQStart, _dKStart, _dPos, t.Tiles.Pointer, _heads, _headDim, causal);
            _owner._attn.Prefill(_stream, p, t.Count, variant);
        }

        /// <summary>Milliseconds per launch: one warm-up, then the mean of <paramref name="reps"/>.</summary>
        public float Time(PrefillVariant variant, bool causal, int reps = 5)
        {
            Launch(variant, causal);
            return _stream.Time(() => { for (int i = 0; i < reps; i++) Launch(variant, causal); }) / reps;
        }

        public void Dispose()
        {
            foreach (var b in _buffers) b.Dispose();
        }
    }

    /// <summary>
    /// A benchmark operand of random bf16 values in [−1, 1) (tensor-core power and the softmax's rescaling depend on
    /// the data; constant operands flatter both): 1 Mi random elements uploaded, then copied over the whole buffer.
    /// </summary>
    private DeviceBuffer<ushort> Random(CudaStream stream, long n, int seed) => DeviceData.RandomTiled(Context, stream, n, seed);
}
