using System.Text.Json.Nodes;
using Owl3Native.Core.Config;
using Owl3Native.TestKit;

namespace Owl3Native.Core.Tests;

/// <summary>`config.json`: variants of the tiny-a config written to a temp folder, and the real golden configs.</summary>
public sealed class ConfigLoaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// The tiny-a config plus the three SigLIP fields it leaves to their defaults (`num_channels`, `hidden_act`,
    /// `layer_norm_eps`): spelling them out keeps every other test about
    /// the field it names (the defaults have tests of their own).
    /// </summary>
    private static JsonObject TinyA()
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(SharedData.Golden("tiny-a"), "config.json")))!.AsObject();
        var vision = Vision(config);
        vision.TryAdd("num_channels", 3);
        vision.TryAdd("hidden_act", "gelu_pytorch_tanh");
        vision.TryAdd("layer_norm_eps", 1e-6);
        return config;
    }

    private static JsonObject Vision(JsonObject config) => config["vision_config"]!.AsObject();

    private string Write(JsonObject config) => _dir.Write("config.json", config.ToJsonString());

    private (Owl3Config Config, List<string> Warnings) Load(Action<JsonObject> edit)
    {
        var json = TinyA();
        edit(json);
        var warnings = new List<string>();
        var config = ConfigLoader.LoadModelConfig(Write(json), warnings);
        return (config, warnings);
    }

    private CheckpointConfigException AssertRefused(Action<JsonObject> edit, string field, string fragment)
    {
        var json = TinyA();
        edit(json);
        string path = Write(json);

        var e = Assert.Throws<CheckpointConfigException>(() => ConfigLoader.LoadModelConfig(path, new List<string>()));
        Assert.Equal(field, e.Field);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(fragment, e.Message);
        return e;
    }

    [Fact]
    public void LoadModelConfig_reads_the_tiny_a_fields()
    {
        var (config, warnings) = Load(_ => { });

        Assert.Empty(warnings);
        Assert.Equal("mplugowl3", config.ModelType);
        Assert.Equal(64, config.Hidden);
        Assert.Equal(128, config.Intermediate);
        Assert.Equal(5, config.Layers);
        Assert.Equal(4, config.Heads);
        Assert.Equal(2, config.KvHeads);
        Assert.Equal(16, config.HeadDim);
        Assert.Equal(512, config.Vocab);
        Assert.Equal(1e6, config.RopeTheta);
        Assert.Equal(1e-6, config.RmsNormEps);
        Assert.Equal([2, 4], config.HyperLayers);
        Assert.Equal([1, 3], config.HyperLayerIndices);
        Assert.True(config.IsHyperLayer(1));
        Assert.False(config.IsHyperLayer(2));
        Assert.Equal([502], config.EosTokenIds!);
        Assert.Equal(64, config.Vision.Hidden);
        Assert.Equal(3, config.Vision.PatchesPerSide);
        Assert.Equal(9, config.Vision.Patches);
        Assert.Equal(16, config.Vision.HeadDim);
    }

    [Theory]
    [InlineData("tiny-a", new[] { 1, 3 })]
    [InlineData("tiny-c", new[] { 0, 3 })]
    public void LoadModelConfig_accepts_the_golden_configs(string golden, int[] hyperLayerIndices)
    {
        var warnings = new List<string>();
        var config = ConfigLoader.LoadModelConfig(Path.Combine(SharedData.Golden(golden), "config.json"), warnings);

        Assert.Empty(warnings);
        Assert.Equal(hyperLayerIndices, config.HyperLayerIndices);
        Assert.Equal(2, config.KvHeads);
        Assert.Equal(16, config.HeadDim);
        Assert.Equal(9, config.Vision.Patches);
    }

    [Fact]
    public void ToJson_output_loads_back_to_the_same_values()
    {
        var (config, _) = Load(_ => { });
        string path = _dir.Write("roundtrip.json", ConfigLoader.ToJson(config));

        var again = ConfigLoader.LoadModelConfig(path, new List<string>());

        Assert.Equal(config.Hidden, again.Hidden);
        Assert.Equal(config.KvHeads, again.KvHeads);
        Assert.Equal(config.HyperLayers, again.HyperLayers);
        Assert.Equal(config.EosTokenIds!, again.EosTokenIds!);
        Assert.Equal(config.Vision, again.Vision);
    }

    [Fact]
    public void Missing_vision_fields_take_the_siglip_defaults()
    {
        var (config, _) = Load(c => c["vision_config"] = new JsonObject());

        Assert.Equal(768, config.Vision.Hidden);
        Assert.Equal(3072, config.Vision.Intermediate);
        Assert.Equal(12, config.Vision.Heads);
        Assert.Equal(12, config.Vision.Layers);
        Assert.Equal(3, config.Vision.Channels);
        Assert.Equal(224, config.Vision.ImageSize);
        Assert.Equal(16, config.Vision.PatchSize);
        Assert.Equal("gelu_pytorch_tanh", config.Vision.HiddenAct);
        Assert.Equal(1e-6, config.Vision.LayerNormEps);
    }

    [Fact]
    public void Missing_optional_llm_fields_take_the_qwen2_defaults()
    {
        var (config, _) = Load(c =>
        {
            foreach (var field in new[] { "rms_norm_eps", "rope_theta", "max_position_embeddings", "hidden_act" })
                c.Remove(field);
        });

        Assert.Equal(1e-6, config.RmsNormEps);
        Assert.Equal(10000.0, config.RopeTheta);
        Assert.Equal(32768, config.MaxPositionEmbeddings);
        Assert.Equal("silu", config.HiddenAct);
    }

    [Fact]
    public void Missing_num_key_value_heads_defaults_to_the_attention_heads()
    {
        var (config, _) = Load(c => c.Remove("num_key_value_heads"));

        Assert.Equal(4, config.KvHeads);
    }

    [Fact]
    public void Missing_vision_config_uses_the_so400m_default_with_a_warning()
    {
        var (config, warnings) = Load(c => c.Remove("vision_config"));

        Assert.Equal(729, config.Vision.Patches);
        Assert.Contains(warnings, w => w.Contains("no `vision_config`", StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_model_type_is_a_warning()
    {
        var (_, warnings) = Load(c => c.Remove("model_type"));

        Assert.Contains(warnings, w => w.Contains("no `model_type`", StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_hyper_layers_defaults_and_warns_for_a_28_layer_config()
    {
        var (config, warnings) = Load(c =>
        {
            c.Remove("hyper_layers");
            c["num_hidden_layers"] = 28;
        });

        Assert.Equal([0, 8, 16, 24], config.HyperLayerIndices);
        Assert.Contains(warnings, w => w.Contains("no `hyper_layers`", StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_hyper_layers_is_refused_when_the_defaults_exceed_the_layers() =>
        AssertRefused(c => c.Remove("hyper_layers"), "hyper_layers", "entry 9 is out of range 1..5");

    [Fact]
    public void Empty_hyper_layers_is_a_warning()
    {
        var (config, warnings) = Load(c => c["hyper_layers"] = new JsonArray());

        Assert.Empty(config.HyperLayerIndices);
        Assert.Contains(warnings, w => w.Contains("`hyper_layers` is empty", StringComparison.Ordinal));
    }

    [Fact]
    public void Token_ids_outside_the_vocabulary_are_warnings()
    {
        var (_, warnings) = Load(c =>
        {
            c["bos_token_id"] = 512;
            c["eos_token_id"] = new JsonArray(502, -1);
        });

        Assert.Contains(warnings, w => w.Contains("`bos_token_id` 512", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("`eos_token_id` -1", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-64)]
    public void LoadModelConfig_rejects_a_non_positive_hidden_size(int hidden) =>
        AssertRefused(c => c["hidden_size"] = hidden, "hidden_size", $"`hidden_size` is {hidden}; it must be positive");

    [Theory]
    [InlineData("intermediate_size")]
    [InlineData("num_hidden_layers")]
    [InlineData("num_attention_heads")]
    [InlineData("num_key_value_heads")]
    [InlineData("vocab_size")]
    [InlineData("max_position_embeddings")]
    public void LoadModelConfig_rejects_a_zero_size(string field) =>
        AssertRefused(c => c[field] = 0, field, "must be positive");

    [Fact]
    public void LoadModelConfig_rejects_heads_that_do_not_divide_hidden() =>
        AssertRefused(c => c["num_attention_heads"] = 5, "num_attention_heads", "`hidden_size` 64 is not divisible by `num_attention_heads` 5");

    [Fact]
    public void LoadModelConfig_rejects_kv_heads_that_do_not_divide_heads() =>
        AssertRefused(c => c["num_key_value_heads"] = 3, "num_key_value_heads", "not divisible by `num_key_value_heads` 3");

    [Fact]
    public void LoadModelConfig_rejects_an_odd_head_dim() =>
        AssertRefused(c =>
        {
            c["num_attention_heads"] = 64;
            c["num_key_value_heads"] = 64;
        }, "num_attention_heads", "head dim 1");

    [Theory]
    [InlineData(0)]
    [InlineData(6)]
    [InlineData(-1)]
    public void LoadModelConfig_rejects_a_hyper_layer_out_of_range(int layer)
    {
        var e = AssertRefused(c => c["hyper_layers"] = new JsonArray(layer), "hyper_layers", $"entry {layer} is out of range 1..5");
        Assert.Contains("1-based", e.Message);
    }

    [Fact]
    public void LoadModelConfig_rejects_a_duplicate_hyper_layer() =>
        AssertRefused(c => c["hyper_layers"] = new JsonArray(2, 4, 2), "hyper_layers", "lists 2 twice");

    [Theory]
    [InlineData("hidden_size")]
    [InlineData("intermediate_size")]
    [InlineData("num_hidden_layers")]
    [InlineData("num_attention_heads")]
    [InlineData("vocab_size")]
    public void LoadModelConfig_rejects_a_missing_required_field(string field) =>
        AssertRefused(c => c.Remove(field), field, $"missing required field `{field}`");

    [Fact]
    public void LoadModelConfig_rejects_hidden_size_written_as_a_string()
    {
        var e = AssertRefused(c => c["hidden_size"] = "64", "hidden_size", "at `hidden_size`");
        Assert.Contains("wrong type", e.Message);
    }

    [Fact]
    public void LoadModelConfig_rejects_a_fractional_layer_count() =>
        AssertRefused(c => c["num_hidden_layers"] = 5.5, "num_hidden_layers", "at `num_hidden_layers`");

    [Fact]
    public void LoadModelConfig_rejects_a_hyper_layer_written_as_a_string() =>
        AssertRefused(c => c["hyper_layers"] = new JsonArray("2"), "hyper_layers[0]", "at `hyper_layers[0]`");

    [Fact]
    public void LoadModelConfig_rejects_a_zero_vision_patch_size() =>
        AssertRefused(c => Vision(c)["patch_size"] = 0, "vision_config.patch_size", "`vision_config.patch_size` is 0");

    [Fact]
    public void LoadModelConfig_rejects_vision_heads_that_do_not_divide_vision_hidden() =>
        AssertRefused(c => Vision(c)["num_attention_heads"] = 6, "vision_config.num_attention_heads", "not divisible by `vision_config.num_attention_heads` 6");

    [Fact]
    public void LoadModelConfig_rejects_an_image_smaller_than_a_patch() =>
        AssertRefused(c => Vision(c)["image_size"] = 13, "vision_config.image_size", "`vision_config.image_size` 13 is smaller than `patch_size` 14");

    [Fact]
    public void LoadModelConfig_rejects_a_non_rgb_vision_tower() =>
        AssertRefused(c => Vision(c)["num_channels"] = 1, "vision_config.num_channels", "num_channels` 1");

    [Fact]
    public void LoadModelConfig_rejects_an_unknown_vision_activation() =>
        AssertRefused(c => Vision(c)["hidden_act"] = "relu", "vision_config.hidden_act", "`relu`");

    [Fact]
    public void LoadModelConfig_rejects_another_model_type() =>
        AssertRefused(c => c["model_type"] = "qwen2", "model_type", "`model_type` is `qwen2`, not `mplugowl3`");

    [Fact]
    public void LoadModelConfig_rejects_rope_scaling() =>
        AssertRefused(c => c["rope_scaling"] = new JsonObject { ["type"] = "linear", ["factor"] = 2.0 }, "rope_scaling", "`rope_scaling` is not supported");

    [Fact]
    public void LoadModelConfig_accepts_rope_scaling_null()
    {
        var (config, _) = Load(c => c["rope_scaling"] = null);

        Assert.Null(config.RopeScaling);
    }

    [Fact]
    public void LoadModelConfig_rejects_sliding_window() =>
        AssertRefused(c => c["use_sliding_window"] = true, "use_sliding_window", "`use_sliding_window` true is not supported");

    [Fact]
    public void LoadModelConfig_rejects_another_activation() =>
        AssertRefused(c => c["hidden_act"] = "gelu", "hidden_act", "`gelu`");

    [Theory]
    [InlineData("rope_theta", 1.0)]
    [InlineData("rope_theta", -5.0)]
    [InlineData("rms_norm_eps", 0.0)]
    public void LoadModelConfig_rejects_an_invalid_float_parameter(string field, double value) =>
        AssertRefused(c => c[field] = value, field, $"`{field}`");

    [Theory]
    [InlineData("{\"hidden_size\": 64,")]
    [InlineData("not json")]
    [InlineData("[1, 2]")]
    [InlineData("")]
    public void LoadModelConfig_rejects_invalid_JSON(string text)
    {
        string path = _dir.Write("config.json", text);

        var e = Assert.Throws<CheckpointConfigException>(() => ConfigLoader.LoadModelConfig(path, new List<string>()));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains("invalid JSON", e.Message);
    }

    [Fact]
    public void LoadModelConfig_rejects_a_string_with_an_escaped_lone_surrogate()
    {
        string text = TinyA().ToJsonString().Replace("\"mplugowl3\"", "\"mplugowl3\\ud800\"", StringComparison.Ordinal);
        Assert.Contains("\\ud800", text);
        string path = _dir.Write("config.json", text);

        var e = Assert.Throws<CheckpointConfigException>(() => ConfigLoader.LoadModelConfig(path, new List<string>()));
        Assert.Contains("model_type", e.Message);
    }

    [Fact]
    public void LoadModelConfig_rejects_a_file_holding_null()
    {
        string path = _dir.Write("config.json", "null");

        var e = Assert.Throws<CheckpointConfigException>(() => ConfigLoader.LoadModelConfig(path, new List<string>()));
        Assert.Contains("`null`", e.Message);
    }

    [Fact]
    public void LoadModelConfig_rejects_a_duplicate_field()
    {
        string text = TinyA().ToJsonString().Replace("\"hidden_size\":64", "\"hidden_size\":64,\"hidden_size\":32", StringComparison.Ordinal);
        Assert.Contains("\"hidden_size\":32", text);
        string path = _dir.Write("config.json", text);

        var e = Assert.Throws<CheckpointConfigException>(() => ConfigLoader.LoadModelConfig(path, new List<string>()));
        Assert.Contains("invalid JSON", e.Message);
    }

    [Fact]
    public void LoadModelConfig_of_a_missing_file_throws_CheckpointNotFoundException()
    {
        string path = _dir.File("config.json");

        var e = Assert.Throws<CheckpointNotFoundException>(() => ConfigLoader.LoadModelConfig(path, new List<string>()));
        Assert.Equal(path, e.FilePath);
    }
}
