namespace Owl3Native.Engine.Sampling;

/// <summary>
/// Philox-4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC 2011), with the constants of
/// Random123, cuRAND and PyTorch. It is a pure function of (counter, key), so the CPU sampler and a CUDA kernel
/// draw identical numbers without carrying generator state between steps.
/// </summary>
public static class Philox
{
    // Round multipliers and Weyl key increments (golden ratio, sqrt(3) - 1), Random123 philox.h.
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    private const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85;
    private const int Rounds = 10;

    /// <summary>Number of random bits in <see cref="ToUniformFloat"/>: a float's 24-bit significand.</summary>
    public const int UniformBits = 24;

    /// <summary>
    /// One Philox-4x32-10 block from 64-bit halves: key words (k0, k1) = (lo32(key), hi32(key)) and counter words
    /// (c0, c1, c2, c3) = (lo32(counterLo), hi32(counterLo), lo32(counterHi), hi32(counterHi)).
    /// </summary>
    /// <param name="key">The 64-bit key, e.g. the sampling seed.</param>
    /// <param name="counterHi">High 64 bits of the 128-bit counter (words c2, c3).</param>
    /// <param name="counterLo">Low 64 bits of the 128-bit counter (words c0, c1).</param>
    /// <returns>The four output words, in Random123's order.</returns>
    public static (uint X0, uint X1, uint X2, uint X3) Generate(ulong key, ulong counterHi, ulong counterLo) =>
        Generate((uint)counterLo, (uint)(counterLo >> 32), (uint)counterHi, (uint)(counterHi >> 32),
                 (uint)key, (uint)(key >> 32));

    /// <summary>One Philox-4x32-10 block from 32-bit words, laid out exactly as Random123's <c>philox4x32(ctr, key)</c>.</summary>
    /// <param name="c0">Counter word 0.</param>
    /// <param name="c1">Counter word 1.</param>
    /// <param name="c2">Counter word 2.</param>
    /// <param name="c3">Counter word 3.</param>
    /// <param name="k0">Key word 0.</param>
    /// <param name="k1">Key word 1.</param>
    /// <returns>The four output words.</returns>
    public static (uint X0, uint X1, uint X2, uint X3) Generate(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        unchecked // all arithmetic is mod 2^32 by definition
        {
            for (int round = 0; round < Rounds; round++)
            {
                if (round > 0) { k0 += W0; k1 += W1; } // the key is bumped between rounds: 9 bumps for 10 rounds
                ulong p0 = (ulong)M0 * c0;
                ulong p1 = (ulong)M1 * c2;
                (c0, c1, c2, c3) = ((uint)(p1 >> 32) ^ c1 ^ k0, (uint)p1, (uint)(p0 >> 32) ^ c3 ^ k1, (uint)p0);
            }
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>
    /// Maps a random word to a float in [0, 1) as <c>(x &gt;&gt; 8) * 2^-24</c>: the top 24 bits become the
    /// significand, so every result is exact, the grid is uniform, and the largest value is 1 - 2^-24 (never 1).
    /// CUDA: <c>__uint2float_rn(x &gt;&gt; 8) * 0x1p-24f</c>, which is also exact.
    /// </summary>
    /// <param name="x">A uniformly distributed 32-bit word.</param>
    /// <returns>A multiple of 2^-24 in [0, 1).</returns>
    public static float ToUniformFloat(uint x) => (x >> (32 - UniformBits)) * (1f / (1 << UniformBits));
}
