using Owl3Native.Engine.Sampling;
using Xunit;

namespace Owl3Native.Tests.Sampling;

public sealed class SamplerDistributionTests
{
    private const int Draws = 20_000;
    private static readonly double[] Probabilities = [0.4, 0.25, 0.2, 0.1, 0.05];
    private static readonly float[] LogProbabilities = Probabilities.Select(q => (float)Math.Log(q)).ToArray();

    // Chi-square critical value for 4 degrees of freedom at alpha = 0.001 (NIST/SEMATECH table).
    private const double ChiSquare4Dof = 18.467;

    private static int[] Counts(float[] logits, SamplingParams p)
    {
        var counts = new int[logits.Length];
        for (int step = 0; step < Draws; step++)
            counts[Sampler.Sample((float[])logits.Clone(), [], p, sequenceId: 17, step)]++;
        return counts;
    }

    /// <summary>Pearson's statistic over the categories with nonzero expected probability.</summary>
    private static double ChiSquare(int[] counts, double[] expected)
    {
        double n = counts.Sum(), chi = 0;
        for (int i = 0; i < counts.Length; i++)
            if (expected[i] > 0) chi += Math.Pow(counts[i] - n * expected[i], 2) / (n * expected[i]);
        return chi;
    }

    private static double[] Normalised(IEnumerable<double> weights)
    {
        double[] w = weights.ToArray();
        return w.Select(v => v / w.Sum()).ToArray();
    }

    [Fact]
    public void Frequencies_match_softmax_of_the_logits()
    {
        int[] counts = Counts(LogProbabilities, new SamplingParams(seed: 2024));
        Assert.True(ChiSquare(counts, Probabilities) < ChiSquare4Dof, $"counts {string.Join(", ", counts)}");

        // The test has power: the same counts are rejected against a reversed or a flat distribution.
        Assert.True(ChiSquare(counts, Probabilities.Reverse().ToArray()) > 1000);
        Assert.True(ChiSquare(counts, Normalised(Probabilities.Select(_ => 1.0))) > 1000);
    }

    [Fact]
    public void Temperature_two_samples_the_square_root_distribution()
    {
        int[] counts = Counts(LogProbabilities, new SamplingParams(temperature: 2f, seed: 7));
        double[] expected = Normalised(Probabilities.Select(Math.Sqrt));
        Assert.True(ChiSquare(counts, expected) < ChiSquare4Dof, $"counts {string.Join(", ", counts)}");
        Assert.True(ChiSquare(counts, Probabilities) > 1000); // temperature 1 would not pass
    }

    [Fact]
    public void Top_k_renormalises_over_the_k_largest()
    {
        int[] counts = Counts(LogProbabilities, new SamplingParams(topK: 2, seed: 8));
        Assert.Equal([0, 0, 0], counts[2..]);
        Assert.True(ChiSquare(counts, Normalised([0.4, 0.25, 0, 0, 0])) < 10.83); // 1 dof, alpha = 0.001
    }

    [Fact]
    public void Top_p_removes_the_tail_up_to_one_minus_p_and_renormalises()
    {
        // Ascending cumulative: 0.05, 0.15, 0.35, 0.60, 1.0. With top_p 0.7, cumulative ≤ 0.3 goes: ids 4 and 3.
        int[] counts = Counts(LogProbabilities, new SamplingParams(topP: 0.7f, seed: 9));
        Assert.Equal([0, 0], counts[3..]);
        Assert.True(ChiSquare(counts, Normalised([0.4, 0.25, 0.2, 0, 0])) < 13.82); // 2 dof, alpha = 0.001
    }

    [Fact]
    public void Top_k_and_top_p_never_return_a_removed_token()
    {
        var rng = new Random(21);
        for (int trial = 0; trial < 6; trial++)
        {
            float[] logits = SamplingData.Logits(rng, 200, 2, ties: true);
            int[] previous = SamplingData.History(rng, 200, 20);
            var (topK, topP) = new[] { (10, 1f), (0, 0.6f), (25, 0.7f) }[trial % 3];
            var p = new SamplingParams(temperature: 1.1f, topK: topK, topP: topP, repetitionPenalty: 1.3f, seed: (ulong)trial);
            HashSet<int> kept = ReferenceSampler.Kept(logits, previous, p);
            Assert.InRange(kept.Count, 2, 60);
            var seen = new HashSet<int>();
            for (int step = 0; step < 5000; step++)
            {
                int token = Sampler.Sample((float[])logits.Clone(), previous, p, 0, step);
                Assert.Contains(token, kept);
                seen.Add(token);
            }
            Assert.True(seen.Count >= 2, "the filter should leave a real choice");
        }
    }

    [Fact]
    public void Top_k_keeps_every_tie_with_the_kth_value()
    {
        float[] logits = [1f, 2f, 2f, 2f, 0f];
        int[] counts = Counts(logits, new SamplingParams(topK: 2, seed: 3));
        Assert.Equal(0, counts[0] + counts[4]);
        Assert.All(counts[1..4], c => Assert.InRange(c, Draws / 3 - 600, Draws / 3 + 600));
    }

    [Fact]
    public void Top_p_breaks_ties_by_token_id_in_ascending_order()
    {
        // Four equal tokens in ascending (logit, id) order 0, 1, 2, 3: cumulative 0.25 and 0.5 are ≤ 1 - 0.5, so ids 0 and 1 go.
        int[] counts = Counts([0f, 0f, 0f, 0f], new SamplingParams(topP: 0.5f, seed: 6));
        Assert.Equal(0, counts[0] + counts[1]);
        Assert.All(counts[2..], c => Assert.InRange(c, Draws / 2 - 600, Draws / 2 + 600));
    }
}
