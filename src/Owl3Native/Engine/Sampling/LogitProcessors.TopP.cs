using System.Buffers;

namespace Owl3Native.Engine.Sampling;

internal static partial class LogitProcessors
{
    // Histogram of the candidates by d = x - max ∈ [-28, 0] (weight 0 below), 1024 buckets of 28/1024 nats.
    private const int Buckets = 1024;
    private const float BucketsPerNat = Buckets / 28f;

    /// <summary>
    /// TopPLogitsWarper on fixed-point weights. In ascending (logit, token id) order, a token is removed while its
    /// inclusive cumulative weight is ≤ (1 - topP)·W; the last (largest) token always stays (min_tokens_to_keep = 1).
    /// The comparison is exact: with T = (1 - topP)·2^24, an integer because every 1f - topP is a multiple of
    /// 2^-24, cum/W ≤ T/2^24 ⇔ cum ≤ floor(T·W / 2^24). Returns the kept total.
    /// </summary>
    /// <remarks>
    /// Only one bucket is sorted: buckets are a monotone function of the logit, so every token of a bucket below the
    /// one where the bucket prefix sum first exceeds the threshold is removed, and every token above it is kept.
    /// Weight-0 tokens are skipped: they add nothing to any prefix and are never drawn. The rule, not this
    /// evaluation order, is the contract with the CUDA kernel.
    /// </remarks>
    public static ulong ApplyTopP(Span<float> logits, Span<ulong> weights, ulong total, float topP)
    {
        if (topP >= 1f) return total;
        ulong threshold = Sampler.MulFraction24((ulong)((1f - topP) * (1 << Philox.UniformBits)), total);

        float max = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++) if (weights[i] != 0) max = MathF.Max(max, logits[i]);

        Span<ulong> bucketSums = stackalloc ulong[Buckets];
        bucketSums.Clear();
        for (int i = 0; i < logits.Length; i++) if (weights[i] != 0) bucketSums[Bucket(logits[i], max)] += weights[i];

        int boundary = 0;
        ulong below = 0; // weight of the buckets under the boundary
        while (boundary < Buckets - 1 && below + bucketSums[boundary] <= threshold) below += bucketSums[boundary++];

        int inBoundary = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (weights[i] == 0) continue;
            int b = Bucket(logits[i], max);
            if (b == boundary) inBoundary++;
            else if (b < boundary) Remove(logits, weights, i);
        }
        return total - below - SortAndCut(logits, weights, max, boundary, inBoundary, below, threshold);
    }

    /// <summary>The boundary bucket in ascending (logit, id) order: remove while the cumulative weight stays ≤ threshold.</summary>
    private static ulong SortAndCut(Span<float> logits, Span<ulong> weights, float max, int boundary, int count,
                                    ulong cumulative, ulong threshold)
    {
        ulong[] rented = ArrayPool<ulong>.Shared.Rent(count);
        try
        {
            Span<ulong> keys = rented.AsSpan(0, count); // (order-preserving logit bits << 32) | token id
            for (int i = 0, c = 0; i < logits.Length; i++)
                if (weights[i] != 0 && Bucket(logits[i], max) == boundary) keys[c++] = ((ulong)OrderedBits(logits[i]) << 32) | (uint)i;
            keys.Sort();

            ulong removed = 0;
            // The top bucket holds the overall last token, which always stays.
            int removable = boundary == Buckets - 1 ? keys.Length - 1 : keys.Length;
            for (int s = 0; s < removable; s++)
            {
                int token = (int)(uint)keys[s];
                cumulative += weights[token];
                if (cumulative > threshold) break;
                removed += weights[token];
                Remove(logits, weights, token);
            }
            return removed;
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(rented);
        }
    }

    /// <summary>Monotone in x; the maximum (even +inf) lands in the top bucket.</summary>
    private static int Bucket(float x, float max) =>
        x == max ? Buckets - 1 : Math.Max(0, (int)((x - max) * BucketsPerNat) + Buckets - 1);

    private static void Remove(Span<float> logits, Span<ulong> weights, int token)
    {
        weights[token] = 0;
        logits[token] = float.NegativeInfinity;
    }
}
