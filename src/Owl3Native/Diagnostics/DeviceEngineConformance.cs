using System.Diagnostics;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Checks;
using Owl3Native.Cuda.Runtime;
using Owl3Native.Engine;
using Owl3Native.Engine.Sampling;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Owl3;
using Owl3Native.Processing;
using Owl3Native.Processing.Images;
using Owl3Native.Processing.Text;

namespace Owl3Native.Diagnostics;

/// <summary>
/// The engine with `--device cuda` against the CPU engine, on a random checkpoint in the released format: first through
/// the runner (<see cref="ModelRunner"/> over <see cref="DeviceTextForward"/>: images encoded by the device's vision tower and
/// made into visual K/V on the device at admission, a chunked prefill of an image sequence and a text sequence in one step, split
/// into device steps of at most 32 tokens, then decode steps fed the CPU's greedy tokens), judged on every step's
/// logits; then tokens chosen on the device against the CPU Sampler on the same logits; then two concurrent <c>Owl3Engine.Generate</c> calls (one with an image), greedy, on each device,
/// judged on the first token and reported with the agreeing prefix and the wall time. Used by owl3-gpu-check.
/// </summary>
public static class DeviceEngineConformance
{
    /// <summary>Runs the three checks on a <paramref name="shape"/> checkpoint of <paramref name="variant"/> written under the temp folder.</summary>
    public static IReadOnlyList<ConformanceResult> Run(CudaContext context, ModelShape shape = ModelShape.Tiny, Owl3Variant variant = Owl3Variant.V241101,
        double nmseBound = 1e-3, string? kernelDirectory = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"owl3-device-engine-{shape.Name()}-{variant}-{Environment.ProcessId}");
        try
        {
            CheckpointMaker.Write(dir, new MakeTinyOptions(variant, shape, Seed: 5, Overwrite: true));
            var results = new List<ConformanceResult>();
            using (var checkpoint = Owl3Checkpoint.Open(dir))
            {
                results.Add(Runner(context, checkpoint, shape, variant, nmseBound, kernelDirectory));
                results.Add(Sampling(context, checkpoint, shape, variant, kernelDirectory));
            }
            results.Add(Generate(dir, shape, variant));
            return results;
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    private static ConformanceResult Runner(CudaContext context, Owl3Checkpoint checkpoint, ModelShape shape, Owl3Variant variant, double nmseBound, string? kernelDirectory)
    {
        var model = new Owl3Model(checkpoint, new CpuBackend(Math.Max(1, Environment.ProcessorCount)));
        var cfg = model.Config;
        const int blocks = 32, blockSize = 16, decodeSteps = 8;
        using var cpu = new ModelRunner(model, blocks, blockSize);
        using var gpu = new ModelRunner(model, DeviceTextForward.Load(checkpoint, blocks, blockSize, context: context, kernelDirectory: kernelDirectory, maxStepTokens: 32));
        var rng = new Random(29);
        // Sequence a: two crops whose markers start at 4 and 40 (the second first seen in the second chunk); b: text only.
        var pixels = EndToEndBench.RandomPixels(rng, 2, cfg.Vision.ImageSize);
        int[] markers = [4, 40];
        int[] promptA = EndToEndBench.RandomTokens(rng, 61, cfg.Vocab), promptB = EndToEndBench.RandomTokens(rng, 45, cfg.Vocab);
        var a = (Cpu: cpu.Admit(pixels, markers), Gpu: gpu.Admit(pixels, markers));
        var b = (Cpu: cpu.Admit(null, []), Gpu: gpu.Admit(null, []));
        // c: a short text prompt prefilled first, then decoding next to the other two's prefill chunks (mixed steps: its
        // row by the decode kernel, theirs by the prefill kernel, in one layer pass).
        int[] promptC = EndToEndBench.RandomTokens(rng, 12, cfg.Vocab);
        var c = (Cpu: cpu.Admit(null, []), Gpu: gpu.Admit(null, []));
        var actual = new List<float>();
        var expected = new List<float>();
        int agree = 0, steps = 0;
        int[] next = [];
        try
        {
            Compare([new StepInput(c.Cpu, promptC)], [new StepInput(c.Gpu, promptC)]);
            // The decoding sequence first (as the scheduler orders them), then the text sequence, so the image sequence is
            // the one cut across device steps (1 + 20 + 11 | 19, then 1 + 25 + 6 | 25).
            foreach (var (fromA, toA, fromB, toB) in new[] { (0, 30, 0, 20), (30, 61, 20, 45) })
            {
                int tokenC = next[0];
                Compare([new StepInput(c.Cpu, [tokenC]), new StepInput(b.Cpu, promptB[fromB..toB]), new StepInput(a.Cpu, promptA[fromA..toA])],
                        [new StepInput(c.Gpu, [tokenC]), new StepInput(b.Gpu, promptB[fromB..toB]), new StepInput(a.Gpu, promptA[fromA..toA])]);
            }
            for (int i = 0; i < decodeSteps; i++)
            {
                int[] t = next;
                Compare([new StepInput(c.Cpu, [t[0]]), new StepInput(b.Cpu, [t[1]]), new StepInput(a.Cpu, [t[2]])],
                        [new StepInput(c.Gpu, [t[0]]), new StepInput(b.Gpu, [t[1]]), new StepInput(a.Gpu, [t[2]])]);
            }
        }
        finally
        {
            foreach (var s in new[] { a.Cpu, b.Cpu, c.Cpu }) cpu.Release(s);
            foreach (var s in new[] { a.Gpu, b.Gpu, c.Gpu }) gpu.Release(s);
        }
        var (graphs, graphFailure) = (gpu.Device!.GraphCounts, gpu.Device.GraphFailure);
        return DeviceData.Judge("engine runner, cuda against cpu (logits of every step)",
            $"{shape.Name()} {variant}, {cfg.Layers} layers, vocab {cfg.Vocab}; a text sequence and an image sequence (2 crops at 4, 40) prefilled 20 | 30 then " +
            $"25 | 31 tokens next to a third sequence's decode rows (mixed steps; device steps of ≤ 32 tokens: the image sequence cut across two), {decodeSteps} decode steps of all three on the CPU's greedy tokens " +
            $"(CUDA graphs: {graphs.Captures} captured, {graphs.Replays} replays{(graphFailure is null ? "" : $"; {graphFailure}")}); greedy agrees {agree}/{steps}",
            [.. actual], [.. expected], nmseBound);

        void Compare(StepInput[] onCpu, StepInput[] onGpu)
        {
            var e = cpu.Step(onCpu);
            var g = gpu.Step(onGpu);
            expected.AddRange(e.Data.AsSpan(0, e.Length).ToArray());
            actual.AddRange(g.Data.AsSpan(0, g.Length).ToArray());
            next = [.. Enumerable.Range(0, onCpu.Length).Select(r => EndToEndBench.Argmax(e.Row(r)))];
            agree += Enumerable.Range(0, onCpu.Length).Count(r => EndToEndBench.Argmax(g.Row(r)) == next[r]);
            steps += onCpu.Length;
        }
    }

    /// <summary>
    /// Tokens chosen on the device (<see cref="ModelRunner.StepSample"/>) against the CPU Sampler on the device's own
    /// logits: two copies of each of two prompts (one with two crops) stepped alone, one copy through Step + Sampler, the
    /// other through StepSample, with mixed settings (greedy; temperature, top-k, top-p and a repetition penalty over the
    /// history), a prefill then 8 decode steps each feeding its own token. The same logits give the same token, exactly.
    /// </summary>
    private static ConformanceResult Sampling(CudaContext context, Owl3Checkpoint checkpoint, ModelShape shape, Owl3Variant variant, string? kernelDirectory)
    {
        var model = new Owl3Model(checkpoint, new CpuBackend(1));
        var cfg = model.Config;
        using var gpu = new ModelRunner(model, DeviceTextForward.Load(checkpoint, 64, 16, context: context, kernelDirectory: kernelDirectory));
        var rng = new Random(41);
        var pixels = EndToEndBench.RandomPixels(rng, 2, cfg.Vision.ImageSize);
        int[][] prompts = [EndToEndBench.RandomTokens(rng, 50, cfg.Vocab), EndToEndBench.RandomTokens(rng, 37, cfg.Vocab)];
        var settings = new[]
        {
            new SamplingParams(temperature: 0.9f, topK: 50, topP: 0.8f, repetitionPenalty: 1.2f, seed: 3),
            Engine.Sampling.SamplingParams.Greedy,
        };
        int wrong = 0, total = 0;
        var held = new List<SequenceState>();
        try
        {
            for (int k = 0; k < prompts.Length; k++)
            {
                SequenceState Admit() { var q = k == 0 ? gpu.Admit(pixels, [4, 20]) : gpu.Admit(null, []); held.Add(q); return q; }
                var (viaHost, onDevice) = (Admit(), Admit());
                int[] feedHost = prompts[k], feedDevice = prompts[k];
                for (int step = 0; step < 9; step++)
                {
                    var ask = new SampleRequest(settings[k], (ulong)(k + 1), step);
                    var logits = gpu.Step([new StepInput(viaHost, feedHost)]);
                    int expected = Sampler.Sample(logits.Row(0).ToArray(), viaHost.Tokens.ToArray(), ask.Params, ask.Stream, ask.Step);
                    int actual = gpu.StepSample([new StepInput(onDevice, feedDevice)], [ask])[0];
                    wrong += expected == actual ? 0 : 1;
                    total++;
                    (feedHost, feedDevice) = ([expected], [actual]);
                }
            }
        }
        finally
        {
            foreach (var q in held) gpu.Release(q);
        }
        return new ConformanceResult("engine sampling on the device (StepSample) against the CPU Sampler on the same logits",
            $"{shape.Name()} {variant}; an image prompt (2 crops) with temperature 0.9, top-k 50, top-p 0.8, repetition penalty 1.2, and a text prompt greedy; " +
            $"prefill then 8 decode steps each; {total - wrong}/{total} tokens identical", wrong, wrong, 0, wrong == 0);
    }

    private static ConformanceResult Generate(string dir, ModelShape shape, Owl3Variant variant)
    {
        var rng = new Random(31);
        var pixels = new byte[320 * 240 * 3];
        rng.NextBytes(pixels);
        var image = MediaSource.Image(new RgbImage(320, 240, pixels));
        var settings = new GenerationSettings(MaxNewTokens: 16, Temperature: 0);
        (IReadOnlyList<int>[] Tokens, double Ms) On(string device)
        {
            using var engine = Owl3Engine.Load(dir, new EngineOptions(Device: device, KvBlocks: 256));
            var sw = Stopwatch.StartNew();
            var withImage = Task.Run(() => engine.Generate([new PromptMessage(PromptRole.User, "<|image|>Describe this image.")], [image], settings));
            var textOnly = Task.Run(() => engine.Generate([new PromptMessage(PromptRole.User, "Write a short story about an owl.")], [], settings));
            Task.WaitAll(withImage, textOnly);
            return ([withImage.Result.TokenIds, textOnly.Result.TokenIds], sw.Elapsed.TotalMilliseconds);
        }
        var (cpuTokens, cpuMs) = On("cpu");
        var (gpuTokens, gpuMs) = On("cuda");
        int[] prefix = [.. cpuTokens.Zip(gpuTokens).Select(p => p.First.Zip(p.Second).TakeWhile(t => t.First == t.Second).Count())];
        bool firstAgree = cpuTokens.Zip(gpuTokens).All(p => p.First.Count > 0 && p.Second.Count > 0 && p.First[0] == p.Second[0]);
        bool complete = Enumerable.Range(0, 2).All(i => gpuTokens[i].Count == 16 || gpuTokens[i].Count == cpuTokens[i].Count); // 16, or a terminator
        return new ConformanceResult("engine generate, cuda against cpu (two concurrent requests, greedy)",
            $"{shape.Name()} {variant}; an image prompt (320×240, cut) and a text prompt, 16 new tokens each; agreeing prefix " +
            $"{prefix[0]} | {prefix[1]} of {cpuTokens[0].Count} | {cpuTokens[1].Count}; wall time cuda {gpuMs:F0} ms, cpu {cpuMs:F0} ms (kernel compiles included on first use); " +
            "judged on the first token and on completing",
            firstAgree ? 0 : 1, firstAgree ? 0 : 1, 0, firstAgree && complete);
    }
}
