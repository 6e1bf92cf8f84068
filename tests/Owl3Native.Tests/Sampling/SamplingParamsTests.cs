using Owl3Native.Engine.Sampling;
using Xunit;

namespace Owl3Native.Tests.Sampling;

public sealed class SamplingParamsTests
{
    [Fact]
    public void Defaults_switch_every_processor_off()
    {
        var p = new SamplingParams();
        Assert.Equal((1f, 0, 1f, 1f, 0UL), (p.Temperature, p.TopK, p.TopP, p.RepetitionPenalty, p.Seed));
        Assert.Equal(0f, SamplingParams.Greedy.Temperature);
    }

    [Theory]
    [InlineData(0f, 0, 1f, 1f)]
    [InlineData(1e-30f, 1, 1e-30f, 1e-30f)]
    [InlineData(100f, int.MaxValue, 0.5f, 1e30f)]
    public void Boundary_values_are_accepted(float temperature, int topK, float topP, float penalty)
    {
        var p = new SamplingParams(temperature, topK, topP, penalty, seed: ulong.MaxValue);
        Assert.Equal((temperature, topK, topP, penalty), (p.Temperature, p.TopK, p.TopP, p.RepetitionPenalty));
    }

    public static TheoryData<string, Func<SamplingParams>> Invalid => new()
    {
        { "temperature", () => new SamplingParams(temperature: -0.1f) },
        { "temperature", () => new SamplingParams(temperature: float.NaN) },
        { "temperature", () => new SamplingParams(temperature: float.PositiveInfinity) },
        { "top_k", () => new SamplingParams(topK: -1) },
        { "top_p", () => new SamplingParams(topP: 0f) },
        { "top_p", () => new SamplingParams(topP: -0.5f) },
        { "top_p", () => new SamplingParams(topP: 1.0001f) },
        { "top_p", () => new SamplingParams(topP: float.NaN) },
        { "repetition_penalty", () => new SamplingParams(repetitionPenalty: 0f) },
        { "repetition_penalty", () => new SamplingParams(repetitionPenalty: -1.1f) },
        { "repetition_penalty", () => new SamplingParams(repetitionPenalty: float.NaN) },
        { "repetition_penalty", () => new SamplingParams(repetitionPenalty: float.PositiveInfinity) },
        { "top_p", () => new SamplingParams() with { TopP = 2f } },      // `with` validates too
        { "temperature", () => SamplingParams.Greedy with { Temperature = -1f } },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_values_throw_with_the_setting_named(string setting, Func<SamplingParams> create)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(create);
        Assert.StartsWith(setting + " must be", e.Message);
    }
}
