using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Runtime;
using Owl3Native.Engine.Sampling;
using Xunit;

namespace Owl3Native.Cuda.Tests.Conformance;

/// <summary>
/// sample_f32 against the CPU Sampler: the same token for the same logits, history, settings, seed, stream and step —
/// exactly, not statistically (every sum in both is an exact integer). Runs on a GPU only.
/// </summary>
public sealed class SamplerConformanceTests
{
    [RequiresGpuFact]
    public void Device_sampler_picks_the_cpu_samplers_token()
    {
        using var ctx = CudaContext.Open();
        using var cache = new KernelCache(ctx, Path.Combine(Path.GetTempPath(), "owl3-kernel-cache-tests"));
        var kernels = new ElementwiseKernels(cache, ctx);
        var rng = new Random(5);
        const int vocab = 151851, rows = 24;
        var logits = new float[rows * vocab];
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 12 - 6);
        logits[3] = float.NaN;
        var settings = Enumerable.Range(0, rows).Select(r => new SamplingParams(
            temperature: r % 6 == 0 ? 0f : 0.3f + r * 0.1f, topK: r % 3 == 0 ? 0 : 1 + r * 7, topP: r % 4 == 0 ? 1f : 0.5f + r * 0.02f,
            repetitionPenalty: r % 2 == 0 ? 1f : 1.1f, seed: (ulong)(r * 7919))).ToArray();
        var history = Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, 20 + r).Select(_ => rng.Next(vocab)).ToArray()).ToArray();
        var expected = new int[rows];
        for (int r = 0; r < rows; r++)
            expected[r] = Sampler.Sample(logits.AsSpan(r * vocab, vocab).ToArray(), history[r], settings[r], sequenceId: (ulong)r, step: r * 3);

        int[] offsets = new int[rows + 1];
        for (int r = 0; r < rows; r++) offsets[r + 1] = offsets[r] + history[r].Length;
        using var dLogits = Buffer(ctx, logits);
        using var dWeights = new DeviceBuffer<ulong>(ctx, (long)rows * vocab);
        using var dPrev = Buffer(ctx, history.SelectMany(h => h).ToArray());
        using var dOffsets = Buffer(ctx, offsets);
        using var dScratch = new DeviceBuffer<float>(ctx, Math.Max(1, offsets[^1]));
        using var dT = Buffer(ctx, settings.Select(s => s.Temperature).ToArray());
        using var dK = Buffer(ctx, settings.Select(s => s.TopK).ToArray());
        using var dP = Buffer(ctx, settings.Select(s => s.TopP).ToArray());
        using var dR = Buffer(ctx, settings.Select(s => s.RepetitionPenalty).ToArray());
        using var dSeed = Buffer(ctx, settings.Select(s => s.Seed).ToArray());
        using var dStream = Buffer(ctx, Enumerable.Range(0, rows).Select(r => (ulong)r).ToArray());
        using var dStep = Buffer(ctx, Enumerable.Range(0, rows).Select(r => r * 3).ToArray());
        using var dIds = new DeviceBuffer<int>(ctx, rows);
        dIds.FillBytes(0xFF);
        using var stream = new CudaStream(ctx);
        kernels.Sample(stream, new SampleParams
        {
            Logits = dLogits.Pointer, Weights = dWeights.Pointer, PrevTokens = dPrev.Pointer, PrevOffsets = dOffsets.Pointer,
            PrevScratch = dScratch.Pointer, Temperature = dT.Pointer, TopK = dK.Pointer, TopP = dP.Pointer, Penalty = dR.Pointer,
            Seed = dSeed.Pointer, Stream = dStream.Pointer, Step = dStep.Pointer, Ids = dIds.Pointer, Rows = rows, Vocab = vocab,
        });
        stream.Synchronize();
        Assert.Equal(expected, dIds.ToArray());
    }

    private static DeviceBuffer<T> Buffer<T>(CudaContext ctx, T[] values) where T : unmanaged
    {
        var b = new DeviceBuffer<T>(ctx, values.Length);
        b.CopyFrom(values);
        return b;
    }
}
