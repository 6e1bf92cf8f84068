using Owl3Native.Engine.Sampling;

namespace Owl3Native.Tests.Sampling;

/// <summary>
/// Scalar slow twin of <see cref="Sampler"/>, written straight from transformers: the processors in float32 as HF
/// runs them (RepetitionPenalty, Temperature, TopK, TopP), full stable sorts, softmax and cumulative sums in double.
/// It shares only Philox (pinned by its known answers) and the documented key/counter layout with production.
/// </summary>
internal static class ReferenceSampler
{
    public static int Sample(float[] logits, int[] previousTokens, SamplingParams p, ulong sequenceId, int step)
    {
        float[] scores = Process(logits, previousTokens, p);
        if (p.Temperature == 0f) return ArgMax(scores);
        double[] probs = Softmax(scores);

        // u = (x0 >> 8)·2^-24 with Philox key = Seed, counter = (step, 0, lo32(sequenceId), hi32(sequenceId)).
        float u = Philox.ToUniformFloat(Philox.Generate((uint)step, 0u, (uint)sequenceId, (uint)(sequenceId >> 32),
                                                         (uint)p.Seed, (uint)(p.Seed >> 32)).X0);
        double target = u * probs.Sum(), cumulative = 0;
        int last = -1;
        for (int i = 0; i < probs.Length; i++)
        {
            if (probs[i] == 0) continue;
            cumulative += probs[i];
            if (cumulative > target) return i;
            last = i;
        }
        return last;
    }

    /// <summary>Token ids that can still be drawn after every processor (greedy: the argmax alone).</summary>
    public static HashSet<int> Kept(float[] logits, int[] previousTokens, SamplingParams p)
    {
        float[] scores = Process(logits, previousTokens, p);
        if (p.Temperature == 0f) return [ArgMax(scores)];
        return [.. Enumerable.Range(0, scores.Length).Where(i => scores[i] != float.NegativeInfinity)];
    }

    /// <summary>The HF processor chain; returns the scores that softmax would see (greedy: after the penalty).</summary>
    public static float[] Process(float[] logits, int[] previousTokens, SamplingParams p)
    {
        float[] x = logits.Select(v => float.IsNaN(v) ? float.NegativeInfinity : v).ToArray();
        foreach (int t in previousTokens.Distinct())
            x[t] = x[t] < 0 ? x[t] * p.RepetitionPenalty : x[t] / p.RepetitionPenalty;
        if (p.Temperature == 0f) return x;

        for (int i = 0; i < x.Length; i++) x[i] /= p.Temperature;

        if (p.TopK > 0)
        {
            int k = Math.Min(p.TopK, x.Length);
            float kth = x.OrderByDescending(v => v).ElementAt(k - 1);
            for (int i = 0; i < x.Length; i++) if (x[i] < kth) x[i] = float.NegativeInfinity;
        }

        if (p.TopP < 1f)
        {
            int[] ascending = Enumerable.Range(0, x.Length).OrderBy(i => x[i]).ToArray(); // stable: ties by id
            double[] probs = Softmax(x);
            double removeAtOrBelow = 1f - p.TopP, cumulative = 0;
            for (int s = 0; s < ascending.Length - 1; s++) // the last (largest) always stays
            {
                cumulative += probs[ascending[s]];
                if (cumulative <= removeAtOrBelow) x[ascending[s]] = float.NegativeInfinity;
            }
        }
        return x;
    }

    private static double[] Softmax(float[] x)
    {
        float max = x.Max();
        if (max == float.NegativeInfinity) throw new InvalidOperationException("reference: every logit is -inf");
        double[] e = x.Select(v => Math.Exp((double)v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private static int ArgMax(float[] x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        if (x[best] == float.NegativeInfinity) throw new InvalidOperationException("reference: every logit is -inf");
        return best;
    }
}
