using System.Diagnostics;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Engine;
using Owl3Native.Engine.Sampling;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Owl3;

namespace Owl3Native.Diagnostics;

/// <summary>Settings of `owl3 bench`.</summary>
/// <param name="Batch">Sequences decoded together.</param>
/// <param name="PromptTokens">Random prompt tokens per sequence.</param>
/// <param name="NewTokens">Decode steps timed.</param>
/// <param name="Images">Crops per sequence (random pixels).</param>
/// <param name="Threads">CPU threads (0: all cores).</param>
/// <param name="VisionCrop">Time one crop through the vision tower.</param>
/// <param name="Seed">Seed of the random prompts and pixels.</param>
/// <param name="Device">`cpu`, or `cuda`: the vision tower, the language model and its KV cache on the GPU.</param>
public sealed record BenchSettings(int Batch = 1, int PromptTokens = 128, int NewTokens = 64, int Images = 0, int Threads = 0, bool VisionCrop = true, ulong Seed = 1,
    string Device = "cpu");

/// <summary>Figures of one `owl3 bench` run (JSON keys of ../shared/CLI.md).</summary>
public sealed record BenchResult(
    string Model, string Variant, string Device, int Threads, int Batch, int PromptTokens, int NewTokens, int Images,
    double DecodeTokS, double PrefillTokS, double TtftMs, double? VisionMsPerCrop, double PeakHostMb, double PeakDeviceMb,
    double WeightGbPerDecodeStep, double DecodeWeightGbS, double MemcpyGbS, double MemoryReadGbS, string Machine, string Runtime);

/// <summary>
/// End-to-end timing on random prompts: vision encode of one crop, prefill (chunked, all prompts), and decode steps
/// only (greedy, every sequence of the batch advancing together). Decode figures exclude prefill and vision.
/// </summary>
public static class EndToEndBench
{
    /// <summary>Runs the benchmark on an opened checkpoint (the CPU backend, or the model on the GPU with `cuda`).</summary>
    /// <exception cref="Cuda.Runtime.GpuUnavailableException">`cuda` without a usable GPU.</exception>
    public static BenchResult Run(Owl3Checkpoint checkpoint, BenchSettings s, Action<string>? log = null)
    {
        var backend = new CpuBackend(s.Threads);
        var model = new Owl3Model(checkpoint, backend);
        var c = model.Config;
        var rng = new Random((int)s.Seed);
        int crop = c.Vision.ImageSize;

        int blockSize = 16;
        int perSeq = (s.PromptTokens + s.NewTokens) / blockSize + 2;
        if (s.Device is not ("cpu" or "cuda")) throw new ArgumentException($"device must be cpu or cuda, not '{s.Device}'");
        using var runner = s.Device == "cpu" ? new ModelRunner(model, perSeq * s.Batch + 1, blockSize) : OnDevice(model, checkpoint, perSeq * s.Batch + 1, blockSize);

        double? visionMs = null;
        if (s.VisionCrop || s.Images > 0)
        {
            // Where the engine encodes: the CPU tower, or the device's with cuda.
            Func<Tensor, Tensor> encode = runner.Device is { EncodesImages: true } device ? p => device.EncodeImages(p) : p => model.EncodeImages(p);
            var onePixelCrop = RandomPixels(rng, 1, crop);
            encode(onePixelCrop); // warm-up: JIT and first touch of the mapped vision weights (on the GPU: kernels, GEMM plans)
            var sw = Stopwatch.StartNew();
            encode(onePixelCrop);
            visionMs = sw.Elapsed.TotalMilliseconds;
            log?.Invoke($"vision: {visionMs:F0} ms per crop");
        }

        // Warm-up on throwaway sequences (JIT, page-in of every weight; on the GPU also the kernels' compiles, the GEMM
        // plans and the scratch at the timed shapes: a whole prompt per sequence, then a decode step of the batch).
        int warmTokens = s.Device == "cuda" ? s.PromptTokens : Math.Min(8, s.PromptTokens);
        var warm = Enumerable.Range(0, s.Device == "cuda" ? s.Batch : 1).Select(_ => runner.Admit(null, [])).ToArray();
        foreach (var w in warm) runner.Step([new StepInput(w, RandomTokens(rng, warmTokens, c.Vocab))]);
        runner.StepSample([.. warm.Select(w => new StepInput(w, [1]))], [.. warm.Select(_ => (SampleRequest?)new SampleRequest(SamplingParams.Greedy, 0, 0))]);
        foreach (var w in warm) runner.Release(w);

        // Greedy tokens chosen where the engine chooses them (StepSample: on the device with cuda, only ids come back).
        var sequences = new List<SequenceState>();
        var sw2 = Stopwatch.StartNew();
        var next = new int[s.Batch];
        SampleRequest?[] Greedy(int n, int step) => [.. Enumerable.Range(0, n).Select(i => (SampleRequest?)new SampleRequest(SamplingParams.Greedy, (ulong)i, step))];
        for (int b = 0; b < s.Batch; b++)
        {
            int[] prompt = RandomTokens(rng, s.PromptTokens, c.Vocab);
            int[] starts = Enumerable.Range(0, s.Images).Select(j => Math.Min(s.PromptTokens - 1, 2 + j * 8)).ToArray();
            var seq = runner.Admit(s.Images > 0 ? RandomPixels(rng, s.Images, crop) : null, starts);
            sequences.Add(seq);
            next[b] = runner.StepSample([new StepInput(seq, prompt)], Greedy(1, 0))[0];
        }
        double prefillMs = sw2.Elapsed.TotalMilliseconds;
        double ttftMs = prefillMs / s.Batch;
        log?.Invoke($"prefill: {s.Batch}×{s.PromptTokens} tokens in {prefillMs:F0} ms");

        var sw3 = Stopwatch.StartNew();
        for (int step = 0; step < s.NewTokens; step++)
            next = runner.StepSample(sequences.Select((q, i) => new StepInput(q, [next[i]])).ToArray(), Greedy(sequences.Count, step + 1));
        double decodeMs = sw3.Elapsed.TotalMilliseconds;
        foreach (var q in sequences) runner.Release(q);

        double decodeTokS = s.Batch * s.NewTokens / (decodeMs / 1000);
        var (free, total) = runner.Device?.Context.MemoryInfo() ?? (0, 0);
        double deviceMb = (total - free) / 1e6; // in use now, every process
        double weightGb = DecodeWeightBytes(checkpoint) / 1e9;
        return new BenchResult(
            checkpoint.Directory, checkpoint.Variant.Tag(), s.Device, backend.Threads, s.Batch, s.PromptTokens, s.NewTokens, s.Images,
            decodeTokS, s.Batch * s.PromptTokens / (prefillMs / 1000), ttftMs, visionMs,
            Process.GetCurrentProcess().PeakWorkingSet64 / 1e6, deviceMb,
            weightGb, weightGb * (s.NewTokens / (decodeMs / 1000)), MemcpyBandwidth(backend.Threads), MemoryReadBandwidth(backend.Threads),
            $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}",
            System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
    }

    private static ModelRunner OnDevice(Owl3Model model, Owl3Checkpoint checkpoint, int blocks, int blockSize) =>
        new(model, DeviceTextForward.Load(checkpoint, blocks, blockSize)); // a runner that refuses the device disposes it

    /// <summary>Bytes of LLM weights one decode step streams: every decoder weight, the final norm and lm_head (not the embedding gather).</summary>
    public static long DecodeWeightBytes(Owl3Checkpoint checkpoint)
    {
        long bytes = 0;
        foreach (var name in checkpoint.Weights.Names)
        {
            if (!name.StartsWith("language_model.", StringComparison.Ordinal) || name.Contains("v_kv_proj", StringComparison.Ordinal)) continue;
            if (name.EndsWith("embed_tokens.weight", StringComparison.Ordinal) && !checkpoint.Config.TieWordEmbeddings) continue;
            if (name.EndsWith("lm_head.weight", StringComparison.Ordinal) && checkpoint.Config.TieWordEmbeddings) continue;
            checkpoint.Weights.TryGetInfo(name, out var info);
            bytes += info.ByteLength;
        }
        return bytes;
    }

    /// <summary>
    /// Memory-copy bandwidth with the same thread count: each thread copies its half of a 512 MiB buffer (far beyond
    /// the caches); GB/s counts bytes copied (the memory traffic is twice that: read + write), best of 5.
    /// </summary>
    public static double MemcpyBandwidth(int threads)
    {
        const int bytes = 512 << 20;
        var src = GC.AllocateUninitializedArray<byte>(bytes);
        var dst = GC.AllocateUninitializedArray<byte>(bytes);
        Array.Fill(src, (byte)1);
        Array.Fill(dst, (byte)2);
        double best = 0;
        for (int rep = 0; rep < 5; rep++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                int start = (int)((long)bytes * t / threads), end = (int)((long)bytes * (t + 1) / threads);
                src.AsSpan(start, end - start).CopyTo(dst.AsSpan(start, end - start));
            });
            best = Math.Max(best, bytes / sw.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>Read-only streaming bandwidth with the same thread count: a vector XOR over a 512 MiB buffer, best of 5.</summary>
    public static double MemoryReadBandwidth(int threads)
    {
        const int bytes = 512 << 20;
        var src = GC.AllocateUninitializedArray<byte>(bytes);
        Array.Fill(src, (byte)1);
        double best = 0;
        ulong sink = 0;
        for (int rep = 0; rep < 5; rep++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                int start = (int)((long)bytes * t / threads), end = (int)((long)bytes * (t + 1) / threads);
                var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, System.Numerics.Vector<ulong>>(src.AsSpan(start, end - start));
                var acc = System.Numerics.Vector<ulong>.Zero;
                foreach (var w in words) acc ^= w;
                Interlocked.Add(ref sink, acc[0]);
            });
            best = Math.Max(best, bytes / sw.Elapsed.TotalSeconds / 1e9);
        }
        GC.KeepAlive(sink);
        return best;
    }

    internal static int[] RandomTokens(Random rng, int n, int vocab) => Enumerable.Range(0, n).Select(_ => rng.Next(1, Math.Min(vocab, 150000))).ToArray();

    internal static Tensor RandomPixels(Random rng, int crops, int size)
    {
        var t = new Tensor(crops, 3, size, size);
        for (int i = 0; i < t.Length; i++) t.Data[i] = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }

    internal static int Argmax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
