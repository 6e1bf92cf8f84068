using System.Text.Json.Serialization;

namespace Owl3Native.Core.Config;

/// <summary>`generation_config.json`: sampling defaults and terminators (spec/CHECKPOINTS.md §4).</summary>
public sealed record GenerationConfig
{
    /// <summary>`bos_token_id`.</summary>
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }

    /// <summary>`pad_token_id`.</summary>
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; init; }

    /// <summary>`eos_token_id`: the terminators (one id or a list).</summary>
    [JsonPropertyName("eos_token_id"), JsonConverter(typeof(IntOrIntListConverter))] public int[]? EosTokenIds { get; init; }

    /// <summary>`do_sample` (false: greedy).</summary>
    [JsonPropertyName("do_sample")] public bool DoSample { get; init; }

    /// <summary>`temperature` (transformers default 1.0).</summary>
    [JsonPropertyName("temperature")] public double Temperature { get; set; } = 1.0;

    /// <summary>`top_p` (default 1.0).</summary>
    [JsonPropertyName("top_p")] public double TopP { get; set; } = 1.0;

    /// <summary>`top_k` (default 50, as transformers).</summary>
    [JsonPropertyName("top_k")] public int TopK { get; set; } = 50;

    /// <summary>`repetition_penalty` (default 1.0: none).</summary>
    [JsonPropertyName("repetition_penalty")] public double RepetitionPenalty { get; set; } = 1.0;

    /// <summary>`max_new_tokens`, when set.</summary>
    [JsonPropertyName("max_new_tokens")] public int? MaxNewTokens { get; init; }

    /// <summary>What applies when a folder has no generation_config.json.</summary>
    public static GenerationConfig Default { get; } = new();
}
