using System.Text.Json.Serialization;

namespace Owl3Native.Core.Config;

/// <summary>
/// `config.json` of an mPLUG-Owl3 checkpoint (HyperQwen2Config + mPLUGOwl3Config; spec/CHECKPOINTS.md §3).
/// Construct through <see cref="ConfigLoader"/>, which validates every field.
/// </summary>
public sealed record Owl3Config
{
    /// <summary>`model_type` (expected `mplugowl3`).</summary>
    [JsonPropertyName("model_type")] public string? ModelType { get; init; }

    /// <summary>`hidden_size`: LLM hidden width.</summary>
    [JsonPropertyName("hidden_size"), JsonRequired] public int Hidden { get; init; }

    /// <summary>`intermediate_size`: SwiGLU width.</summary>
    [JsonPropertyName("intermediate_size"), JsonRequired] public int Intermediate { get; init; }

    /// <summary>`num_hidden_layers`.</summary>
    [JsonPropertyName("num_hidden_layers"), JsonRequired] public int Layers { get; init; }

    /// <summary>`num_attention_heads`: query heads.</summary>
    [JsonPropertyName("num_attention_heads"), JsonRequired] public int Heads { get; init; }

    /// <summary>`num_key_value_heads` as written (null: equal to <see cref="Heads"/>, as Qwen2Config does).</summary>
    [JsonPropertyName("num_key_value_heads")] public int? KvHeadsField { get; init; }

    /// <summary>`vocab_size`: rows of the embedding and lm_head (more than the tokenizer has ids).</summary>
    [JsonPropertyName("vocab_size"), JsonRequired] public int Vocab { get; init; }

    /// <summary>`rms_norm_eps`.</summary>
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; set; } = 1e-6;

    /// <summary>`rope_theta` (Qwen2Config default 10000; every released checkpoint sets 1e6).</summary>
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; set; } = 10000.0;

    /// <summary>`max_position_embeddings`: the context the model was trained for.</summary>
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; set; } = 32768;

    /// <summary>`tie_word_embeddings`: lm_head is embed_tokens (1B, 2B).</summary>
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }

    /// <summary>`hidden_act` (only `silu` exists in Qwen2).</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; set; } = "silu";

    /// <summary>`use_sliding_window` (false in every release; true is refused).</summary>
    [JsonPropertyName("use_sliding_window")] public bool UseSlidingWindow { get; init; }

    /// <summary>`rope_scaling` (absent in every release; anything else is refused).</summary>
    [JsonPropertyName("rope_scaling")] public System.Text.Json.JsonElement? RopeScaling { get; init; }

    /// <summary>`hyper_layers` as written: <b>1-based</b> layer numbers (null: the class default 1, 9, 17, 25).</summary>
    [JsonPropertyName("hyper_layers")] public int[]? HyperLayersField { get; init; }

    /// <summary>`bos_token_id`.</summary>
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }

    /// <summary>`eos_token_id` (one id or a list).</summary>
    [JsonPropertyName("eos_token_id"), JsonConverter(typeof(IntOrIntListConverter))] public int[]? EosTokenIds { get; init; }

    /// <summary>`torch_dtype` (informational; weights carry their own dtype).</summary>
    [JsonPropertyName("torch_dtype")] public string? TorchDType { get; init; }

    /// <summary>`vision_config` (null: the SigLIP-so400m/14 at 384 that mPLUGOwl3Config builds by default).</summary>
    [JsonPropertyName("vision_config")] public VisionConfig? VisionField { get; init; }

    /// <summary>The class default of `hyper_layers` (HyperQwen2Config).</summary>
    public static IReadOnlyList<int> DefaultHyperLayers { get; } = [1, 9, 17, 25];

    /// <summary>Key/value heads.</summary>
    [JsonIgnore] public int KvHeads => KvHeadsField ?? Heads;

    /// <summary>Head dim = hidden / heads.</summary>
    [JsonIgnore] public int HeadDim => Hidden / Heads;

    /// <summary>`hyper_layers` as written (1-based).</summary>
    [JsonIgnore] public IReadOnlyList<int> HyperLayers => HyperLayersField ?? DefaultHyperLayers;

    /// <summary>The hyper layers as 0-based layer indices, ascending.</summary>
    [JsonIgnore] public IReadOnlyList<int> HyperLayerIndices => HyperLayers.Select(h => h - 1).Order().ToArray();

    /// <summary>True when 0-based layer <paramref name="layer"/> is a hyper layer.</summary>
    public bool IsHyperLayer(int layer) => HyperLayers.Contains(layer + 1);

    /// <summary>The vision tower config.</summary>
    [JsonIgnore] public VisionConfig Vision => VisionField ?? VisionConfig.So400mDefault;
}

/// <summary>`vision_config` (SiglipVisionConfig; unspecified fields take the transformers defaults).</summary>
public sealed record VisionConfig
{
    /// <summary>The SigLIP-so400m/14 tower at 384 px that mPLUGOwl3Config uses when `vision_config` is absent.</summary>
    public static VisionConfig So400mDefault { get; } = new()
    {
        Hidden = 1152, Intermediate = 4304, Heads = 16, Layers = 27, PatchSize = 14, ImageSize = 384,
    };

    /// <summary>`hidden_size`.</summary>
    [JsonPropertyName("hidden_size")] public int Hidden { get; set; } = 768;

    /// <summary>`intermediate_size`.</summary>
    [JsonPropertyName("intermediate_size")] public int Intermediate { get; set; } = 3072;

    /// <summary>`num_attention_heads`.</summary>
    [JsonPropertyName("num_attention_heads")] public int Heads { get; set; } = 12;

    /// <summary>`num_hidden_layers` (the model uses the output of layer Layers−2).</summary>
    [JsonPropertyName("num_hidden_layers")] public int Layers { get; set; } = 12;

    /// <summary>`num_channels`.</summary>
    [JsonPropertyName("num_channels")] public int Channels { get; set; } = 3;

    /// <summary>`image_size`: crop side S in pixels.</summary>
    [JsonPropertyName("image_size")] public int ImageSize { get; set; } = 224;

    /// <summary>`patch_size`.</summary>
    [JsonPropertyName("patch_size")] public int PatchSize { get; set; } = 16;

    /// <summary>`hidden_act` (`gelu_pytorch_tanh`).</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; set; } = "gelu_pytorch_tanh";

    /// <summary>`layer_norm_eps`.</summary>
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; set; } = 1e-6;

    /// <summary>`model_type`.</summary>
    [JsonPropertyName("model_type")] public string? ModelType { get; init; }

    /// <summary>Patches per side: ⌊(S − P)/P⌋ + 1 (a 384 crop leaves 6 pixels unused).</summary>
    [JsonIgnore] public int PatchesPerSide => (ImageSize - PatchSize) / PatchSize + 1;

    /// <summary>Visual tokens per crop (729 for every released checkpoint).</summary>
    [JsonIgnore] public int Patches => PatchesPerSide * PatchesPerSide;

    /// <summary>Head dim (72 for SigLIP-400M).</summary>
    [JsonIgnore] public int HeadDim => Hidden / Heads;
}
