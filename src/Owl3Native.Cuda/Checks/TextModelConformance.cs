using Owl3Native.Core.Backend;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Model;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Checks;

/// <summary>
/// The text model on the device (<see cref="DeviceQwen2Text"/>) against the same ops on the CPU backend: two layers at
/// the 1B layer shape with a 4,093-row tied embedding (padded to 4,096 like the released vocabs), a prefill of two sequences then a decode step of each, judged on
/// the logits of each sequence's last token (NMSE). And the model's speed at the released text shapes with random
/// weights: prefill of 1,024 tokens, decode steps at batch 1 and 32 after 1,024 tokens replayed from a CUDA graph
/// (embedding, every layer, final norm, LM head) — what a user of the 1B / 7B model would see from the text side.
/// </summary>
public sealed class TextModelConformance(CudaContext context, KernelCache cache)
{
    private const double Nmse = 5e-4;
    private const int BlockSize = 16;
    private readonly CpuBackend _cpu = new(Math.Max(1, Environment.ProcessorCount));

    /// <summary>The prefill step and the decode step after it, each judged on the logits.</summary>
    public IReadOnlyList<ConformanceResult> Run(int seed = 400)
    {
        var shape = Qwen2LayerShape.OneB;
        const int vocab = 4093, layerCount = 2; // not a multiple of 8, like the released vocabs: the padded LM head
        var rng = new Random(seed);
        var layers = Enumerable.Range(0, layerCount).Select(_ => LayerConformance.RandomWeights(shape, rng)).ToArray();
        var embedding = DeviceData.RandomBf16(rng, vocab * shape.Hidden, 0.25f); // a quarter's scale: see LayerConformance
        var finalNorm = DeviceData.RandomBf16(rng, shape.Hidden, 0.1f, 1f);
        int[] lengths = [37, 150];
        int numBlocks = 32;
        var perm = Enumerable.Range(0, numBlocks).OrderBy(_ => rng.Next()).ToArray();
        int[][] tables = [perm[..3], perm[3..13]];

        using var kernels = new DeviceLayerKernels(cache, context);
        using var model = new DeviceQwen2Text(context, shape, vocab, embedding, finalNorm, lmHead: null, layers, numBlocks, BlockSize);
        using var ws = new TextWorkspace(context, shape, vocab, lengths.Sum(), lengths.Length);
        using var stream = new CudaStream(context);
        using var cpuCache = _cpu.CreateKvCache(layerCount, numBlocks, BlockSize, shape.KvHeads, shape.HeadDim);
        var cpuLayers = layers.Select((w, l) => new CpuQwen2Layer(_cpu, shape, w, l)).ToArray();
        var embed = Weight.FromArray("embed_tokens", embedding, vocab, shape.Hidden);
        var norm = Weight.FromArray("norm", finalNorm, 1, shape.Hidden);
        var results = new List<ConformanceResult>();

        foreach (bool decode in new[] { false, true })
        {
            var seqs = lengths.Select((len, i) => decode ? new DeviceSeq(len, 1, tables[i]) : new DeviceSeq(0, len, tables[i])).ToArray();
            int tokens = seqs.Sum(s => s.New);
            var ids = Enumerable.Range(0, tokens).Select(_ => rng.Next(vocab)).ToArray();
            using var step = new DeviceStep(context, kernels.Attention, seqs, BlockSize, shape.KvHeads, shape.HeadDim);
            using var dIds = DeviceData.Upload(context, ids);
            model.Step(kernels, stream, step, ws, dIds.Pointer);
            stream.Synchronize();
            var logits = new float[seqs.Length * vocab];
            ws.DownloadLogits(logits);

            int row = 0;
            var batch = new AttentionBatch(seqs.Select(s => { var a = new AttentionSequence(row, s.New, s.Cached, s.Blocks, new VisualKv?[layerCount]); row += s.New; return a; }).ToArray(), cpuCache);
            var x = _cpu.Embedding(embed, ids);
            foreach (var layer in cpuLayers) layer.Forward(x, batch);
            var h = _cpu.RmsNorm(x, norm, shape.RmsEps);
            var last = new Tensor(seqs.Length, shape.Hidden);
            for (int i = 0, r = 0; i < seqs.Length; r += seqs[i].New, i++) h.Row(r + seqs[i].New - 1).CopyTo(last.Row(i));
            var expected = _cpu.Linear(last, embed);
            results.Add(DeviceData.Judge($"qwen2 text model ({(decode ? "decode" : "prefill")}, {layerCount} layers)",
                $"1B layers, vocab {vocab} tied, {(decode ? "2 × 1 token after 37 / 150" : "prefill 37 + 150 tokens")}, last-token logits", logits, expected.Data, Nmse));
        }
        return results;
    }

    /// <summary>
    /// Steps per second of the text model at <paramref name="shapes"/> (random weights: one random layer uploaded to every
    /// layer, each its own device copy; the embedding a tiled random block): a 1,024-token prefill, and decode steps at
    /// batch 1 and 32 after 1,024 tokens from a CUDA graph. Ms per step; tokens per second in the GbPerSecond column.
    /// </summary>
    public IReadOnlyList<AttentionBenchRow> Bench(params (string Name, Qwen2LayerShape Shape, int Layers, int Vocab, bool Tied)[] shapes)
    {
        var rows = new List<AttentionBenchRow>();
        foreach (var (name, shape, depth, vocab, tied) in shapes)
        {
            var rng = new Random(11);
            var layer = LayerConformance.RandomWeights(shape, rng);
            float[] Tiled(long n)
            {
                var block = DeviceData.RandomBf16(rng, 1 << 20, 0.05f);
                var a = new float[n];
                for (long i = 0; i < n; i += block.Length) Array.Copy(block, 0, a, i, Math.Min(block.Length, n - i));
                return a;
            }
            int ctx = 1024, maxSeqs = 32, blocksPer = ctx / BlockSize + 1;
            using var kernels = new DeviceLayerKernels(cache, context);
            using var model = new DeviceQwen2Text(context, shape, vocab, Tiled((long)vocab * shape.Hidden), DeviceData.RandomBf16(rng, shape.Hidden, 0.1f, 1f),
                tied ? null : Tiled((long)vocab * shape.Hidden), Enumerable.Repeat(layer, depth).ToArray(), blocksPer * maxSeqs, BlockSize);
            using var ws = new TextWorkspace(context, shape, vocab, ctx, maxSeqs);
            using var stream = new CudaStream(context);
            using var ids = DeviceData.Upload(context, Enumerable.Range(0, ctx).Select(i => (i * 7919) % vocab).ToArray());
            int[] Table(int s) => Enumerable.Range(s * blocksPer, blocksPer).ToArray();
            string label = $"{name} text model, {depth} layers, vocab {vocab}";

            for (int s = 0; s < maxSeqs; s++) // every sequence's cache filled
            {
                using var fill = new DeviceStep(context, kernels.Attention, [new DeviceSeq(0, ctx, Table(s))], BlockSize, shape.KvHeads, shape.HeadDim);
                model.Step(kernels, stream, fill, ws, ids.Pointer);
                stream.Synchronize(); // before the step's arrays are freed
            }
            using (var prefill = new DeviceStep(context, kernels.Attention, [new DeviceSeq(0, ctx, Table(0))], BlockSize, shape.KvHeads, shape.HeadDim))
            {
                const int reps = 3;
                float ms = stream.Time(() => { for (int i = 0; i < reps; i++) model.Step(kernels, stream, prefill, ws, ids.Pointer); }) / reps;
                rows.Add(new AttentionBenchRow($"qwen2 text model prefill ({prefill.PrefillVariant.Kernel})", $"{label}, 1 × {ctx} tokens; tok/s in the GB/s column", ms, null, ctx / (ms / 1000), null));
            }
            foreach (int batch in new[] { 1, maxSeqs })
            {
                using var step = new DeviceStep(context, kernels.Attention, Enumerable.Range(0, batch).Select(s => new DeviceSeq(ctx, 1, Table(s))).ToArray(),
                    BlockSize, shape.KvHeads, shape.HeadDim);
                const int reps = 10;
                void Once() => model.Step(kernels, stream, step, ws, ids.Pointer);
                Once();
                string shapeText = $"{label}, batch {batch} after {ctx} tokens, {step.Splits} splits; tok/s in the GB/s column";
                float ms = stream.Time(() => { for (int i = 0; i < reps; i++) Once(); }) / reps;
                rows.Add(new AttentionBenchRow("qwen2 text model decode", shapeText, ms, null, batch / (ms / 1000), null));
                try
                {
                    using var graph = stream.Capture(() => { for (int i = 0; i < reps; i++) Once(); });
                    graph.Launch(stream);
                    float gms = stream.Time(() => graph.Launch(stream)) / reps;
                    rows.Add(new AttentionBenchRow("qwen2 text model decode (CUDA graph)", shapeText, gms, null, batch / (gms / 1000), null));
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    rows.Add(new AttentionBenchRow($"qwen2 text model decode (CUDA graph: capture failed, {e.GetType().Name}: {e.Message})", shapeText, double.NaN, null, null, null));
                }
            }
        }
        return rows;
    }
}

/// <summary>
/// The CPU backend's form of a Qwen2 text layer (the op sequence of Qwen2DecoderLayer / Qwen2Attention, fp32), the
/// reference of the device layer and text model checks; <paramref name="layer"/> indexes the K/V cache.
/// </summary>
internal sealed class CpuQwen2Layer(CpuBackend cpu, Qwen2LayerShape s, Qwen2LayerWeights w, int layer = 0)
{
    private readonly Weight _in = Weight.FromArray("input_layernorm", w.InputNorm, 1, s.Hidden);
    private readonly Weight _post = Weight.FromArray("post_attention_layernorm", w.PostNorm, 1, s.Hidden);
    private readonly Weight _q = Weight.FromArray("q_proj", w.Q, s.QWidth, s.Hidden), _qb = Weight.FromArray("q_proj.bias", w.QBias, 1, s.QWidth);
    private readonly Weight _k = Weight.FromArray("k_proj", w.K, s.KvWidth, s.Hidden), _kb = Weight.FromArray("k_proj.bias", w.KBias, 1, s.KvWidth);
    private readonly Weight _v = Weight.FromArray("v_proj", w.V, s.KvWidth, s.Hidden), _vb = Weight.FromArray("v_proj.bias", w.VBias, 1, s.KvWidth);
    private readonly Weight _o = Weight.FromArray("o_proj", w.O, s.Hidden, s.QWidth);
    private readonly Weight _gate = Weight.FromArray("gate_proj", w.Gate, s.Intermediate, s.Hidden);
    private readonly Weight _up = Weight.FromArray("up_proj", w.Up, s.Intermediate, s.Hidden);
    private readonly Weight _down = Weight.FromArray("down_proj", w.Down, s.Hidden, s.Intermediate);

    /// <summary>x ← layer(x), K/V into the batch's cache at this layer.</summary>
    public void Forward(Tensor x, AttentionBatch batch)
    {
        var h = cpu.RmsNorm(x, _in, s.RmsEps);
        var qkv = cpu.LinearMany(h, [_q, _k, _v], [_qb, _kb, _vb]);
        cpu.RopeInPlace(qkv[0], batch.Positions, s.Heads, s.HeadDim, s.RopeTheta);
        cpu.RopeInPlace(qkv[1], batch.Positions, s.KvHeads, s.HeadDim, s.RopeTheta);
        cpu.WriteKv(batch, layer, qkv[1], qkv[2]);
        var context = cpu.PagedAttention(qkv[0], batch, layer, s.Heads, fusedVisual: false);
        cpu.AddInPlace(x, cpu.Linear(context, _o));
        cpu.AddInPlace(x, cpu.Linear(cpu.SwiGlu(cpu.RmsNorm(x, _post, s.RmsEps), _gate, _up), _down));
    }
}
