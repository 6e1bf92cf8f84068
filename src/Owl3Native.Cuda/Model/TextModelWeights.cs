namespace Owl3Native.Cuda.Model;

/// <summary>
/// A text model's weights as <see cref="DeviceQwen2Text"/> uploads them: piece by piece, as bf16 bits, each piece asked
/// for once and dropped after its upload. A source that reads them from a checkpoint's memory-mapped tensors therefore
/// holds at most one layer on the host at a time, not the model (7B's language model is 15 GB in bf16, 30 GB in fp32).
/// </summary>
public interface ITextModelWeights
{
    /// <summary>The layers' sizes.</summary>
    Qwen2LayerShape Shape { get; }

    /// <summary>Rows of the embedding and the LM head.</summary>
    int Vocab { get; }

    /// <summary>Decoder layers.</summary>
    int LayerCount { get; }

    /// <summary>The hyper layers attend to images in 241101's fused form (no gate); false: 240728/241014's gated cross-attention.</summary>
    bool FusedHyper { get; }

    /// <summary>The LM head is the embedding (`tie_word_embeddings`): <see cref="LmHead"/> is null.</summary>
    bool TiedHead { get; }

    /// <summary>bf16 elements of every weight the model uploads (the vocab padding aside): sizes the KV cache before the upload.</summary>
    long Elements { get; }

    /// <summary>embed_tokens `[vocab, hidden]`.</summary>
    ushort[] Embedding();

    /// <summary>The final norm `[hidden]`.</summary>
    ushort[] FinalNorm();

    /// <summary>lm_head `[vocab, hidden]`; null when <see cref="TiedHead"/>.</summary>
    ushort[]? LmHead();

    /// <summary>Layer <paramref name="index"/>'s weights, k|v and gate|up stacked.</summary>
    Qwen2LayerBits Layer(int index);
}

/// <summary>
/// A text model's weights held as fp32 arrays (checks and benchmarks with random weights): converted to bf16 a layer at a
/// time. The same weights object may serve several consecutive layers (a benchmark repeating one random layer); it is
/// converted once for the run of layers.
/// </summary>
public sealed class ArrayTextWeights : ITextModelWeights
{
    private readonly float[] _embedding, _finalNorm;
    private readonly float[]? _lmHead;
    private readonly IReadOnlyList<Qwen2LayerWeights> _layers;
    private Qwen2LayerWeights? _lastLayer;
    private Qwen2LayerBits? _lastBits;

    /// <summary>The model of <paramref name="layers"/> with <paramref name="embedding"/> `[vocab, hidden]`, <paramref name="finalNorm"/> `[hidden]` and the LM head (null: tied).</summary>
    /// <exception cref="ArgumentException">A tensor's size differs from the shape's, or no layer.</exception>
    public ArrayTextWeights(Qwen2LayerShape shape, int vocab, float[] embedding, float[] finalNorm, float[]? lmHead, IReadOnlyList<Qwen2LayerWeights> layers, bool fusedHyper)
    {
        shape.Validate();
        if (vocab < 1) throw new ArgumentException($"vocab {vocab}");
        if (embedding.LongLength != (long)vocab * shape.Hidden) throw new ArgumentException($"embed_tokens: {embedding.LongLength} values, {vocab} × {shape.Hidden} expected");
        if (lmHead is not null && lmHead.LongLength != (long)vocab * shape.Hidden) throw new ArgumentException($"lm_head: {lmHead.LongLength} values, {vocab} × {shape.Hidden} expected");
        if (finalNorm.Length != shape.Hidden) throw new ArgumentException($"norm: {finalNorm.Length} values, {shape.Hidden} expected");
        if (layers.Count < 1) throw new ArgumentException("a model needs at least one layer");
        (Shape, Vocab, FusedHyper, _embedding, _finalNorm, _lmHead, _layers) = (shape, vocab, fusedHyper, embedding, finalNorm, lmHead, layers);
    }

    /// <inheritdoc/>
    public Qwen2LayerShape Shape { get; }
    /// <inheritdoc/>
    public int Vocab { get; }
    /// <inheritdoc/>
    public int LayerCount => _layers.Count;
    /// <inheritdoc/>
    public bool FusedHyper { get; }
    /// <inheritdoc/>
    public bool TiedHead => _lmHead is null;

    /// <inheritdoc/>
    public long Elements => _embedding.LongLength + (_lmHead?.LongLength ?? 0) + _finalNorm.LongLength + _layers.Sum(l => new[]
    {
        l.InputNorm, l.Q, l.QBias, l.K, l.KBias, l.V, l.VBias, l.O, l.PostNorm, l.Gate, l.Up, l.Down, l.VKv, l.VKvBias, l.GateProj, l.GateProjBias, l.StaticGate,
    }.Sum(a => a?.LongLength ?? 0));

    /// <inheritdoc/>
    public ushort[] Embedding() => Qwen2LayerWeights.Bits(_embedding);
    /// <inheritdoc/>
    public ushort[] FinalNorm() => Qwen2LayerWeights.Bits(_finalNorm);
    /// <inheritdoc/>
    public ushort[]? LmHead() => _lmHead is null ? null : Qwen2LayerWeights.Bits(_lmHead);

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A weight's element count differs from the shape's.</exception>
    public Qwen2LayerBits Layer(int index)
    {
        var w = _layers[index];
        if (!ReferenceEquals(w, _lastLayer)) (_lastLayer, _lastBits) = (w, w.ToBits(Shape));
        return _lastBits!;
    }
}
