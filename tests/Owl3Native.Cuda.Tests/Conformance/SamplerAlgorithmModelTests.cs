using Owl3Native.Engine.Sampling;
using Xunit;

namespace Owl3Native.Cuda.Tests.Conformance;

/// <summary>
/// Without a GPU: a line-by-line C# model of sample_f32's top-p step (a weighted radix select over the 64-bit keys
/// (ordered logit bits &lt;&lt; 32 | id), 8 digits of 8 bits, finding the first key past the threshold) must remove
/// exactly the tokens the CPU sampler's bucket-and-sort top-p removes, on random rows with ties and zero weights.
/// </summary>
public sealed class SamplerAlgorithmModelTests
{
    [Fact]
    public void Kernel_top_p_model_removes_what_the_cpu_top_p_removes()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 300; trial++)
        {
            int vocab = rng.Next(1, 3000);
            var logits = new float[vocab];
            for (int i = 0; i < vocab; i++)
                logits[i] = rng.Next(4) == 0 ? MathF.Round((float)rng.NextDouble() * 8) : (float)(rng.NextDouble() * 40 - 30); // ties and far-below tokens
            float topP = trial % 10 == 0 ? 1e-9f : (float)rng.NextDouble();

            var cpuLogits = (float[])logits.Clone();
            var cpuWeights = new ulong[vocab];
            ulong total = FixedPointSoftmax.Compute(cpuLogits, cpuWeights);
            var modelWeights = (ulong[])cpuWeights.Clone();
            ulong cpuKept = LogitProcessors.ApplyTopP(cpuLogits, cpuWeights, total, topP);

            ulong modelKept = KernelTopP(logits, modelWeights, total, topP);
            Assert.Equal(cpuKept, modelKept);
            Assert.Equal(cpuWeights, modelWeights);
        }
    }

    /// <summary>The kernel's step 6, serially: same digits, same histogram walk, same boundary rule.</summary>
    private static ulong KernelTopP(float[] x, ulong[] w, ulong total, float topP)
    {
        if (topP >= 1f) return total;
        ulong threshold = Sampler.MulFraction24((ulong)((1f - topP) * 16777216f), total);
        ulong prefix = 0, @base = 0;
        bool allRemoved = false;
        for (int shift = 56; shift >= 0; shift -= 8)
        {
            var hist = new ulong[256];
            for (int i = 0; i < x.Length; i++)
            {
                if (w[i] == 0) continue;
                ulong key = Key(x[i], i);
                if (shift == 56 || (key >> (shift + 8)) == (prefix >> (shift + 8))) hist[(key >> shift) & 0xff] += w[i];
            }
            int digit = -1;
            for (int d = 0; d < 256; d++)
            {
                if (hist[d] == 0) continue;
                if (@base + hist[d] <= threshold) @base += hist[d];
                else { digit = d; break; }
            }
            if (digit < 0) { allRemoved = true; break; }
            prefix |= (ulong)digit << shift;
        }
        ulong boundary = prefix;
        if (allRemoved)
        {
            boundary = 0;
            for (int i = 0; i < x.Length; i++) if (w[i] != 0) boundary = Math.Max(boundary, Key(x[i], i));
        }
        ulong kept = 0;
        for (int i = 0; i < x.Length; i++)
        {
            if (w[i] == 0) continue;
            if (Key(x[i], i) < boundary) w[i] = 0;
            else kept += w[i];
        }
        return kept;
    }

    private static ulong Key(float x, int id) => ((ulong)LogitProcessors.OrderedBits(x) << 32) | (uint)id;
}
