using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Model;

/// <summary>
/// The Qwen2 text model on the device, text only (no hyper side yet): token embedding → decoder layers
/// (<see cref="DeviceQwen2Layer"/>, each with its paged K/V cache) → final RMSNorm (fused with the last layer's residual
/// add) → the last row of each sequence → LM head → fp32 logits. A forward step is <see cref="Step"/>; a decode step's
/// launches can be captured into a CUDA graph.
/// </summary>
public sealed class DeviceQwen2Text : IDisposable
{
    private readonly DeviceQwen2Layer[] _layers;
    private readonly DeviceKvCache[] _caches;
    private readonly DeviceBuffer<ushort> _embedding, _finalNorm, _vocabZeros;
    private readonly DeviceBuffer<ushort>? _lmHead;

    /// <summary>
    /// Uploads the model: <paramref name="embedding"/> `[vocab, hidden]`, <paramref name="finalNorm"/> `[hidden]`, the LM head
    /// `[vocab, hidden]` (null: tied to the embedding), and the layers (the same weights object may serve several
    /// consecutive layers, as a benchmark does); a paged cache of <paramref name="numBlocks"/> × <paramref name="blockSize"/>
    /// tokens per layer. See <see cref="DeviceQwen2Text(CudaContext, ITextModelWeights, int, int)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor's size differs from the shape's.</exception>
    public DeviceQwen2Text(CudaContext context, Qwen2LayerShape shape, int vocab, float[] embedding, float[] finalNorm, float[]? lmHead,
        IReadOnlyList<Qwen2LayerWeights> layers, int numBlocks, int blockSize, bool fusedHyper = false)
        : this(context, new ArrayTextWeights(shape, vocab, embedding, finalNorm, lmHead, layers, fusedHyper), numBlocks, blockSize) { }

    /// <summary>
    /// Uploads the model of <paramref name="weights"/> piece by piece (the embedding, the norm, the LM head, then layer after
    /// layer: the host holds one piece's bits at a time) with a paged cache of <paramref name="numBlocks"/> ×
    /// <paramref name="blockSize"/> tokens per layer.
    /// </summary>
    /// <remarks>
    /// The released vocab sizes (151,851; 151,651) are not multiples of 8, which the LM head GEMM's bf16 rows want: the
    /// tables are padded with zero rows to <see cref="PaddedVocab"/>; the logits rows have that stride, the padded
    /// columns hold −inf (the head's bias) and are not logits (<see cref="TextWorkspace.DownloadLogits"/> drops them).
    /// `FusedHyper`: the hyper layers attend to images in 241101's fused form (their weights have no gate); false:
    /// 240728/241014's cross-attention mixed in through a gate (each hyper layer's weights must carry its gate).
    /// </remarks>
    /// <exception cref="ArgumentException">A tensor's size differs from the shape's, or a hyper layer's gate does not match the form.</exception>
    public DeviceQwen2Text(CudaContext context, ITextModelWeights weights, int numBlocks, int blockSize)
    {
        var shape = weights.Shape;
        int vocab = weights.Vocab;
        FusedHyper = weights.FusedHyper;
        shape.Validate();
        if (vocab < 1) throw new ArgumentException($"vocab {vocab}");
        if (weights.LayerCount < 1) throw new ArgumentException("a model needs at least one layer");
        (Shape, Vocab, BlockSize, PaddedVocab) = (shape, vocab, blockSize, (vocab + 7) / 8 * 8);
        var owned = new List<IDisposable>(); // freed again if an allocation fails part way (out of device memory)
        T Keep<T>(T d) where T : IDisposable { owned.Add(d); return d; }
        try
        {
            _embedding = Keep(UpTable(context, weights.Embedding(), vocab, PaddedVocab, shape.Hidden, "embed_tokens"));
            var norm = weights.FinalNorm();
            if (norm.Length != shape.Hidden) throw new ArgumentException($"norm: {norm.Length} values, {shape.Hidden} expected");
            _finalNorm = Keep(DeviceUpload.Of<ushort>(context, norm));
            if (weights.LmHead() is { } head) _lmHead = Keep(UpTable(context, head, vocab, PaddedVocab, shape.Hidden, "lm_head"));
            else if (!weights.TiedHead) throw new ArgumentException("lm_head: missing, and the embedding is not tied");
            // The LM head's bias: 0 for the vocab, bf16 −inf for the padding, so padded columns can never win an argmax or a draw.
            var headBias = new ushort[PaddedVocab];
            Array.Fill(headBias, (ushort)0xFF80, vocab, PaddedVocab - vocab);
            _vocabZeros = Keep(new DeviceBuffer<ushort>(context, PaddedVocab));
            _vocabZeros.CopyFrom(headBias);
            // Layer after layer: each one's bits are dropped once uploaded. Every layer gets its own device copy (distinct
            // memory, as in a real model: a benchmark that repeats one layer's weights still streams each layer's from HBM).
            var built = new List<DeviceQwen2Layer>();
            var caches = new List<DeviceKvCache>();
            for (int l = 0; l < weights.LayerCount; l++)
            {
                var bits = weights.Layer(l);
                bool hyper = bits.VKv is not null, cross = bits.GateProj is not null || bits.StaticGate is not null;
                if (hyper && cross == FusedHyper)
                    throw new ArgumentException($"hyper layer {l}: {(FusedHyper ? "a gate in a model of 241101's fused form" : "no gate (gate_proj.0 or gate) in a 240728/241014 model")}");
                built.Add(Keep(new DeviceQwen2Layer(context, shape, bits)));
                caches.Add(Keep(new DeviceKvCache(context, numBlocks, blockSize, shape.KvHeads, shape.HeadDim)));
            }
            (_layers, _caches) = (built.ToArray(), caches.ToArray());
            context.Synchronize(); // the uploads and memsets ran on the legacy stream
        }
        catch
        {
            foreach (var d in owned) d.Dispose();
            throw;
        }
    }

    /// <summary>The layers' sizes.</summary>
    public Qwen2LayerShape Shape { get; }
    /// <summary>Rows of the embedding and the LM head (config.json's vocab_size).</summary>
    public int Vocab { get; }
    /// <summary><see cref="Vocab"/> rounded up to a multiple of 8: the row stride of the logits.</summary>
    public int PaddedVocab { get; }
    /// <summary>Tokens per cache block.</summary>
    public int BlockSize { get; }
    /// <summary>Decoder layers.</summary>
    public int Layers => _layers.Length;
    /// <summary>Images are attended in 241101's fused form; otherwise by 240728/241014's gated cross-attention.</summary>
    public bool FusedHyper { get; }

    /// <summary>
    /// One request's visual K/V for every hyper layer, from its image features <paramref name="imageEmbeds"/>
    /// (`[crops·tokensPerCrop, hidden]`, the projector's output) and each crop's marker position
    /// <paramref name="visibleFrom"/>: where each crop becomes visible and the position its keys are rotated at — the
    /// marker's first token s_j for 241101, s_j + 1 for 240728/241014 (HyperRules.MarkerOffset). Runs on
    /// <paramref name="s"/> and waits for it.
    /// </summary>
    public DeviceVisual PrepareVisual(DeviceLayerKernels k, CudaStream s, float[] imageEmbeds, int tokensPerCrop, int[] visibleFrom)
    {
        var context = s.Context;
        var visual = new DeviceVisual(tokensPerCrop, visibleFrom);
        int tokens = visual.ImageTokens;
        if (imageEmbeds.LongLength != (long)tokens * Shape.Hidden)
        {
            visual.Dispose();
            throw new ArgumentException($"{imageEmbeds.LongLength} image feature values for {visual.Crops} crops × {tokensPerCrop} tokens × {Shape.Hidden}");
        }
        try
        {
            using var embeds = DeviceUpload.Bf16(context, imageEmbeds);
            using var positions = new DeviceBuffer<int>(context, Math.Max(1, visibleFrom.Length));
            if (visibleFrom.Length > 0) positions.CopyFrom(visibleFrom);
            using var scratchH = new DeviceBuffer<ushort>(context, Math.Max(1L, (long)tokens * Shape.Hidden));
            using var scratchKv = new DeviceBuffer<ushort>(context, Math.Max(1L, (long)tokens * 2 * Shape.KvWidth));
            context.Synchronize(); // the uploads ran on the legacy stream
            try
            {
                for (int l = 0; l < _layers.Length; l++)
                {
                    if (!_layers[l].IsHyper) continue;
                    var (keys, values) = visual.Allocate(context, l, (long)Shape.KvHeads * tokens * Shape.HeadDim);
                    _layers[l].PrepareVisual(k, s, embeds.Pointer, tokens, tokensPerCrop, positions.Pointer, scratchH.Pointer, scratchKv.Pointer, keys, values);
                }
            }
            finally
            {
                s.Synchronize(); // the scratch and (on failure) the K/V are freed only after the work queued on them
            }
            return visual;
        }
        catch
        {
            visual.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One forward step: the tokens <paramref name="ids"/> (int32 `[step.Tokens]`, in [0, vocab)) through every layer, K/V
    /// into the caches, and the fp32 logits of each sequence's last new token into `ws.Logits` `[seqs, vocab]`.
    /// </summary>
    public void Step(DeviceLayerKernels k, CudaStream s, DeviceStep step, TextWorkspace ws, ulong ids)
    {
        int t = step.Tokens, h = Shape.Hidden;
        if (t == 0) return;
        if (t > ws.Layer.Tokens || step.Seqs > ws.Seqs) throw new ArgumentException($"a step of {t} tokens / {step.Seqs} sequences on a workspace for {ws.Layer.Tokens} / {ws.Seqs}");
        if (ws.Vocab != Vocab) throw new ArgumentException($"a workspace for {ws.Vocab} logits per row, the model has {Vocab}");
        k.Elementwise.EmbeddingGather(s, new EmbeddingParams { Table = _embedding.Pointer, Ids = ids, Y = ws.X, Tokens = t, Hidden = h, Vocab = Vocab });
        // Each layer's last residual add is fused with the next layer's input norm, written where that layer reads it.
        for (int l = 0; l < _layers.Length; l++)
        {
            bool last = l == _layers.Length - 1;
            _layers[l].Forward(k, s, step, _caches[l], ws.Layer, ws.X, last ? _finalNorm.Pointer : _layers[l + 1].InputNormWeight,
                last ? ws.Normed : ws.Layer.H, inputNormed: l > 0, layer: l);
        }
        // The last row of each sequence (rows SeqQStart[i + 1] − 1), gathered like embedding rows, then the LM head.
        k.Elementwise.EmbeddingGather(s, new EmbeddingParams { Table = ws.Normed, Ids = step.LastRows, Y = ws.LastRows, Tokens = step.Seqs, Hidden = h, Vocab = t });
        k.Blas.LinearBias(s, ws.LastRows, (_lmHead ?? _embedding).Pointer, _vocabZeros.Pointer, ws.LogitsBf16, step.Seqs, h, PaddedVocab);
        k.Elementwise.Bf16ToF32(s, new ConvertParams { X = ws.LogitsBf16, Y = ws.Logits, Count = (long)step.Seqs * PaddedVocab });
    }

    /// <summary>Frees the weights and caches.</summary>
    public void Dispose()
    {
        foreach (var l in _layers) l.Dispose();
        foreach (var c in _caches) c.Dispose();
        _embedding.Dispose();
        _finalNorm.Dispose();
        _lmHead?.Dispose();
        _vocabZeros.Dispose();
    }

    /// <summary>A `[vocab, hidden]` table on the device with zero rows up to <paramref name="paddedRows"/> (no padded host copy).</summary>
    private static DeviceBuffer<ushort> UpTable(CudaContext context, ushort[] bits, int vocab, int paddedRows, int hidden, string name)
    {
        if (bits.LongLength != (long)vocab * hidden) throw new ArgumentException($"{name}: {bits.LongLength} values, {vocab} × {hidden} expected");
        var table = new DeviceBuffer<ushort>(context, (long)paddedRows * hidden);
        try
        {
            table.FillBytes(0); // the padding rows (the copy below follows it on the legacy stream)
            table.CopyFrom(bits);
            return table;
        }
        catch
        {
            table.Dispose();
            throw;
        }
    }
}

/// <summary>A text model's scratch: the residual stream, the normed rows, the last rows, logits, and a layer workspace.</summary>
public sealed class TextWorkspace : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly DeviceBuffer<float> _logits;

    /// <summary>
    /// Scratch for steps of up to <paramref name="tokens"/> tokens over up to <paramref name="seqs"/> sequences;
    /// <paramref name="crossAttention"/>: with 240728/241014's cross-attention scratch (false for a 241101 model).
    /// </summary>
    public TextWorkspace(CudaContext context, Qwen2LayerShape shape, int vocab, int tokens, int seqs, bool crossAttention = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seqs, 1);
        Seqs = seqs;
        Vocab = vocab;
        PaddedVocab = (vocab + 7) / 8 * 8;
        try
        {
            // Split partials for 64 sequences × 256 splits: any decode plan of more sequences splits fewer ways (the
            // layer checks sequences × splits), so a batch of 256 does not cost 4× the partials (0.9 GB at 7B).
            Layer = new LayerWorkspace(context, shape, tokens, decodeSeqs: Math.Min(seqs, 64), crossAttention: crossAttention);
            _owned.Add(Layer);
            X = Bf16(context, (long)tokens * shape.Hidden);
            Normed = Bf16(context, (long)tokens * shape.Hidden);
            LastRows = Bf16(context, (long)seqs * shape.Hidden);
            LogitsBf16 = Bf16(context, (long)seqs * PaddedVocab);
            _logits = new DeviceBuffer<float>(context, (long)seqs * PaddedVocab);
            _owned.Add(_logits);
            Logits = _logits.Pointer;
        }
        catch
        {
            Dispose(); // out of device memory part way: nothing kept
            throw;
        }
    }

    /// <summary>Most sequences a step may have.</summary>
    public int Seqs { get; }
    /// <summary>Logits per row.</summary>
    public int Vocab { get; }
    /// <summary>Row stride of the logits (vocab rounded up to 8).</summary>
    public int PaddedVocab { get; }
    /// <summary>The layers' scratch.</summary>
    public LayerWorkspace Layer { get; }
    /// <summary>The residual stream `[tokens, hidden]`.</summary>
    public ulong X { get; }
    /// <summary>The final norm's output `[tokens, hidden]`.</summary>
    public ulong Normed { get; }
    /// <summary>Each sequence's last normed row `[seqs, hidden]`.</summary>
    public ulong LastRows { get; }
    /// <summary>LM head output `[seqs, paddedVocab]` in bf16.</summary>
    public ulong LogitsBf16 { get; }
    /// <summary>The logits in fp32, rows of <see cref="PaddedVocab"/> (the first <see cref="Vocab"/> of each are logits).</summary>
    public ulong Logits { get; }

    /// <summary>
    /// The logits of the first <paramref name="destination"/>.Length / vocab rows, `[rows, vocab]` (padding dropped). The
    /// copy does not wait for the stream that computed them: synchronise it first.
    /// </summary>
    public void DownloadLogits(Span<float> destination)
    {
        if (destination.Length % Vocab != 0 || destination.Length / Vocab > Seqs) throw new ArgumentException($"{destination.Length} logits asked: whole rows of {Vocab}, at most {Seqs}");
        int rows = destination.Length / Vocab;
        if (PaddedVocab == Vocab)
        {
            _logits.CopyTo(destination); // the rows asked for, nothing more
            return;
        }
        var padded = new float[(long)rows * PaddedVocab];
        _logits.CopyTo(padded);
        for (int r = 0; r < rows; r++) padded.AsSpan(r * PaddedVocab, Vocab).CopyTo(destination.Slice(r * Vocab, Vocab));
    }

    /// <summary>Frees the scratch.</summary>
    public void Dispose()
    {
        foreach (var b in _owned) b.Dispose();
    }

    private ulong Bf16(CudaContext context, long n)
    {
        var b = new DeviceBuffer<ushort>(context, Math.Max(1, n));
        _owned.Add(b);
        return b.Pointer;
    }
}
