using System.Buffers;

namespace Owl3Native.Engine.Sampling;

/// <summary>
/// The HuggingFace logits processors used by sampling, in float32 and in place on one row of logits (shape [vocab]).
/// Each mirrors its transformers class; removed tokens become -inf like HF's <c>filter_value</c>.
/// </summary>
internal static partial class LogitProcessors
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
    /// with the k-th value stay. kth comes from an O(vocab) radix select, as in torch.topk's CUDA kernel.
    /// </summary>
    public static void ApplyTopK(Span<float> logits, int topK)
    {
        if (topK == 0 || topK >= logits.Length) return;
        float kth = KthLargest(logits, topK);
        for (int i = 0; i < logits.Length; i++)
            if (logits[i] < kth) logits[i] = float.NegativeInfinity;
    }

    /// <summary>k-th largest value of <paramref name="values"/> (1 ≤ k ≤ length, no NaN), duplicates counted.</summary>
    internal static float KthLargest(ReadOnlySpan<float> values, int k)
    {
        // Radix select on order-preserving keys, most significant byte first: each pass counts one byte of the keys
        // that share the bytes fixed so far, picks the byte holding the k-th largest and keeps only those keys.
        uint[] rented = ArrayPool<uint>.Shared.Rent(values.Length);
        try
        {
            Span<uint> keys = rented.AsSpan(0, values.Length);
            for (int i = 0; i < values.Length; i++) keys[i] = OrderedBits(values[i]);
            Span<int> counts = stackalloc int[256];
            uint prefix = 0;
            for (int shift = 24; ; shift -= 8)
            {
                counts.Clear();
                foreach (uint key in keys) counts[(int)(key >> shift) & 0xFF]++;
                int digit = 255;
                for (; digit > 0 && counts[digit] < k; digit--) k -= counts[digit];
                prefix |= (uint)digit << shift;
                if (shift == 0) return FromOrderedBits(prefix);

                int kept = 0;
                foreach (uint key in keys) if (((int)(key >> shift) & 0xFF) == digit) keys[kept++] = key;
                keys = keys[..kept];
            }
        }
        finally
        {
            ArrayPool<uint>.Shared.Return(rented);
        }
    }

    /// <summary>Maps a float to a uint with the same order (-0 and +0 equal, as float comparison has them).</summary>
    internal static uint OrderedBits(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x + 0f);         // -0 + 0 = +0 in IEEE round-to-nearest
        return bits ^ ((uint)((int)bits >> 31) | 0x8000_0000u);      // negative: flip all bits; positive: flip the sign
    }

    private static float FromOrderedBits(uint key) =>
        BitConverter.UInt32BitsToSingle((key & 0x8000_0000u) != 0 ? key & 0x7FFF_FFFFu : ~key);
}
