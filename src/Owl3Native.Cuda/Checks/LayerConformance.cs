using Owl3Native.Core.Backend;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Model;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Checks;

/// <summary>
/// A whole Qwen2 decoder layer on the device (<see cref="DeviceQwen2Layer"/>) against the same layer on the CPU backend
/// (the ops of Qwen2DecoderLayer: RMSNorm, biased q/k/v, RoPE, paged causal attention, o_proj, residual, RMSNorm,
/// SwiGLU MLP, residual), random bf16 weights at the 1B shape: a chunked prefill of two sequences into scattered
/// cache blocks, then a decode step of each that reads the K/V the prefill wrote. Judged on what the layer adds to
/// the residual stream (x_out − x_in), by NMSE: the device rounds every activation to bf16, the CPU keeps fp32.
/// Also the layer's time (prefill, decode at batch 1 and 32) — the first measure of the device forward.
/// </summary>
public sealed class LayerConformance(CudaContext context, KernelCache cache)
{
    private const double Nmse = 2e-4;
    private const int BlockSize = 16;
    private readonly CpuBackend _cpu = new(Math.Max(1, Environment.ProcessorCount));

    /// <summary>The prefill step and the decode step that follows it, each judged.</summary>
    public IReadOnlyList<ConformanceResult> Run(int seed = 300)
    {
        var shape = Qwen2LayerShape.OneB;
        var rng = new Random(seed);
        var w = RandomWeights(shape, rng);
        int[] lengths = [37, 150];
        int numBlocks = 32;
        var perm = Enumerable.Range(0, numBlocks).OrderBy(_ => rng.Next()).ToArray();
        int[][] tables = [perm[..3], perm[3..13]]; // 48 and 160 slots: room for the decode token
        var results = new List<ConformanceResult>();

        using var kernels = new DeviceLayerKernels(cache, context);
        using var layer = new DeviceQwen2Layer(context, shape, w);
        using var kv = new DeviceKvCache(context, numBlocks, BlockSize, shape.KvHeads, shape.HeadDim);
        using var ws = new LayerWorkspace(context, shape, lengths.Sum());
        using var stream = new CudaStream(context);
        using var cpuCache = _cpu.CreateKvCache(1, numBlocks, BlockSize, shape.KvHeads, shape.HeadDim);
        var cpuLayer = new CpuQwen2Layer(_cpu, shape, w);

        foreach (bool decode in new[] { false, true })
        {
            var seqs = lengths.Select((len, i) => decode ? new DeviceSeq(len, 1, tables[i]) : new DeviceSeq(0, len, tables[i])).ToArray();
            int tokens = seqs.Sum(s => s.New);
            // x of a quarter's scale: the bf16 rounding of the residual stream (in x's units) stays well below the bound.
            var x = DeviceData.RandomBf16(rng, tokens * shape.Hidden, 0.25f);
            using var step = new DeviceStep(context, kernels.Attention, seqs, BlockSize, shape.KvHeads, shape.HeadDim);
            using var dx = DeviceData.Upload(context, x);
            using var normOut = DeviceData.Poisoned(context, (long)tokens * shape.Hidden);
            layer.Forward(kernels, stream, step, kv, ws, dx.Pointer, layer.InputNormWeight, normOut.Pointer);
            stream.Synchronize();
            var gpuDelta = DeviceData.Download(dx);
            for (int i = 0; i < gpuDelta.Length; i++) gpuDelta[i] -= x[i];
            var gpuNorm = DeviceData.Download(normOut);

            int row = 0;
            var batch = new AttentionBatch(seqs.Select(s => { var a = new AttentionSequence(row, s.New, s.Cached, s.Blocks, [null]); row += s.New; return a; }).ToArray(), cpuCache);
            var cx = new Tensor((float[])x.Clone(), tokens, shape.Hidden);
            cpuLayer.Forward(cx, batch);
            var cpuDelta = (float[])cx.Data.Clone();
            for (int i = 0; i < cpuDelta.Length; i++) cpuDelta[i] -= x[i];
            string what = decode ? "2 × 1 token after 37 / 150" : "prefill 37 + 150 tokens";
            results.Add(DeviceData.Judge($"qwen2 layer ({(decode ? "decode, " + step.Splits + " splits" : step.PrefillVariant.Kernel)})",
                $"1B layer, {what}, Δx", gpuDelta, cpuDelta, Nmse));
            // The fused next-norm output (here: the layer's own input norm of the new x), what the next layer reads.
            var cpuNorm = _cpu.RmsNorm(cx, Weight.FromArray("input_layernorm", w.InputNorm, 1, shape.Hidden), shape.RmsEps);
            results.Add(DeviceData.Judge("qwen2 layer (residual add + next norm)", $"1B layer, {what}, norm(x_out)", gpuNorm, cpuNorm.Data, Nmse));
        }
        return results;
    }

    /// <summary>
    /// The layer's device time: a 1,024-token prefill, and decode steps at batch 1 and 32 after 1,024 tokens each
    /// (host-launched and replayed from a CUDA graph), at the 1B shape and at <paramref name="extra"/> shapes.
    /// Milliseconds per layer (Ms) and, in GbPerSecond's place, the tokens per second of a model of 24 such layers
    /// (the 1B model's depth; an estimate that leaves out embedding, final norm and LM head).
    /// </summary>
    public IReadOnlyList<AttentionBenchRow> Bench(params (string Name, Qwen2LayerShape Shape, int Layers)[] extra)
    {
        var rows = new List<AttentionBenchRow>();
        foreach (var (name, shape, depth) in extra.Prepend(("1B", Qwen2LayerShape.OneB, 24)))
        {
            var rng = new Random(7);
            using var kernels = new DeviceLayerKernels(cache, context);
            using var layer = new DeviceQwen2Layer(context, shape, RandomWeights(shape, rng));
            int ctx = 1024, maxSeqs = 32, blocksPer = ctx / BlockSize + 1;
            using var kv = new DeviceKvCache(context, blocksPer * maxSeqs, BlockSize, shape.KvHeads, shape.HeadDim);
            using var ws = new LayerWorkspace(context, shape, ctx, decodeSeqs: maxSeqs);
            using var stream = new CudaStream(context);
            using var x = DeviceData.Upload(context, DeviceData.RandomBf16(rng, ctx * shape.Hidden, 0.5f));
            using var normOut = new DeviceBuffer<ushort>(context, (long)ctx * shape.Hidden);
            int[] Table(int s) => Enumerable.Range(s * blocksPer, blocksPer).ToArray();

            // Fill every sequence's cache with a prefill (this also times the prefill on sequence 0).
            for (int s = 0; s < maxSeqs; s++)
            {
                using var fill = new DeviceStep(context, kernels.Attention, [new DeviceSeq(0, ctx, Table(s))], BlockSize, shape.KvHeads, shape.HeadDim);
                layer.Forward(kernels, stream, fill, kv, ws, x.Pointer, layer.InputNormWeight, normOut.Pointer);
                stream.Synchronize(); // before the step's arrays are freed
            }
            using (var prefill = new DeviceStep(context, kernels.Attention, [new DeviceSeq(0, ctx, Table(0))], BlockSize, shape.KvHeads, shape.HeadDim))
            {
                const int reps = 5;
                float ms = stream.Time(() => { for (int i = 0; i < reps; i++) layer.Forward(kernels, stream, prefill, kv, ws, x.Pointer, layer.InputNormWeight, normOut.Pointer); }) / reps;
                rows.Add(new AttentionBenchRow($"qwen2 layer prefill ({prefill.PrefillVariant.Kernel})", $"{name} layer, 1 × {ctx} tokens; {depth}-layer model tok/s in the GB/s column",
                    ms, null, ctx / (ms * depth / 1000), null));
            }
            foreach (int batch in new[] { 1, maxSeqs })
            {
                using var step = new DeviceStep(context, kernels.Attention, Enumerable.Range(0, batch).Select(s => new DeviceSeq(ctx, 1, Table(s))).ToArray(),
                    BlockSize, shape.KvHeads, shape.HeadDim);
                const int reps = 20;
                void Once() => layer.Forward(kernels, stream, step, kv, ws, x.Pointer, layer.InputNormWeight, normOut.Pointer);
                Once();
                float ms = stream.Time(() => { for (int i = 0; i < reps; i++) Once(); }) / reps;
                string shapeText = $"{name} layer, batch {batch} after {ctx} tokens, {step.Splits} splits; {depth}-layer model tok/s in the GB/s column";
                rows.Add(new AttentionBenchRow("qwen2 layer decode", shapeText, ms, null, batch / (ms * depth / 1000), null));
                try
                {
                    using var graph = stream.Capture(() => { for (int i = 0; i < reps; i++) Once(); });
                    graph.Launch(stream);
                    float gms = stream.Time(() => graph.Launch(stream)) / reps;
                    rows.Add(new AttentionBenchRow("qwen2 layer decode (CUDA graph)", shapeText, gms, null, batch / (gms * depth / 1000), null));
                }
                catch (Exception e) when (e is not OutOfMemoryException) // e.g. a library call that cannot be captured
                {
                    rows.Add(new AttentionBenchRow($"qwen2 layer decode (CUDA graph: capture failed, {e.GetType().Name}: {e.Message})", shapeText, double.NaN, null, null, null));
                }
                if (batch != 1) continue;
                // Where a batch-1 step's time goes, launch by launch: the layer queued behind a 2 ms spin (so the device
                // runs it back to back, not at the host's launch rate), an event after every launch. The gaps include
                // each launch's own start-up on the device; a programmatic launch's overlap is partly lost to the events.
                var spin = cache.Get("diagnostics.cu", "spin_delay");
                foreach (var (kernel, t) in stream.LaunchTimes(() => spin.Launch(stream, new Dim3(1), new Dim3(32), new DelayParams { Nanoseconds = 2_000_000 }), Once))
                    rows.Add(new AttentionBenchRow($"qwen2 layer decode, launch by launch: {kernel}", shapeText, t, null, null, null));
            }
        }
        return rows;
    }

    /// <summary>Random bf16 weights at a layer's shape: projections uniform ±1/√in, norms 1 ± 0.1, biases ±0.1.</summary>
    public static Qwen2LayerWeights RandomWeights(Qwen2LayerShape s, Random rng)
    {
        float[] Proj(int outF, int inF) => DeviceData.RandomBf16(rng, outF * inF, (float)(1 / Math.Sqrt(inF)));
        float[] Bias(int n) => DeviceData.RandomBf16(rng, n, 0.1f);
        float[] Norm() => DeviceData.RandomBf16(rng, s.Hidden, 0.1f, 1f);
        return new Qwen2LayerWeights(Norm(), Proj(s.QWidth, s.Hidden), Bias(s.QWidth), Proj(s.KvWidth, s.Hidden), Bias(s.KvWidth),
            Proj(s.KvWidth, s.Hidden), Bias(s.KvWidth), Proj(s.Hidden, s.QWidth), Norm(), Proj(s.Intermediate, s.Hidden),
            Proj(s.Intermediate, s.Hidden), Proj(s.Hidden, s.Intermediate));
    }
}
