using System.Buffers;

namespace Owl3Native.Engine.Sampling;

/// <summary>
/// The HuggingFace logits processors used by sampling, in float32 and in place on one row of logits (shape [vocab]).
/// Each mirrors its transformers class; removed tokens become -inf like HF's <c>filter_value</c>.
/// </summary>
internal static class LogitProcessors
{
    /// <summary>NaN is never sampled: it becomes -inf, so it is neither a maximum nor a candidate.</summary>
    public static void ReplaceNaN(Span<float> logits)
    {
        for (int i = 0; i < logits.Length; i++)
            if (float.IsNaN(logits[i])) logits[i] = float.NegativeInfinity;
    }

    /// <summary>
    /// RepetitionPenaltyLogitsProcessor: gather the logits of <paramref name="previousTokens"/>, penalise, scatter back.
    /// Gathering first means a token that occurs many times is penalised once, as in HF.
    /// </summary>
    public static void ApplyRepetitionPenalty(Span<float> logits, ReadOnlySpan<int> previousTokens, float penalty)
    {
        if (penalty == 1f || previousTokens.IsEmpty) return; // x * 1 and x / 1 are exact: skipping changes nothing
        float[] rented = ArrayPool<float>.Shared.Rent(previousTokens.Length);
        try
        {
            Span<float> gathered = rented.AsSpan(0, previousTokens.Length);
            for (int i = 0; i < previousTokens.Length; i++)
            {
                float x = logits[previousTokens[i]];
                gathered[i] = x < 0f ? x * penalty : x / penalty;
            }
            for (int i = 0; i < previousTokens.Length; i++) logits[previousTokens[i]] = gathered[i];
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>TemperatureLogitsWarper: <c>x / T</c>, an IEEE division (not a multiply by 1/T) as in HF.</summary>
    public static void ApplyTemperature(Span<float> logits, float temperature)
    {
        for (int i = 0; i < logits.Length; i++) logits[i] /= temperature;
    }

    /// <summary>
    /// TopKLogitsWarper: remove <c>x &lt; kth</c>, where kth is the k-th largest value counting duplicates, so ties
    /// with the k-th value stay. A size-k min-heap finds kth in O(vocab log k).
    /// </summary>
    public static void ApplyTopK(Span<float> logits, int topK)
    {
        if (topK == 0 || topK >= logits.Length) return;
        float kth = KthLargest(logits, topK);
        for (int i = 0; i < logits.Length; i++)
            if (logits[i] < kth) logits[i] = float.NegativeInfinity;
    }

    /// <summary>
    /// TopPLogitsWarper on fixed-point weights. In ascending (logit, token id) order, a token is removed while the
    /// inclusive cumulative weight is ≤ (1 - topP)·total; the last (largest) token always stays (min_tokens_to_keep = 1).
    /// The comparison is exact: with T = (1 - topP)·2^24 (an integer, as every 1f - topP is a multiple of 2^-24),
    /// cum/total ≤ T/2^24 ⇔ cum ≤ floor(T·total / 2^24). Zero-weight tokens add nothing to any prefix and can
    /// never be drawn, so only positive weights are sorted. Returns the new total.
    /// </summary>
    public static ulong ApplyTopP(Span<float> logits, Span<ulong> weights, ulong total, float topP)
    {
        if (topP >= 1f) return total;
        ulong threshold = Sampler.MulFraction24((ulong)((1f - topP) * (1 << Philox.UniformBits)), total);

        int candidates = 0;
        foreach (ulong w in weights) if (w != 0) candidates++;
        ulong[] rented = ArrayPool<ulong>.Shared.Rent(candidates);
        try
        {
            Span<ulong> keys = rented.AsSpan(0, candidates); // (order-preserving logit bits << 32) | token id
            for (int i = 0, c = 0; i < weights.Length; i++)
                if (weights[i] != 0) keys[c++] = ((ulong)OrderedBits(logits[i]) << 32) | (uint)i;
            keys.Sort();

            ulong cumulative = 0, removed = 0;
            for (int s = 0; s < keys.Length - 1; s++)
            {
                int token = (int)(uint)keys[s];
                cumulative += weights[token];
                if (cumulative > threshold) break;
                removed += weights[token];
                weights[token] = 0;
                logits[token] = float.NegativeInfinity;
            }
            return total - removed;
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(rented);
        }
    }

    /// <summary>k-th largest value of <paramref name="values"/> (1 ≤ k ≤ length), duplicates counted.</summary>
    internal static float KthLargest(ReadOnlySpan<float> values, int k)
    {
        float[] rented = ArrayPool<float>.Shared.Rent(k);
        try
        {
            Span<float> heap = rented.AsSpan(0, k); // min-heap of the k largest seen so far; heap[0] is the k-th
            values[..k].CopyTo(heap);
            for (int i = k / 2 - 1; i >= 0; i--) SiftDown(heap, i);
            foreach (float x in values[k..])
            {
                if (x <= heap[0]) continue;
                heap[0] = x;
                SiftDown(heap, 0);
            }
            return heap[0];
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    private static void SiftDown(Span<float> heap, int i)
    {
        while (true)
        {
            int smallest = i, left = 2 * i + 1, right = left + 1;
            if (left < heap.Length && heap[left] < heap[smallest]) smallest = left;
            if (right < heap.Length && heap[right] < heap[smallest]) smallest = right;
            if (smallest == i) return;
            (heap[i], heap[smallest]) = (heap[smallest], heap[i]);
            i = smallest;
        }
    }

    /// <summary>Maps a float to a uint with the same order (-0 and +0 equal, as float comparison has them).</summary>
    internal static uint OrderedBits(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x == 0f ? 0f : x);
        return (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
    }
}
