using Owl3Native.Engine.Sampling;
using Xunit;

namespace Owl3Native.Tests.Sampling;

public sealed class SamplerReferenceTests
{
    public static TheoryData<float, int, float, float> Settings()
    {
        var data = new TheoryData<float, int, float, float>();
        foreach (float temperature in new[] { 0f, 0.5f, 1f, 1.7f })
            foreach (int topK in new[] { 0, 1, 7, 64 })
                foreach (float topP in new[] { 1f, 0.95f, 0.6f, 1e-6f })
                    foreach (float penalty in new[] { 1f, 1.3f, 0.7f })
                        data.Add(temperature, topK, topP, penalty);
        return data;
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void Picks_the_same_token_as_the_naive_hf_pipeline(float temperature, int topK, float topP, float penalty)
    {
        var rng = new Random(HashCode.Combine(temperature, topK, topP, penalty) & 0x7FFFFFFF);
        var mismatches = new List<string>();
        for (int trial = 0; trial < 80; trial++)
        {
            int vocab = trial % 8 == 0 ? 1 + rng.Next(4) : 5 + rng.Next(1000);
            float[] logits = SamplingData.Logits(rng, vocab, sigma: new[] { 0.3, 2, 6 }[trial % 3], ties: trial % 2 == 1);
            if (trial % 5 == 0) logits[rng.Next(vocab)] = float.NaN;
            if (trial % 7 == 0) logits[rng.Next(vocab)] = float.NegativeInfinity;
            if (logits.All(v => !float.IsFinite(v))) logits[0] = 0f;
            int[] previous = SamplingData.History(rng, vocab, rng.Next(40));
            var p = new SamplingParams(temperature, topK, topP, penalty, seed: (ulong)rng.NextInt64());
            ulong sequenceId = (ulong)rng.NextInt64();
            int step = rng.Next(100_000);

            int expected = ReferenceSampler.Sample(logits, previous, p, sequenceId, step);
            int actual = Sampler.Sample((float[])logits.Clone(), previous, p, sequenceId, step);
            if (actual != expected) mismatches.Add($"trial {trial}: vocab {vocab}, step {step}: expected {expected}, got {actual}");
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Fact]
    public void Picks_the_same_token_as_the_naive_hf_pipeline_at_full_vocab()
    {
        var rng = new Random(151_936);
        float[] logits = SamplingData.Logits(rng, 151_936, 4, ties: true);
        int[] previous = SamplingData.History(rng, 151_936, 2000);
        foreach (var p in new[]
        {
            new SamplingParams(temperature: 0.7f, topK: 20, topP: 0.8f, repetitionPenalty: 1.05f), // Owl3's generation_config
            new SamplingParams(temperature: 1f),
            new SamplingParams(temperature: 1.5f, topP: 0.95f),
            new SamplingParams(temperature: 0.3f, topK: 50_000, repetitionPenalty: 1.1f),
        })
        {
            for (int step = 0; step < 8; step++)
                Assert.Equal(ReferenceSampler.Sample(logits, previous, p, 1, step),
                             Sampler.Sample((float[])logits.Clone(), previous, p, 1, step));
        }
    }

    [Fact]
    public void Processed_row_equals_the_reference_scores()
    {
        var rng = new Random(5);
        float[] logits = SamplingData.Logits(rng, 300, 2, ties: true);
        int[] previous = SamplingData.History(rng, 300, 50);
        var p = new SamplingParams(temperature: 0.9f, topK: 40, topP: 0.85f, repetitionPenalty: 1.2f);
        float[] row = (float[])logits.Clone();
        Sampler.Sample(row, previous, p, 0, 0);
        Assert.Equal(ReferenceSampler.Process(logits, previous, p), row);
    }
}
