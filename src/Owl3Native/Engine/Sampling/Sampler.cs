using System.Buffers;

namespace Owl3Native.Engine.Sampling;

/// <summary>
/// Picks the next token from one row of logits (shape [vocab]) with HuggingFace <c>generate</c> semantics and a
/// deterministic, stateless draw. This is the CPU reference of <c>kernels/sampling.cu</c>, which must choose the
/// same token for the same inputs: every step below is either IEEE float32 element-wise arithmetic or exact
/// integer arithmetic, so no result depends on summation order.
/// </summary>
/// <remarks>
/// Pipeline (HF processor order for sampling):
/// <list type="number">
/// <item>NaN logits become -inf (never chosen).</item>
/// <item>Repetition penalty over the distinct ids of <c>previousTokens</c> (prompt + generated):
/// <c>x &lt; 0 ? x * penalty : x / penalty</c>.</item>
/// <item>Temperature 0: argmax, ties to the lowest id (torch.argmax). Nothing below runs.</item>
/// <item>Temperature: <c>x / T</c>. Top-k: remove <c>x &lt; k-th largest</c>.</item>
/// <item>Weights <c>w_i = floor(exp(x_i - max)·2^40)</c> (<see cref="FixedPointSoftmax"/>), total W = Σ w_i.</item>
/// <item>Top-p on the weights in ascending (logit, id) order (<see cref="LogitProcessors.ApplyTopP"/>).</item>
/// <item>Draw, with the RNG mapping:
/// <code>
/// key     (k0, k1)         = (lo32(Seed), hi32(Seed))
/// counter (c0, c1, c2, c3) = ((uint)step, 0, lo32(sequenceId), hi32(sequenceId))
/// x0                       = Philox4x32-10(counter, key).X0      // X1..X3 unused
/// j = x0 &gt;&gt; 8,  u = j·2^-24 ∈ [0, 1)                       // Philox.ToUniformFloat(x0)
/// target = floor(j·W / 2^24) = floor(u·W)                      // exact: 128-bit product
/// token  = smallest kept id i, ascending, with w_0 + … + w_i &gt; target
/// </code>
/// i.e. <c>Philox.Generate(key: Seed, counterHi: sequenceId, counterLo: (ulong)step).X0</c>.</item>
/// </list>
/// The walk uses a strict "&gt;" so that a weight-0 token is never drawn (u = 0 would otherwise select it), which
/// makes P(i) = w_i / W up to u's 2^-24 grid. Because target ≤ W - 1 exactly, the walk always ends on a kept
/// token; the fallback to the last kept token only guards the invariant.
/// <para>Against transformers, only float32 rounding differs: HF rounds its softmax and cumsum, while here the
/// weights carry exp's few-ulp error and a 2^-40 floor (tokens below e^-27.7 of the maximum weigh 0) and every sum
/// is exact. The CUDA kernel reproduces the token when it evaluates the same float32 operations with IEEE rounding
/// (no fast-math, no flush-to-zero, no FMA contraction outside <see cref="FixedPointSoftmax"/>'s explicit ones) and
/// the same integer rules; how it orders sums, selects the k-th value or sorts is free.</para>
/// </remarks>
public static class Sampler
{
    /// <summary>Samples one token id from <paramref name="logits"/>.</summary>
    /// <param name="logits">One row of logits, all vocabulary rows (shape [vocab], vocab ≤ 2^23). Modified in place:
    /// on return it holds the processed scores (penalised, divided by the temperature, -inf where NaN or removed by
    /// top-k/top-p), like the scores HF passes to softmax; greedy stops after the penalty.</param>
    /// <param name="previousTokens">The whole sequence so far (prompt and generated ids), for the repetition penalty.
    /// Repeats are penalised once.</param>
    /// <param name="p">The sampling settings.</param>
    /// <param name="sequenceId">Counter words c2, c3 of the draw: distinct sequences draw independently.</param>
    /// <param name="step">Counter word c0 of the draw (≥ 0), normally the index of the token being generated.</param>
    /// <returns>A token id in [0, vocab).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="p"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> is empty or longer than 2^23.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A previous token is outside [0, vocab), or step is negative.
    /// Nothing has been modified when this is thrown.</exception>
    /// <exception cref="InvalidOperationException">Every logit is -inf or NaN (after penalty and temperature).</exception>
    public static int Sample(Span<float> logits, ReadOnlySpan<int> previousTokens, SamplingParams p, ulong sequenceId, int step)
    {
        ArgumentNullException.ThrowIfNull(p);
        Validate(logits.Length, previousTokens, step);

        LogitProcessors.ReplaceNaN(logits);
        LogitProcessors.ApplyRepetitionPenalty(logits, previousTokens, p.RepetitionPenalty);
        if (p.Temperature == 0f) return ArgMax(logits);
        LogitProcessors.ApplyTemperature(logits, p.Temperature);
        LogitProcessors.ApplyTopK(logits, p.TopK);

        ulong[] rented = ArrayPool<ulong>.Shared.Rent(logits.Length);
        try
        {
            Span<ulong> weights = rented.AsSpan(0, logits.Length);
            ulong total = FixedPointSoftmax.Compute(logits, weights);
            total = LogitProcessors.ApplyTopP(logits, weights, total, p.TopP);
            return Draw(weights, total, DrawBits(p.Seed, sequenceId, step));
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(rented);
        }
    }

    /// <summary>The 24-bit j of the draw (u = j·2^-24), from the documented key/counter layout.</summary>
    internal static uint DrawBits(ulong seed, ulong sequenceId, int step) =>
        Philox.Generate(key: seed, counterHi: sequenceId, counterLo: (ulong)step).X0 >> (32 - Philox.UniformBits);

    /// <summary>Inverse CDF over ascending token ids: the first id whose inclusive cumulative weight exceeds floor(u·W).</summary>
    internal static int Draw(ReadOnlySpan<ulong> weights, ulong total, uint j)
    {
        ulong target = MulFraction24(j, total);
        ulong cumulative = 0;
        int last = -1;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weights[i] == 0) continue;
            cumulative += weights[i];
            if (cumulative > target) return i;
            last = i;
        }
        return last; // unreachable: target < total = cumulative after the last kept token
    }

    /// <summary><c>floor(fraction24 · total / 2^24)</c> exactly (a 128-bit product; CUDA: __umul64hi).</summary>
    internal static ulong MulFraction24(ulong fraction24, ulong total) =>
        (ulong)(((UInt128)fraction24 * total) >> Philox.UniformBits);

    /// <summary>torch.argmax: the first index of the maximum; -inf (and NaN, already -inf) never wins.</summary>
    private static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = -1;
        float bestValue = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
            if (logits[i] > bestValue) (best, bestValue) = (i, logits[i]);
        return best >= 0 ? best : throw NoTokenLeft("after the repetition penalty");
    }

    internal static InvalidOperationException NoTokenLeft(string when) =>
        new($"Every logit is -inf or NaN {when}; there is no token to sample. Check the model output for overflow.");

    private static void Validate(int vocab, ReadOnlySpan<int> previousTokens, int step)
    {
        if (vocab == 0) throw new ArgumentException("The logits row is empty.", "logits");
        if (vocab > FixedPointSoftmax.MaxVocab)
            throw new ArgumentException($"vocab {vocab} exceeds {FixedPointSoftmax.MaxVocab}, the size whose 40-bit weights sum within 64 bits.", "logits");
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        foreach (int token in previousTokens)
            if ((uint)token >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(previousTokens), token, $"Previous token id {token} is outside the vocabulary [0, {vocab}).");
    }
}
