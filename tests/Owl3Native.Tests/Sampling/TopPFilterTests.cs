using Owl3Native.Engine.Sampling;
using Xunit;

namespace Owl3Native.Tests.Sampling;

/// <summary>
/// The bucketed top-p against its slow twin: a full (logit, id) sort over the same integer weights. Both apply the
/// same exact rule, so they must agree on every token, including exact ties with the threshold.
/// </summary>
public sealed class TopPFilterTests
{
    private static ulong[] NaiveTopP(float[] logits, ulong[] weights, float topP)
    {
        ulong[] w = (ulong[])weights.Clone();
        ulong total = w.Aggregate(0UL, (a, b) => a + b);
        ulong threshold = (ulong)(((UInt128)(ulong)((1f - topP) * 16777216f) * total) >> 24);
        int[] ascending = Enumerable.Range(0, w.Length).OrderBy(i => logits[i]).ThenBy(i => i).ToArray();
        ulong cumulative = 0;
        for (int s = 0; s < ascending.Length - 1; s++)
        {
            cumulative += weights[ascending[s]];
            if (cumulative <= threshold) w[ascending[s]] = 0;
        }
        return w;
    }

    public static TheoryData<string, float> Rows() => new()
    {
        { "spread", 0.9f }, { "spread", 0.5f }, { "spread", 0.05f },
        { "quarter steps", 0.5f }, { "quarter steps", 0.8f }, { "quarter steps", 1e-7f },
        { "bucket edges", 0.7f }, { "equal", 0.5f }, { "equal", 0.3f }, { "equal", 2e-8f },
        { "two infinities", 0.5f }, { "wide", 0.999f },
    };

    private static float[] Row(string kind, Random rng) => kind switch
    {
        "spread" => SamplingData.Logits(rng, 5000, 3, ties: true),
        "quarter steps" => Enumerable.Range(0, 3000).Select(_ => rng.Next(-60, 1) / 4f).ToArray(),
        // Values a hair either side of bucket boundaries d = -n·28/1024.
        "bucket edges" => Enumerable.Range(0, 3000).Select(i => -(i % 40) * (28f / 1024f) + (i % 3 - 1) * 1e-6f).ToArray(),
        "equal" => new float[64],
        "two infinities" => [1f, float.PositiveInfinity, -2f, float.PositiveInfinity, 0f],
        "wide" => Enumerable.Range(0, 4000).Select(_ => (float)(rng.NextDouble() * -40)).ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Bucketed_top_p_removes_exactly_what_a_full_sort_removes(string kind, float topP)
    {
        float[] logits = Row(kind, new Random(kind.Length));
        var weights = new ulong[logits.Length];
        ulong total = FixedPointSoftmax.Compute(logits, weights);
        ulong[] expected = NaiveTopP(logits, weights, topP);
        ulong[] before = (ulong[])weights.Clone();

        ulong kept = LogitProcessors.ApplyTopP(logits, weights, total, topP);

        Assert.Equal(expected, weights);
        Assert.Equal(expected.Aggregate(0UL, (a, b) => a + b), kept);
        Assert.True(expected.Count(w => w != 0) >= 1);
        for (int i = 0; i < logits.Length; i++) // a removed token is -inf in the processed row, as HF's filter_value
            if (before[i] != 0 && expected[i] == 0) Assert.Equal(float.NegativeInfinity, logits[i]);
    }
}
