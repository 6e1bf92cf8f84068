using Owl3Native.Core;
using Owl3Native.Core.Config;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Backend;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Checks;
using Owl3Native.Cuda.Model;
using Owl3Native.Cuda.Runtime;
using Owl3Native.Models;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Owl3;

namespace Owl3Native.Diagnostics;

/// <summary>
/// A checkpoint's language-model weights as the device text model uploads them: read by their checkpoint names from the
/// memory-mapped tensors when asked for, piece by piece, as bf16 bits (the released checkpoints' own bits, copied; an
/// fp32 or fp16 tensor is rounded). Nothing is read at <see cref="Of"/>: the host holds one layer at a time during an
/// upload, not the model. The checkpoint must stay open while this is used.
/// </summary>
public sealed class TextWeights : ITextModelWeights
{
    private readonly WeightScope _lm, _model;
    private readonly Owl3Config _cfg;
    private readonly HyperRules _rules;
    private readonly CheckpointBits _bits;

    private TextWeights(Owl3Checkpoint checkpoint)
    {
        _cfg = checkpoint.Config;
        _bits = new CheckpointBits(checkpoint.Weights);
        Shape = new Qwen2LayerShape(_cfg.Hidden, _cfg.Heads, _cfg.KvHeads, _cfg.HeadDim, _cfg.Intermediate, (float)_cfg.RmsNormEps, _cfg.RopeTheta);
        _lm = new WeightScope(checkpoint.Weights).Child("language_model");
        _model = _lm.Child("model");
        _rules = HyperRules.For(checkpoint.Variant);
    }

    /// <summary>
    /// The language model of <paramref name="checkpoint"/>: `language_model.model.{embed_tokens, layers.i.*, norm}` and
    /// `language_model.lm_head` (absent when `tie_word_embeddings`), with the hyper layers' image side: v_kv_proj, and the
    /// gate of 240728 (`gate_proj.0`, per head) or 241014 (`gate`, static). Every tensor's presence and element count is
    /// checked here (no values are read).
    /// </summary>
    /// <exception cref="CheckpointException">A language-model tensor is missing or has another size than the config's.</exception>
    public static TextWeights Of(Owl3Checkpoint checkpoint)
    {
        var w = new TextWeights(checkpoint);
        long elements = w.Table("embed_tokens").Length + w.Vector(w._model.Child("norm"), "weight", w.Shape.Hidden).Length;
        if (!w.TiedHead) elements += w.Head().Length;
        for (int l = 0; l < w.LayerCount; l++) elements += w.Tensors(l).Sum(t => t?.Length ?? 0);
        w.Elements = elements;
        return w;
    }

    /// <inheritdoc/>
    public Qwen2LayerShape Shape { get; }
    /// <inheritdoc/>
    public int Vocab => _cfg.Vocab;
    /// <inheritdoc/>
    public int LayerCount => _cfg.Layers;
    /// <inheritdoc/>
    public bool FusedHyper => _rules.Fused;
    /// <inheritdoc/>
    public bool TiedHead => _cfg.TieWordEmbeddings;
    /// <inheritdoc/>
    public long Elements { get; private set; }

    /// <inheritdoc/>
    public ushort[] Embedding() => Bits(Table("embed_tokens"));
    /// <inheritdoc/>
    public ushort[] FinalNorm() => Bits(Vector(_model.Child("norm"), "weight", Shape.Hidden));
    /// <inheritdoc/>
    public ushort[]? LmHead() => TiedHead ? null : Bits(Head());

    /// <inheritdoc/>
    public Qwen2LayerBits Layer(int index)
    {
        var t = Tensors(index);
        static ushort[]? Maybe(Weight? w) => w is null ? null : Bits(w);
        return new Qwen2LayerBits(Bits(t[0]!), Bits(t[1]!), Bits(t[2]!), Bits(t[3]!, t[5]!), Bits(t[4]!, t[6]!), Bits(t[7]!), Bits(t[8]!),
            Bits(t[9]!, t[10]!), Bits(t[11]!), Maybe(t[12]), Maybe(t[13]), Maybe(t[14]), Maybe(t[15]), Maybe(t[16]));
    }

    /// <summary>
    /// Layer <paramref name="l"/>'s tensors (zero copy), sizes checked, in the order of <see cref="Qwen2LayerWeights"/>:
    /// input norm, q, q bias, k, k bias, v, v bias, o, post norm, gate, up, down, then (null outside hyper layers or when
    /// the variant has none) v_kv_proj, its bias, gate_proj.0, its bias, the static gate.
    /// </summary>
    private Weight?[] Tensors(int l)
    {
        int h = Shape.Hidden, qw = Shape.QWidth, kvw = Shape.KvWidth, inter = Shape.Intermediate, d = Shape.HeadDim;
        var w = _model.Child("layers", l);
        var a = w.Child("self_attn");
        var m = w.Child("mlp");
        bool hyper = _cfg.IsHyperLayer(l); // the config names the hyper layers; theirs must have the image side's projection
        bool dynamicGate = hyper && _rules.Gate == HyperGate.DynamicPerHead, staticGate = hyper && _rules.Gate == HyperGate.StaticPerChannel;
        return
        [
            Vector(w.Child("input_layernorm"), "weight", h),
            Matrix(a.Child("q_proj"), qw, h), Vector(a.Child("q_proj"), "bias", qw),
            Matrix(a.Child("k_proj"), kvw, h), Vector(a.Child("k_proj"), "bias", kvw),
            Matrix(a.Child("v_proj"), kvw, h), Vector(a.Child("v_proj"), "bias", kvw),
            Matrix(a.Child("o_proj"), h, qw),
            Vector(w.Child("post_attention_layernorm"), "weight", h),
            Matrix(m.Child("gate_proj"), inter, h), Matrix(m.Child("up_proj"), inter, h), Matrix(m.Child("down_proj"), h, inter),
            hyper ? Matrix(a.Child("v_kv_proj"), 2 * kvw, h) : null, hyper ? Vector(a.Child("v_kv_proj"), "bias", 2 * kvw) : null,
            dynamicGate ? Matrix(a.Child("gate_proj").Child("0"), d, d) : null, dynamicGate ? Vector(a.Child("gate_proj").Child("0"), "bias", d) : null,
            staticGate ? Vector(a, "gate", qw) : null,
        ];
    }

    private Weight Table(string name) => Matrix(_model.Child(name), Vocab, Shape.Hidden);
    private Weight Head() => Matrix(_lm.Child("lm_head"), Vocab, Shape.Hidden);
    private Weight Matrix(WeightScope scope, long rows, long cols) => _bits.Matrix(scope, rows, cols);
    private Weight Vector(WeightScope scope, string name, long length) => _bits.Vector(scope, name, length);
    private static ushort[] Bits(params Weight[] parts) => CheckpointBits.Of(parts);
}

/// <summary>
/// The device text forward on a real-format checkpoint: a random-weight folder written by <see cref="CheckpointMaker"/>
/// (the exact released format and weight names), loaded by the normal loader, run by the CPU engine's
/// <see cref="Owl3Model"/> and by <see cref="DeviceQwen2Text"/> on a text-only prompt (no image: every layer, hyper
/// layers included, is plain self-attention then). Judged on the last-token logits after a prefill of two sequences and
/// after a decode step of each (NMSE), with the greedy tokens' agreement reported. Used by owl3-gpu-check.
/// </summary>
public static class DeviceTextConformance
{
    private const int BlockSize = 16;

    /// <summary>The language model of <paramref name="checkpoint"/> on the device, with a paged cache of <paramref name="numBlocks"/> blocks per layer.</summary>
    /// <exception cref="CheckpointException">A language-model tensor is missing.</exception>
    public static DeviceQwen2Text Load(CudaContext context, Owl3Checkpoint checkpoint, int numBlocks, int blockSize = BlockSize)
    {
        return new DeviceQwen2Text(context, TextWeights.Of(checkpoint), numBlocks, blockSize);
    }

    /// <summary>
    /// Writes a random checkpoint of <paramref name="shape"/> and <paramref name="variant"/> under the temp folder, then
    /// judges the device text forward against the CPU engine: prompts of 23, 61 and 40 tokens in two chunks (0–19, then
    /// the rest: a chunked prefill), then one decode step each, judged after each step. With <paramref name="images"/>,
    /// the first sequence has one crop whose marker starts at position 5, the second two crops at 3 and 30
    /// (the second crop first seen in the second chunk), the third none (random image features): the hyper layers' visual
    /// K/V are made on both sides (the model's PrepareVisual, <see cref="DeviceQwen2Text.PrepareVisual"/>) and attended in
    /// the fused softmax (241101; the decode step plans its splits over visual + text keys in those layers) or by the gated
    /// cross-attention (240728 dynamic gate, 241014 static gate).
    /// </summary>
    public static IReadOnlyList<ConformanceResult> Run(CudaContext context, KernelCache cache, ModelShape shape = ModelShape.Tiny,
        Owl3Variant variant = Owl3Variant.V241101, double nmseBound = 1e-3, bool images = false)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"owl3-device-text-{shape.Name()}-{variant}-{Environment.ProcessId}");
        try
        {
            CheckpointMaker.Write(dir, new MakeTinyOptions(variant, shape, Seed: 3, Overwrite: true));
            return Run(context, cache, dir, shape, variant, nmseBound, images);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); // 1.8 GB at the 1B shape
        }
    }

    /// <summary>As <see cref="Run(CudaContext, KernelCache, ModelShape, Owl3Variant, double, bool)"/> on a checkpoint folder the caller wrote.</summary>
    public static IReadOnlyList<ConformanceResult> Run(CudaContext context, KernelCache cache, string dir, ModelShape shape, Owl3Variant variant, double nmseBound, bool images)
    {
        using var checkpoint = Owl3Checkpoint.Open(dir);
        var cfg = checkpoint.Config;
        var cpu = new CpuBackend(Math.Max(1, Environment.ProcessorCount));
        var cpuModel = new Owl3Model(checkpoint, cpu);
        int[] lengths = [23, 61, 40];
        const int chunk = 20; // the prompts arrive in two chunks (a chunked prefill), then one decode step
        int numBlocks = 16;
        int[][] tables = [[11, 2], [7, 0, 14, 5], [1, 12, 4]]; // scattered; room for the decode token
        var rng = new Random(17);

        using var kernels = new DeviceLayerKernels(cache, context);
        using var device = Load(context, checkpoint, numBlocks);
        var lshape = device.Shape;
        using var ws = new TextWorkspace(context, lshape, cfg.Vocab, lengths.Sum(), lengths.Length);
        using var stream = new CudaStream(context);
        using var cpuCache = cpu.CreateKvCache(cfg.Layers, numBlocks, BlockSize, cfg.KvHeads, cfg.HeadDim);
        var results = new List<ConformanceResult>();
        // Images: per sequence its markers' first tokens, the CPU model's visual K/V per layer and the device's.
        int[][] markers = images ? [[5], [3, 30], []] : [[], [], []]; // the third sequence has no image in either case
        int patches = cfg.Vision.Patches, offset = HyperRules.For(variant).MarkerOffset;
        var cpuVisual = new VisualKv?[lengths.Length][];
        var deviceVisual = new DeviceVisual?[lengths.Length];
        try
        {
            for (int i = 0; i < lengths.Length; i++)
            {
                if (markers[i].Length == 0) { cpuVisual[i] = new VisualKv?[cfg.Layers]; continue; }
                var embeds = DeviceData.RandomBf16(rng, markers[i].Length * patches * cfg.Hidden);
                cpuVisual[i] = cpuModel.PrepareVisual(new Tensor(embeds, markers[i].Length * patches, cfg.Hidden), markers[i]);
                deviceVisual[i] = device.PrepareVisual(kernels, stream, embeds, patches, [.. markers[i].Select(m => m + offset)]);
            }
            int[]? next = null;
            foreach (int stage in new[] { 0, 1, 2 })
            {
                bool decode = stage == 2;
                var seqs = lengths.Select((len, i) => stage switch
                {
                    0 => new DeviceSeq(0, chunk, tables[i], deviceVisual[i]),
                    1 => new DeviceSeq(chunk, len - chunk, tables[i], deviceVisual[i]),
                    _ => new DeviceSeq(len, 1, tables[i], deviceVisual[i]),
                }).ToArray();
                int tokens = seqs.Sum(s => s.New);
                var ids = decode ? next! : Enumerable.Range(0, tokens).Select(_ => rng.Next(cfg.Vocab)).ToArray();
                using var step = new DeviceStep(context, kernels.Attention, seqs, BlockSize, cfg.KvHeads, cfg.HeadDim);
                using var dIds = new DeviceBuffer<int>(context, ids.Length);
                dIds.CopyFrom(ids);
                context.Synchronize();
                device.Step(kernels, stream, step, ws, dIds.Pointer);
                stream.Synchronize();
                var logits = new float[seqs.Length * cfg.Vocab];
                ws.DownloadLogits(logits);

                int row = 0;
                var batch = new AttentionBatch(seqs.Select((s, i) => { var a = new AttentionSequence(row, s.New, s.Cached, s.Blocks, cpuVisual[i]); row += s.New; return a; }).ToArray(), cpuCache);
                var hidden = cpuModel.Forward(ids, batch);
                var last = new Tensor(seqs.Length, cfg.Hidden);
                for (int i = 0, r = 0; i < seqs.Length; r += seqs[i].New, i++) hidden.Row(r + seqs[i].New - 1).CopyTo(last.Row(i));
                var expected = cpuModel.Logits(last).Data;
                int[] Argmax(float[] l) => [.. Enumerable.Range(0, seqs.Length).Select(i => ArgmaxRow(l.AsSpan(i * cfg.Vocab, cfg.Vocab)))];
                var (cpuTokens, gpuTokens) = (Argmax(expected), Argmax(logits));
                next = cpuTokens;
                string what = stage switch { 0 => "prefill chunk 1 (tokens 0–19)", 1 => "prefill chunk 2 (20 – 23 / 61 / 40)", _ => "decode, 1 token after 23 / 61 / 40" };
                results.Add(DeviceData.Judge($"qwen2 text model from a checkpoint ({(decode ? "decode" : $"prefill chunk {stage + 1}")}{(images ? ", images" : "")})",
                    $"{shape.Name()} {variant}, {cfg.Layers} layers, {cfg.Heads}/{cfg.KvHeads}×{cfg.HeadDim}, vocab {cfg.Vocab}" +
                    $"{(images ? $", crops at 5 | 3, 30 | none × {patches} tokens" : "")}; {what}; " +
                    $"greedy tokens agree {cpuTokens.Zip(gpuTokens).Count(p => p.First == p.Second)}/{seqs.Length}" +
                    (decode && images ? $"; decode splits {step.Splits} (text) / {(HyperRules.For(variant).Fused ? $"{step.VisualSplits} (with images)" : $"{step.CrossSplits} (cross)")}" : ""),
                    logits, expected, nmseBound));
            }
        }
        finally
        {
            foreach (var v in deviceVisual) v?.Dispose();
        }
        return results;
    }

    private static int ArgmaxRow(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }
}
