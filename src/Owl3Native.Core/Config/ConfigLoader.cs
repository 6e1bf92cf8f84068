using System.Text.Json;
using System.Text.RegularExpressions;

namespace Owl3Native.Core.Config;

/// <summary>Reads and validates `config.json` and `generation_config.json`; every error names the file and field.</summary>
public static partial class ConfigLoader
{
    /// <summary>The `model_type` of every mPLUG-Owl3 release.</summary>
    public const string ExpectedModelType = "mplugowl3";

    /// <summary>Reads and validates a `config.json`.</summary>
    /// <param name="path">The file.</param>
    /// <param name="warnings">Receives non-fatal findings.</param>
    /// <exception cref="CheckpointNotFoundException">The file does not exist.</exception>
    /// <exception cref="CheckpointConfigException">Invalid JSON, a missing required field, or an invalid value.</exception>
    public static Owl3Config LoadModelConfig(string path, ICollection<string> warnings)
    {
        var config = Deserialize(path, ConfigJsonContext.Default.Owl3Config);
        Validate(config, path, warnings);
        return config;
    }

    /// <summary>Reads and validates a `generation_config.json`.</summary>
    /// <exception cref="CheckpointNotFoundException">The file does not exist.</exception>
    /// <exception cref="CheckpointConfigException">Invalid JSON or an invalid value.</exception>
    public static GenerationConfig LoadGenerationConfig(string path)
    {
        var g = Deserialize(path, ConfigJsonContext.Default.GenerationConfig);
        if (!(g.Temperature >= 0)) throw Field(path, "temperature", $"`temperature` {g.Temperature} must be ≥ 0");
        if (!(g.TopP > 0 && g.TopP <= 1)) throw Field(path, "top_p", $"`top_p` {g.TopP} must be in (0, 1]");
        if (g.TopK < 0) throw Field(path, "top_k", $"`top_k` {g.TopK} must be ≥ 0");
        if (!(g.RepetitionPenalty > 0)) throw Field(path, "repetition_penalty", $"`repetition_penalty` {g.RepetitionPenalty} must be > 0");
        if (g.MaxNewTokens is < 0) throw Field(path, "max_new_tokens", $"`max_new_tokens` {g.MaxNewTokens} must be ≥ 0");
        if (g.EosTokenIds?.Any(id => id < 0) == true) throw Field(path, "eos_token_id", "`eos_token_id` holds a negative id");
        return g;
    }

    /// <summary>Serialises a config (field names as in `config.json`).</summary>
    public static string ToJson(Owl3Config config) => JsonSerializer.Serialize(config, ConfigJsonContext.Default.Owl3Config);

    /// <summary>Checks every field of a model config; throws on the first invalid one.</summary>
    /// <exception cref="CheckpointConfigException">An invalid value, naming the field.</exception>
    public static void Validate(Owl3Config c, string path, ICollection<string> warnings)
    {
        if (c.ModelType is null)
            warnings.Add($"{Path.GetFileName(path)}: no `model_type`; assuming `{ExpectedModelType}`");
        else if (c.ModelType != ExpectedModelType)
            throw Field(path, "model_type", $"`model_type` is `{c.ModelType}`, not `{ExpectedModelType}`: not an mPLUG-Owl3 checkpoint");

        Positive(path, "hidden_size", c.Hidden);
        Positive(path, "intermediate_size", c.Intermediate);
        Positive(path, "num_hidden_layers", c.Layers);
        Positive(path, "num_attention_heads", c.Heads);
        Positive(path, "num_key_value_heads", c.KvHeads);
        Positive(path, "vocab_size", c.Vocab);
        Positive(path, "max_position_embeddings", c.MaxPositionEmbeddings);
        AtMost(path, "hidden_size", c.Hidden, MaxWidth);
        AtMost(path, "intermediate_size", c.Intermediate, MaxWidth);
        AtMost(path, "num_hidden_layers", c.Layers, MaxLayers);
        AtMost(path, "num_attention_heads", c.Heads, MaxHeads);
        AtMost(path, "vocab_size", c.Vocab, MaxVocab);
        if (c.Hidden % c.Heads != 0)
            throw Field(path, "num_attention_heads", $"`hidden_size` {c.Hidden} is not divisible by `num_attention_heads` {c.Heads}");
        if (c.Heads % c.KvHeads != 0)
            throw Field(path, "num_key_value_heads", $"`num_attention_heads` {c.Heads} is not divisible by `num_key_value_heads` {c.KvHeads}");
        if (c.HeadDim % 2 != 0)
            throw Field(path, "num_attention_heads", $"head dim {c.HeadDim} (`hidden_size` / `num_attention_heads`) is odd; rotate-half RoPE needs an even head dim");
        if (!(c.RmsNormEps > 0 && double.IsFinite(c.RmsNormEps)))
            throw Field(path, "rms_norm_eps", $"`rms_norm_eps` {c.RmsNormEps} must be a positive number");
        if (!(c.RopeTheta > 1 && double.IsFinite(c.RopeTheta)))
            throw Field(path, "rope_theta", $"`rope_theta` {c.RopeTheta} must be a finite number > 1");
        if (c.HiddenAct != "silu")
            throw Field(path, "hidden_act", $"`hidden_act` `{c.HiddenAct}` is not supported (Qwen2 uses `silu`)");
        if (c.UseSlidingWindow)
            throw Field(path, "use_sliding_window", "`use_sliding_window` true is not supported (every released checkpoint sets false)");
        if (c.RopeScaling is { ValueKind: not JsonValueKind.Null })
            throw Field(path, "rope_scaling", "`rope_scaling` is not supported (no released checkpoint sets it)");

        if (c.HyperLayersField is null)
            warnings.Add($"{Path.GetFileName(path)}: no `hyper_layers`; using the class default [1, 9, 17, 25] (1-based)");
        var seen = new HashSet<int>();
        foreach (int h in c.HyperLayers)
        {
            if (h < 1 || h > c.Layers)
                throw Field(path, "hyper_layers",
                    $"`hyper_layers` entry {h} is out of range 1..{c.Layers} (the list is 1-based; `num_hidden_layers` is {c.Layers})");
            if (!seen.Add(h))
                throw Field(path, "hyper_layers", $"`hyper_layers` lists {h} twice");
        }
        if (c.HyperLayers.Count == 0)
            warnings.Add($"{Path.GetFileName(path)}: `hyper_layers` is empty: images cannot influence the output");

        if (c.BosTokenId is { } bos && (bos < 0 || bos >= c.Vocab))
            warnings.Add($"{Path.GetFileName(path)}: `bos_token_id` {bos} is outside the {c.Vocab} embedding rows");
        foreach (int id in c.EosTokenIds ?? [])
            if (id < 0 || id >= c.Vocab)
                warnings.Add($"{Path.GetFileName(path)}: `eos_token_id` {id} is outside the {c.Vocab} embedding rows");

        ValidateVision(c.Vision, path);
        if (c.VisionField is null)
            warnings.Add($"{Path.GetFileName(path)}: no `vision_config`; using SigLIP-so400m/14 at 384 px (the mPLUGOwl3Config default)");
    }

    private static void ValidateVision(VisionConfig v, string path)
    {
        const string p = "vision_config.";
        Positive(path, p + "hidden_size", v.Hidden);
        Positive(path, p + "intermediate_size", v.Intermediate);
        Positive(path, p + "num_attention_heads", v.Heads);
        Positive(path, p + "num_hidden_layers", v.Layers);
        Positive(path, p + "patch_size", v.PatchSize);
        Positive(path, p + "image_size", v.ImageSize);
        AtMost(path, p + "hidden_size", v.Hidden, MaxWidth);
        AtMost(path, p + "intermediate_size", v.Intermediate, MaxWidth);
        AtMost(path, p + "num_attention_heads", v.Heads, MaxHeads);
        AtMost(path, p + "num_hidden_layers", v.Layers, MaxLayers);
        AtMost(path, p + "image_size", v.ImageSize, MaxImageSize);
        if (v.Hidden % v.Heads != 0)
            throw Field(path, p + "num_attention_heads",
                $"`vision_config.hidden_size` {v.Hidden} is not divisible by `vision_config.num_attention_heads` {v.Heads}");
        if (v.ImageSize < v.PatchSize)
            throw Field(path, p + "image_size", $"`vision_config.image_size` {v.ImageSize} is smaller than `patch_size` {v.PatchSize}");
        if (v.Channels != 3)
            throw Field(path, p + "num_channels", $"`vision_config.num_channels` {v.Channels} is not supported (images are RGB: 3)");
        if (v.HiddenAct is not ("gelu_pytorch_tanh" or "gelu_new"))
            throw Field(path, p + "hidden_act", $"`vision_config.hidden_act` `{v.HiddenAct}` is not supported (SigLIP uses `gelu_pytorch_tanh`)");
        if (!(v.LayerNormEps > 0 && double.IsFinite(v.LayerNormEps)))
            throw Field(path, p + "layer_norm_eps", $"`vision_config.layer_norm_eps` {v.LayerNormEps} must be a positive number");
    }

    private static T Deserialize<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) where T : class
    {
        if (!File.Exists(path)) throw new CheckpointNotFoundException(path, "file not found");
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            return JsonSerializer.Deserialize(bytes, info)
                ?? throw new CheckpointConfigException(path, "holds `null`, not a JSON object");
        }
        catch (JsonException e)
        {
            var missing = MissingRequired().Match(e.Message);
            if (missing.Success)
                throw new CheckpointConfigException(path, $"missing required field `{missing.Groups[1].Value}`", e) { Field = missing.Groups[1].Value };
            string where = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "" : $" at `{e.Path.TrimStart('$', '.')}`";
            string what = e.InnerException is FormatException or OverflowException or InvalidOperationException
                ? "value of the wrong type or out of range" : e.Message.Split('\n')[0].Split(" Path:")[0];
            throw new CheckpointConfigException(path, $"invalid JSON{where}: {what}", e) { Field = e.Path?.TrimStart('$', '.') };
        }
    }

    // Sanity bounds far above any released model; they keep a hostile config from asking for billions of tensors.
    private const int MaxWidth = 1 << 20, MaxLayers = 1024, MaxHeads = 1024, MaxVocab = 1 << 24, MaxImageSize = 16384;

    private static void AtMost(string path, string field, int value, int max)
    {
        if (value > max) throw Field(path, field, $"`{field}` is {value}; more than {max} is not a plausible model");
    }

    private static void Positive(string path, string field, int value)
    {
        if (value <= 0) throw Field(path, field, $"`{field}` is {value}; it must be positive");
    }

    private static CheckpointConfigException Field(string path, string field, string message) => new(path, message) { Field = field };

    [GeneratedRegex("missing required properties including: '([^']+)'")]
    private static partial Regex MissingRequired();
}
