using System.Runtime.CompilerServices;

namespace Owl3Native.Models.Checkpoints;

/// <summary>
/// Counter-based uniform numbers (SplitMix64 finaliser over seed ⊕ stream ⊕ index): element i of a stream is
/// independent of how many elements were drawn before, so tensors can be filled in chunks or in parallel
/// and still be reproducible from the seed alone.
/// </summary>
internal static class DeterministicRandom
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A stream key from a seed and a name (FNV-1a of the name, mixed).</summary>
    public static ulong StreamKey(ulong seed, string name)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in name) h = (h ^ c) * 1099511628211UL;
        return Mix(seed * 0x9E3779B97F4A7C15UL ^ h);
    }

    /// <summary>Uniform in [-1, 1) for element <paramref name="index"/> of stream <paramref name="key"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Uniform(ulong key, long index) =>
        (Mix(key + (ulong)index * 0x9E3779B97F4A7C15UL) >> 40) * (2.0f / (1 << 24)) - 1.0f;
}
