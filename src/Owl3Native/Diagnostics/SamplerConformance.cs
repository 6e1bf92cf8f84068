using Owl3Native.Cuda.Checks;
using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Runtime;
using Owl3Native.Engine.Sampling;

namespace Owl3Native.Diagnostics;

/// <summary>
/// sample_f32 on the device against the CPU Sampler: identical tokens over rows of mixed settings (greedy, temperature,
/// top-k, top-p, repetition penalty, seeds). Used by the GPU conformance test and by owl3-gpu-check.
/// </summary>
public static class SamplerConformance
{
    /// <summary>
    /// Samples <paramref name="rows"/> rows of uniform random logits in [−6, 6) on the device and with
    /// <see cref="Sampler.Sample"/>; passes when every token is identical (MaxAbs and Nmse hold the count of differing rows).
    /// </summary>
    /// <param name="ctx">The device to run on.</param>
    /// <param name="cache">Compiles and loads kernels/sampling.cu.</param>
    /// <param name="rows">Sequences sampled at once, each with its own settings, history, stream and step.</param>
    /// <param name="vocab">Logits per row; at most 2^23 (the default is the 241101 vocabulary size).</param>
    /// <exception cref="ArgumentException"><paramref name="vocab"/> exceeds 2^23.</exception>
    /// <exception cref="CudaException">A driver or NVRTC call failed.</exception>
    /// <exception cref="DeviceOutOfMemoryException">The buffers do not fit (about 12 bytes per logit).</exception>
    public static ConformanceResult Run(CudaContext ctx, KernelCache cache, int rows = 32, int vocab = 151851)
    {
        var rng = new Random(5);
        var logits = new float[rows * vocab];
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 12 - 6);
        var settings = Enumerable.Range(0, rows).Select(r => new SamplingParams(
            temperature: r % 6 == 0 ? 0f : 0.3f + r * 0.05f, topK: r % 3 == 0 ? 0 : 1 + r * 7, topP: r % 4 == 0 ? 1f : 0.5f + r * 0.01f,
            repetitionPenalty: r % 2 == 0 ? 1f : 1.1f, seed: (ulong)(r * 7919))).ToArray();
        var history = Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, 20 + r).Select(_ => rng.Next(vocab)).ToArray()).ToArray();
        var expected = new int[rows];
        for (int r = 0; r < rows; r++)
            expected[r] = Sampler.Sample(logits.AsSpan(r * vocab, vocab).ToArray(), history[r], settings[r], (ulong)r, r * 3);
        var offsets = new int[rows + 1];
        for (int r = 0; r < rows; r++) offsets[r + 1] = offsets[r] + history[r].Length;

        using var dLogits = Up(ctx, logits);
        using var dWeights = new DeviceBuffer<ulong>(ctx, (long)rows * vocab);
        using var dPrev = Up(ctx, history.SelectMany(h => h).ToArray());
        using var dOffsets = Up(ctx, offsets);
        using var dScratch = new DeviceBuffer<float>(ctx, Math.Max(1, offsets[^1]));
        using var dT = Up(ctx, settings.Select(s => s.Temperature).ToArray());
        using var dK = Up(ctx, settings.Select(s => s.TopK).ToArray());
        using var dP = Up(ctx, settings.Select(s => s.TopP).ToArray());
        using var dR = Up(ctx, settings.Select(s => s.RepetitionPenalty).ToArray());
        using var dSeed = Up(ctx, settings.Select(s => s.Seed).ToArray());
        using var dStream = Up(ctx, Enumerable.Range(0, rows).Select(r => (ulong)r).ToArray());
        using var dStep = Up(ctx, Enumerable.Range(0, rows).Select(r => r * 3).ToArray());
        using var dIds = new DeviceBuffer<int>(ctx, rows);
        dIds.FillBytes(0xFF);
        using var stream = new CudaStream(ctx);
        new ElementwiseKernels(cache, ctx).Sample(stream, new SampleParams
        {
            Logits = dLogits.Pointer, Weights = dWeights.Pointer, PrevTokens = dPrev.Pointer, PrevOffsets = dOffsets.Pointer,
            PrevScratch = dScratch.Pointer, Temperature = dT.Pointer, TopK = dK.Pointer, TopP = dP.Pointer, Penalty = dR.Pointer,
            Seed = dSeed.Pointer, Stream = dStream.Pointer, Step = dStep.Pointer, Ids = dIds.Pointer, Rows = rows, Vocab = vocab,
        });
        stream.Synchronize();
        int wrong = dIds.ToArray().Zip(expected).Count(p => p.First != p.Second);
        return new ConformanceResult("sample_f32 (vs CPU Sampler)", $"[{rows}, {vocab}]", wrong, wrong, 0, wrong == 0);
    }

    private static DeviceBuffer<T> Up<T>(CudaContext ctx, T[] values) where T : unmanaged
    {
        var b = new DeviceBuffer<T>(ctx, values.Length);
        b.CopyFrom(values);
        return b;
    }
}
