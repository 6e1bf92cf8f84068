namespace Owl3Native.Tests.Sampling;

/// <summary>Seeded logits for sampler tests.</summary>
internal static class SamplingData
{
    /// <summary>Normal(0, sigma) logits; with <paramref name="ties"/>, about a tenth of the entries copy another entry.</summary>
    public static float[] Logits(Random rng, int vocab, double sigma, bool ties = false)
    {
        var x = new float[vocab];
        for (int i = 0; i < vocab; i++)
        {
            // Box-Muller; 1 - NextDouble() is in (0, 1] so the log is finite.
            double r = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())), theta = 2 * Math.PI * rng.NextDouble();
            x[i] = (float)(sigma * r * Math.Cos(theta));
        }
        if (ties)
            for (int t = 0; t < vocab / 10; t++) x[rng.Next(vocab)] = x[rng.Next(vocab)];
        return x;
    }

    /// <summary>A history of <paramref name="count"/> ids in [0, vocab), with repeats.</summary>
    public static int[] History(Random rng, int vocab, int count) =>
        Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();

    /// <summary>Index of the largest value, first on ties.</summary>
    public static int ArgMax(float[] x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
