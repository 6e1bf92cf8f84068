using Owl3Native.Engine.Sampling;
using Xunit;

namespace Owl3Native.Tests.Sampling;

public sealed class SamplerTests
{
    private static int Sample(float[] logits, SamplingParams p, int step = 0, ulong sequenceId = 0, int[]? previous = null) =>
        Sampler.Sample((float[])logits.Clone(), previous ?? [], p, sequenceId, step);

    [Theory]
    [InlineData(new[] { 1f, 3f, 3f, 2f }, 1)]                     // ties go to the lowest id, like torch.argmax
    [InlineData(new[] { 0.5f, 0.5f, 0.5f }, 0)]
    [InlineData(new[] { float.NaN, 1f, float.NaN, 0.5f }, 1)]     // NaN is -inf, not a maximum
    [InlineData(new[] { float.NegativeInfinity, -1e30f }, 1)]
    [InlineData(new[] { 7f, float.PositiveInfinity, float.PositiveInfinity }, 1)]
    public void Greedy_is_argmax_with_ties_to_the_lowest_id(float[] logits, int expected)
    {
        for (int step = 0; step < 5; step++)
            Assert.Equal(expected, Sample(logits, SamplingParams.Greedy with { Seed = (ulong)step }, step));
    }

    [Fact]
    public void Greedy_skips_top_k_and_top_p_like_hf_without_do_sample()
    {
        // With do_sample=False HF runs no warpers; top-p would keep id 2 of the tied maxima (the later in sort order).
        var p = new SamplingParams(temperature: 0f, topK: 1, topP: 1e-6f);
        Assert.Equal(1, Sample([0f, 5f, 5f], p));
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_logits_once_per_distinct_token()
    {
        float[] logits = [2f, -2f, 1f, 0.5f, 3f];
        int[] previous = [0, 1, 1, 3, 0];            // 0 and 1 repeat: penalised once, as HF's gather/scatter does

        int token = Sampler.Sample(logits, previous, new SamplingParams(temperature: 0f, repetitionPenalty: 2f), 0, 0);

        Assert.Equal([1f, -4f, 1f, 0.25f, 3f], logits); // greedy leaves the penalised row in place
        Assert.Equal(4, token);
    }

    [Theory]
    [InlineData(new[] { 3f, 2.5f }, 1.5f, 1)]    // 3 / 1.5 = 2 < 2.5
    [InlineData(new[] { -1f, -1.5f }, 2f, 1)]    // -1 * 2 = -2 < -1.5
    [InlineData(new[] { 1f, 2f }, 0.25f, 0)]     // a penalty below 1 boosts: 1 / 0.25 = 4 > 2
    [InlineData(new[] { 3f, 2.5f }, 1f, 0)]      // 1 is off
    public void Repetition_penalty_can_change_the_greedy_choice(float[] logits, float penalty, int expected)
    {
        Assert.Equal(expected, Sample(logits, new SamplingParams(temperature: 0f, repetitionPenalty: penalty), previous: [0]));
    }

    [Fact]
    public void Top_k_of_one_is_greedy_for_any_seed_and_step()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 200; trial++)
        {
            float[] logits = SamplingData.Logits(rng, 1000, 3);
            int[] previous = SamplingData.History(rng, 1000, 30);
            var p = new SamplingParams(temperature: 0.8f, topK: 1, repetitionPenalty: 1.2f, seed: (ulong)rng.NextInt64());
            int greedy = Sample(logits, p with { Temperature = 0f }, previous: previous);
            Assert.Equal(greedy, Sample(logits, p, step: trial, previous: previous));
        }
    }

    [Fact]
    public void Tiny_top_p_is_greedy_for_any_seed_and_step()
    {
        var rng = new Random(12);
        for (int trial = 0; trial < 200; trial++)
        {
            float[] logits = SamplingData.Logits(rng, 1000, 0.5);   // flat: many tokens would otherwise be drawn
            var p = new SamplingParams(temperature: 1.3f, topP: 1e-6f, seed: (ulong)rng.NextInt64());
            Assert.Equal(SamplingData.ArgMax(logits), Sample(logits, p, step: trial, sequenceId: (ulong)trial));
        }
    }

    [Fact]
    public void Same_seed_sequence_and_step_give_the_same_token()
    {
        float[] logits = SamplingData.Logits(new Random(13), 500, 1);
        var p = new SamplingParams(seed: 99);
        for (int step = 0; step < 50; step++)
        {
            int first = Sample(logits, p, step, sequenceId: 3);
            for (int again = 0; again < 3; again++) Assert.Equal(first, Sample(logits, p, step, sequenceId: 3));
        }
    }

    [Fact]
    public void Steps_sequences_and_seeds_each_give_independent_token_streams()
    {
        float[] flat = new float[50]; // uniform over 50 tokens: two independent streams agree about 1 time in 50
        int[] Stream(ulong seed, ulong sequenceId) =>
            Enumerable.Range(0, 200).Select(step => Sample(flat, new SamplingParams(seed: seed), step, sequenceId)).ToArray();

        int[] baseline = Stream(1, 0);
        Assert.True(baseline.Distinct().Count() >= 40, "the steps of one stream should cover most tokens");
        foreach (int[] other in new[] { Stream(2, 0), Stream(1, 1), Stream(1, 1UL << 32) })
        {
            int agree = baseline.Zip(other).Count(pair => pair.First == pair.Second);
            Assert.InRange(agree, 0, 15); // expected 4; independent streams, not shifted copies
        }
    }

    [Fact]
    public void Draw_uses_the_documented_key_and_counter_layout()
    {
        // Two equal logits: token 1 exactly when u ≥ 1/2, with u from the layout written out word by word here.
        ulong seed = 0x0123_4567_89AB_CDEF, sequenceId = 0xFEDC_BA98_7654_3210;
        for (int step = 0; step < 200; step++)
        {
            uint x0 = Philox.Generate((uint)step, 0u, 0x7654_3210u, 0xFEDC_BA98u, 0x89AB_CDEFu, 0x0123_4567u).X0;
            int expected = Philox.ToUniformFloat(x0) >= 0.5f ? 1 : 0;
            Assert.Equal(expected, Sample([0f, 0f], new SamplingParams(seed: seed), step, sequenceId));
        }
    }

    [Theory]
    [InlineData(new ulong[] { 1, 1 }, (1u << 23) - 1, 0)]  // target = floor(u·W) = 0: cumulative 1 > 0 at id 0
    [InlineData(new ulong[] { 1, 1 }, 1u << 23, 1)]        // u = 1/2, target = 1: strictly greater first at id 1
    [InlineData(new ulong[] { 0, 5, 0, 3 }, 0u, 1)]        // u = 0 never lands on a weight-0 id
    [InlineData(new ulong[] { 0, 5, 0, 3, 0 }, (1u << 24) - 1, 3)] // the largest u ends on the last kept id
    public void Inverse_cdf_takes_the_first_id_whose_cumulative_weight_exceeds_u_times_the_total(ulong[] weights, uint j, int expected)
    {
        Assert.Equal(expected, Sampler.Draw(weights, (ulong)weights.Sum(w => (long)w), j));
    }

    [Fact]
    public void The_last_vocabulary_row_can_be_drawn()
    {
        // Qwen2's lm_head has 151936 rows, more than the tokenizer's ids; the sampler must not truncate.
        var logits = new float[151_936];
        logits[^1] = 40f;
        Assert.Equal(151_935, Sample(logits, new SamplingParams(seed: 5)));
    }

    [Fact]
    public void Nan_is_never_sampled()
    {
        float[] logits = [float.NaN, 0f, float.NaN, -1f, float.NaN];
        var seen = new HashSet<int>();
        for (int step = 0; step < 2000; step++)
            seen.Add(Sample(logits, new SamplingParams(temperature: 2f, seed: 8), step));
        Assert.Equal([1, 3], seen.Order());
    }

    [Fact]
    public void Positive_infinity_takes_all_the_mass()
    {
        for (int step = 0; step < 200; step++)
            Assert.Equal(1, Sample([0f, float.PositiveInfinity, 5f], new SamplingParams(seed: 4), step));
        var seen = Enumerable.Range(0, 200).Select(s => Sample([float.PositiveInfinity, 1f, float.PositiveInfinity], new SamplingParams(), s));
        Assert.Equal([0, 2], seen.Distinct().Order());
    }

    public static TheoryData<float[], float> NoFiniteLogit => new()
    {
        { [float.NaN, float.NaN], 0f },
        { [float.NaN, float.NaN], 1f },
        { [float.NegativeInfinity, float.NaN, float.NegativeInfinity], 0f },
        { [float.NegativeInfinity, float.NaN, float.NegativeInfinity], 0.7f },
        { [-3e38f, -3e38f], 1e-3f },   // temperature overflows every logit to -inf
    };

    [Theory]
    [MemberData(nameof(NoFiniteLogit))]
    public void No_finite_logit_throws(float[] logits, float temperature)
    {
        var e = Assert.Throws<InvalidOperationException>(() => Sample(logits, new SamplingParams(temperature: temperature)));
        Assert.Contains("no token to sample", e.Message);
    }

    [Fact]
    public void Invalid_arguments_throw_before_anything_is_modified()
    {
        float[] logits = [float.NaN, 1f, 2f];
        var p = new SamplingParams(repetitionPenalty: 2f);
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampler.Sample(logits, [1, 3], p, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampler.Sample(logits, [-1], p, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampler.Sample(logits, [1], p, 0, -1));
        Assert.Throws<ArgumentNullException>(() => Sampler.Sample(logits, [1], null!, 0, 0));
        Assert.Throws<ArgumentException>(() => Sampler.Sample(Span<float>.Empty, [], p, 0, 0));
        Assert.Equal([float.NaN, 1f, 2f], logits);
    }
}
