using System.Text.Json.Nodes;
using Owl3Native.Core.Config;
using Owl3Native.TestKit;

namespace Owl3Native.Core.Tests;

/// <summary>`generation_config.json`: terminators and sampling defaults.</summary>
public sealed class GenerationConfigTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// A generation config with the sampling fields spelled out, then <paramref name="extra"/> fields.
    /// </summary>
    private static string Json(string extra = "")
    {
        string sampling = "\"temperature\": 1.0, \"top_p\": 1.0, \"top_k\": 50, \"repetition_penalty\": 1.0";
        return extra.Length == 0 ? $"{{{sampling}}}" : $"{{{sampling}, {extra}}}";
    }

    private GenerationConfig Load(string json) =>
        ConfigLoader.LoadGenerationConfig(_dir.Write("generation_config.json", json));

    private CheckpointConfigException AssertRefused(string json, string field, string fragment)
    {
        string path = _dir.Write("generation_config.json", json);

        var e = Assert.Throws<CheckpointConfigException>(() => ConfigLoader.LoadGenerationConfig(path));
        Assert.Equal(field, e.Field);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(fragment, e.Message);
        return e;
    }

    [Theory]
    [InlineData("tiny-a")]
    [InlineData("tiny-c")]
    public void LoadGenerationConfig_reads_the_golden_files(string golden)
    {
        var g = ConfigLoader.LoadGenerationConfig(Path.Combine(SharedData.Golden(golden), "generation_config.json"));

        Assert.Equal([502, 500], g.EosTokenIds!);
        Assert.Equal(500, g.BosTokenId);
        Assert.Equal(500, g.PadTokenId);
        Assert.False(g.DoSample);
    }

    [Fact]
    public void Eos_token_id_may_be_one_integer()
    {
        Assert.Equal([7], Load(Json("\"eos_token_id\": 7")).EosTokenIds!);
    }

    [Fact]
    public void Eos_token_id_may_be_a_list()
    {
        Assert.Equal([502, 500, 1], Load(Json("\"eos_token_id\": [502, 500, 1]")).EosTokenIds!);
    }

    [Fact]
    public void Eos_token_id_may_be_null_or_absent()
    {
        Assert.Null(Load(Json("\"eos_token_id\": null")).EosTokenIds);
        Assert.Null(Load(Json()).EosTokenIds);
    }

    [Fact]
    public void Missing_fields_take_the_transformers_defaults()
    {
        var g = Load("{}");

        Assert.Equal(GenerationConfig.Default, g);
        Assert.Equal(1.0, g.Temperature);
        Assert.Equal(1.0, g.TopP);
        Assert.Equal(50, g.TopK);
        Assert.Equal(1.0, g.RepetitionPenalty);
        Assert.Null(g.MaxNewTokens);
    }

    [Fact]
    public void Sampling_fields_are_read()
    {
        var g = Load("""{"do_sample": true, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.05, "max_new_tokens": 64}""");

        Assert.True(g.DoSample);
        Assert.Equal(0.7, g.Temperature);
        Assert.Equal(0.8, g.TopP);
        Assert.Equal(20, g.TopK);
        Assert.Equal(1.05, g.RepetitionPenalty);
        Assert.Equal(64, g.MaxNewTokens);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(1.5)]
    public void LoadGenerationConfig_rejects_top_p_outside_0_to_1(double topP) =>
        AssertRefused(new JsonObject { ["top_p"] = topP }.ToJsonString(), "top_p", "`top_p`");

    [Fact]
    public void LoadGenerationConfig_rejects_a_negative_temperature() =>
        AssertRefused("""{"temperature": -1, "top_p": 1}""", "temperature", "`temperature` -1 must be ≥ 0");

    [Fact]
    public void LoadGenerationConfig_accepts_temperature_zero() =>
        Assert.Equal(0.0, Load("""{"temperature": 0, "top_p": 1, "repetition_penalty": 1}""").Temperature);

    [Fact]
    public void LoadGenerationConfig_rejects_a_negative_top_k() =>
        AssertRefused(Json("\"top_k\": -1"), "top_k", "`top_k`");

    [Fact]
    public void LoadGenerationConfig_rejects_a_zero_repetition_penalty() =>
        AssertRefused("""{"top_p": 1, "repetition_penalty": 0}""", "repetition_penalty", "`repetition_penalty`");

    [Fact]
    public void LoadGenerationConfig_rejects_negative_max_new_tokens() =>
        AssertRefused(Json("\"max_new_tokens\": -1"), "max_new_tokens", "`max_new_tokens`");

    [Fact]
    public void LoadGenerationConfig_rejects_a_negative_eos_token_id() =>
        AssertRefused(Json("\"eos_token_id\": [2, -1]"), "eos_token_id", "negative id");

    [Theory]
    [InlineData("""{"eos_token_id": "2"}""")]
    [InlineData("""{"eos_token_id": [2, "x"]}""")]
    [InlineData("""{"eos_token_id": 1.5}""")]
    [InlineData("""{"eos_token_id": [[2]]}""")]
    [InlineData("""{"eos_token_id": 4294967296}""")]
    public void LoadGenerationConfig_rejects_eos_token_id_that_is_not_integers(string json)
    {
        string path = _dir.Write("generation_config.json", json);

        var e = Assert.Throws<CheckpointConfigException>(() => ConfigLoader.LoadGenerationConfig(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains("eos_token_id", e.Message);
    }

    [Fact]
    public void LoadGenerationConfig_rejects_invalid_JSON()
    {
        string path = _dir.Write("generation_config.json", "{\"top_p\": ");

        var e = Assert.Throws<CheckpointConfigException>(() => ConfigLoader.LoadGenerationConfig(path));
        Assert.Contains("invalid JSON", e.Message);
    }

    [Fact]
    public void LoadGenerationConfig_of_a_missing_file_throws_CheckpointNotFoundException() =>
        Assert.Throws<CheckpointNotFoundException>(() => ConfigLoader.LoadGenerationConfig(_dir.File("generation_config.json")));
}
