namespace Owl3Native.Engine.Sampling;

/// <summary>
/// Per-sequence sampling settings with HuggingFace <c>generate</c> meanings. Values are float32 because transformers
/// applies them to float32 logits (the Python scalar is rounded to float32 in the op), and the CUDA kernel takes the
/// same floats. Every setter validates, so an invalid record cannot exist, not even through <c>with</c>.
/// </summary>
public sealed record SamplingParams
{
    /// <summary>Greedy decoding (argmax after the repetition penalty), no other processing.</summary>
    public static SamplingParams Greedy { get; } = new(temperature: 0f);

    private readonly float _temperature = 1f;
    private readonly int _topK;
    private readonly float _topP = 1f;
    private readonly float _repetitionPenalty = 1f;

    /// <summary>Creates validated settings; the defaults switch every processor off and sample at temperature 1.</summary>
    /// <param name="temperature">Divides the logits; 0 means greedy. Finite and ≥ 0.</param>
    /// <param name="topK">Keep the k most likely tokens; 0 means off. ≥ 0.</param>
    /// <param name="topP">Nucleus mass to keep; 1 means off. In (0, 1].</param>
    /// <param name="repetitionPenalty">CTRL-style penalty on tokens already in the sequence; 1 means off. Finite and &gt; 0.</param>
    /// <param name="seed">Philox key of the draws (see <see cref="Sampler"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside the range given above.</exception>
    public SamplingParams(float temperature = 1f, int topK = 0, float topP = 1f, float repetitionPenalty = 1f, ulong seed = 0)
    {
        Temperature = temperature;
        TopK = topK;
        TopP = topP;
        RepetitionPenalty = repetitionPenalty;
        Seed = seed;
    }

    /// <summary>Logits are divided by this before top-k/top-p; 0 selects greedy decoding. Default 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, NaN or infinite.</exception>
    public float Temperature
    {
        get => _temperature;
        init => _temperature = float.IsFinite(value) && value >= 0f ? value
            : throw new ArgumentOutOfRangeException(nameof(Temperature), value,
                $"temperature must be finite and ≥ 0 (0 = greedy); got {value}.");
    }

    /// <summary>Keep only the <c>TopK</c> largest logits (ties with the k-th kept); 0 disables. Default 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int TopK
    {
        get => _topK;
        init => _topK = value >= 0 ? value
            : throw new ArgumentOutOfRangeException(nameof(TopK), value, $"top_k must be ≥ 0 (0 = off); got {value}.");
    }

    /// <summary>Nucleus sampling (HF <c>TopPLogitsWarper</c>): drop the least likely tokens whose cumulative probability is ≤ <c>1 - TopP</c>; 1 disables. Default 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not in (0, 1] (NaN included).</exception>
    public float TopP
    {
        get => _topP;
        init => _topP = value > 0f && value <= 1f ? value
            : throw new ArgumentOutOfRangeException(nameof(TopP), value, $"top_p must be in (0, 1] (1 = off); got {value}.");
    }

    /// <summary>Divides positive and multiplies negative logits of tokens already in the sequence; 1 disables. Default 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not finite and &gt; 0.</exception>
    public float RepetitionPenalty
    {
        get => _repetitionPenalty;
        init => _repetitionPenalty = float.IsFinite(value) && value > 0f ? value
            : throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), value,
                $"repetition_penalty must be finite and > 0 (1 = off); got {value}.");
    }

    /// <summary>Philox key of the draws; with the sequence id and step it fully determines each sampled token.</summary>
    public ulong Seed { get; init; }
}
