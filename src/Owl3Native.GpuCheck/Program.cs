using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Owl3Native.Cuda.Checks;
using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Model;
using Owl3Native.Cuda.Runtime;
using Owl3Native.Models.Checkpoints;

namespace Owl3Native.GpuCheck;

/// <summary>Everything one GPU check found.</summary>
internal sealed record GpuCheckReport(
    string Date, string Host, string Runtime, string Os, string? Gpu, string? Arch, int? Multiprocessors, long? MemoryBytes,
    string Driver, string? Nvrtc, IReadOnlyList<LibraryLine> Libraries, IReadOnlyList<KernelCheckRow> Kernels,
    IReadOnlyList<ConformanceResult> Conformance, IReadOnlyList<AttentionBenchRow> AttentionBench, double? CopyGbPerSecond, string? NoGpuReason, IReadOnlyList<string> Errors, bool Ok,
    string? PrefillDefaults = null);

internal sealed record LibraryLine(string Library, string? Path, int Tried, IReadOnlyList<string> MissingExports);

// NaN and ±Infinity (a kernel that wrote NaN: max-abs and NMSE become +inf) are written as literals, not refused.
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(GpuCheckReport))]
internal sealed partial class ReportJson : JsonSerializerContext;

/// <summary>
/// `owl3-gpu-check &lt;out-dir&gt;`: GPU, driver, NVRTC/cuBLAS versions and paths, every kernel compiled for the device's
/// architecture within budget, each kernel against its CPU twin, memory-bound kernels' GB/s against a device copy.
/// Without a GPU it still runs (the self-test) and says why there is none. Writes report.md and report.json.
/// Exit 0 when every check that could run passed.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "--profile-attention") return ProfileAttention();
        string[] options = args.Skip(1).ToArray();
        if (args.Length < 1 || args[0].StartsWith('-') || options.Any(o => o != "--no-bench" && !o.StartsWith("--only=", StringComparison.Ordinal)))
        {
            Console.Error.WriteLine("usage: owl3-gpu-check <out-dir> [--no-bench] [--only=WORD,WORD…] | --profile-attention");
            Console.Error.WriteLine("  --only: run just the stages whose names contain one of the words (e.g. --only=decoder layer,text model); the log names every stage");
            return 2;
        }
        _only = options.FirstOrDefault(o => o.StartsWith("--only=", StringComparison.Ordinal))?["--only=".Length..]
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var sw = Stopwatch.StartNew();
        // One kernel disk cache for every stage, the engine loads that take the default (the user's cache) included.
        Environment.SetEnvironmentVariable("XDG_CACHE_HOME", Path.Combine(Path.GetTempPath(), "owl3-gpu-check-cache"));
        var errors = new List<string>();
        var probe = DeviceProbe.Run();
        var libraries = Enum.GetValues<CudaLibrary>().Select(l => Library(l)).ToArray();
        string? gpu = null, arch = null, noGpu = null;
        int? sms = null;
        long? memory = null;
        IReadOnlyList<KernelCheckRow> kernels = [];
        IReadOnlyList<ConformanceResult> conformance = [];
        double? copy = null;
        string? prefillDefaults = null; // the kernels a prefill launch without a variant runs here, per head dim
        IReadOnlyList<AttentionBenchRow> attentionBench = [];
        CudaContext? ctx = null;
        try
        {
            ctx = CudaContext.Open();
            (gpu, arch, sms, memory) = (ctx.Name, ctx.Arch, ctx.Multiprocessors, ctx.TotalBytes);
        }
        catch (GpuUnavailableException e)
        {
            noGpu = e.Reason;
        }
        if (NativeLibraryResolver.Probe(CudaLibrary.Nvrtc).Found)
            kernels = Step(errors, "kernel compile", () => KernelCheck.Run(arch is null ? KernelCheck.DefaultArchitectures : [arch])) ?? [];
        else
            errors.Add("NVRTC not found: kernels cannot be compiled");
        if (ctx is not null)
        {
            // The cache's modules unload through the context: dispose the cache first, then the context.
            using (var cache = new KernelCache(ctx, KernelDirectory))
            {
                var checks = new KernelConformance(ctx, cache);
                conformance = Step(errors, "conformance", () => checks.RunAll()) ?? [];
                if (Step(errors, "sampler", () => Owl3Native.Diagnostics.SamplerConformance.Run(ctx, cache)) is { } sampler) conformance = [.. conformance, sampler];
                copy = Step(errors, "copy bandwidth", () => (double?)checks.CopyBandwidth());
                var attention = new AttentionConformance(ctx, cache);
                prefillDefaults = Step(errors, "prefill defaults", () => string.Join(", ", AttentionKernels.PrefillDims.Select(d => $"d{d} {new AttentionKernels(cache).DevicePrefillVariant(d).Kernel}")));
                conformance = [.. conformance, .. Step(errors, "attention conformance", () => attention.RunAll()) ?? []];
                if (copy is { } c && !args.Contains("--no-bench"))
                    attentionBench = Step(errors, "attention bench", () => attention.Bench(c)) ?? [];
                if (!args.Contains("--no-bench"))
                    attentionBench = [.. attentionBench, .. Step(errors, "gemv bench", () => checks.GemvBench(copy)) ?? []];
                // Then a whole decoder layer composed of the kernels above (new: the first piece of the device forward).
                Write(Report(partial: true), sw.Elapsed, print: false);
                var layers = new LayerConformance(ctx, cache);
                conformance = [.. conformance, .. Step(errors, "decoder layer", () => layers.Run()) ?? []];
                if (!args.Contains("--no-bench"))
                    attentionBench = [.. attentionBench, .. Step(errors, "decoder layer bench",
                        () => layers.Bench(("2B", Qwen2LayerShape.TwoB, 28), ("7B", Qwen2LayerShape.SevenB, 28))) ?? []];
                // The text model on the device: embedding, the layers, final norm, LM head (spec/CHECKPOINTS.md's sizes).
                Write(Report(partial: true), sw.Elapsed, print: false);
                var text = new TextModelConformance(ctx, cache);
                conformance = [.. conformance, .. Step(errors, "text model", () => text.Run()) ?? []];
                if (!args.Contains("--no-bench"))
                    attentionBench = [.. attentionBench, .. Step(errors, "text model bench",
                        () => text.Bench(("1B", Qwen2LayerShape.OneB, 24, 151851, true), ("7B", Qwen2LayerShape.SevenB, 28, 151851, false))) ?? []];
                // The same forward on real-format checkpoints (written here, random weights) against the CPU engine's Owl3Model.
                Write(Report(partial: true), sw.Elapsed, print: false);
                // Text only at the tiny shape, then with images: 241101's fused hyper attention at the tiny and 1B shapes, the
                // gated cross-attention of 240728 and 241014 at the tiny shape.
                foreach (var (shape, variant, images) in new[]
                         {
                             (ModelShape.Tiny, Owl3Variant.V241101, false),
                             (ModelShape.Tiny, Owl3Variant.V241101, true),
                             (ModelShape.Tiny, Owl3Variant.V240728, true),
                             (ModelShape.Tiny, Owl3Variant.V241014, true),
                         })
                    conformance = [.. conformance, .. Step(errors, $"text model from a {shape} {variant} checkpoint{(images ? " with images" : "")}",
                        () => Owl3Native.Diagnostics.DeviceTextConformance.Run(ctx, cache, shape, variant, images: images)) ?? []];
                // The vision tower and projector on the device against the CPU model (MLP projector: 241101; Linear: 240728),
                // alone first: the engine on cuda below encodes its images with it.
                Write(Report(partial: true), sw.Elapsed, print: false);
                // The vision tower and projector on the device against the CPU model (MLP projector: 241101; Linear: 240728).
                foreach (var variant in new[] { Owl3Variant.V241101, Owl3Variant.V240728 })
                    conformance = [.. conformance, .. Step(errors, $"vision tower on cuda, tiny {variant}",
                        () => Owl3Native.Diagnostics.DeviceVisionConformance.Run(ctx, cache, ModelShape.Tiny, variant)) ?? []];
                // The GPU path against the original implementation's goldens (carried in bundle/golden by gpu-check.sh build).
                Write(Report(partial: true), sw.Elapsed, print: false);
                string goldens = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "golden"));
                foreach (string g in Directory.Exists(goldens) ? Directory.GetDirectories(goldens).Order().ToArray() : [])
                    conformance = [.. conformance, .. Step(errors, $"goldens on cuda, {Path.GetFileName(g)}", () => GoldenOnDevice(g)) ?? []];
                // The engine with --device cuda (ModelRunner over DeviceTextForward, then Owl3Engine.Generate) against the CPU engine.
                Write(Report(partial: true), sw.Elapsed, print: false);
                string engineKernels = KernelDirectory;
                foreach (var variant in new[] { Owl3Variant.V241101, Owl3Variant.V240728 })
                    conformance = [.. conformance, .. Step(errors, $"engine on cuda, tiny {variant}",
                        () => Owl3Native.Diagnostics.DeviceEngineConformance.Run(ctx, ModelShape.Tiny, variant, kernelDirectory: engineKernels)) ?? []];
                // A 1B-shape 241101 checkpoint (random weights, 1.8 GB), written once: the text model with images against the
                // CPU model, the vision tower at SigLIP-so400m's real sizes (with its timing), then the engine's end-to-end
                // figures on cuda (compare 2026-11-26-h200-hf-peer.json).
                Write(Report(partial: true), sw.Elapsed, print: false);
                string oneB = Path.Combine(Path.GetTempPath(), $"owl3-gpu-check-1b-{Environment.ProcessId}");
                try
                {
                    Step(errors, "writing a 1B checkpoint", () => { CheckpointMaker.Write(oneB, new MakeTinyOptions(Owl3Variant.V241101, ModelShape.B1, Seed: 3, Overwrite: true)); return true; });
                    conformance = [.. conformance, .. Step(errors, "text model from a B1 V241101 checkpoint with images",
                        () => Owl3Native.Diagnostics.DeviceTextConformance.Run(ctx, cache, oneB, ModelShape.B1, Owl3Variant.V241101, 1e-3, images: true)) ?? []];
                    // 26 layers with bf16 activations against the fp32 CPU tower: a looser bound than the two-layer tiny tower's.
                    if (StepValue(errors, "vision tower on cuda, 1B", () =>
                        {
                            using var ckpt = Owl3Checkpoint.Open(oneB);
                            return Owl3Native.Diagnostics.DeviceVisionConformance.Run(ctx, cache, ckpt, 3e-3, bench: !args.Contains("--no-bench"));
                        }) is { } vision)
                    {
                        conformance = [.. conformance, vision.Result];
                        attentionBench = [.. attentionBench, .. vision.Bench];
                    }
                    if (!args.Contains("--no-bench"))
                        // Decode steps from CUDA graphs (the default), then batch 1 kernel by kernel: the graphs' gain in one
                        // run. Then batch 1 with an image of 5 crops per request (a cut image): its time to first token
                        // includes the device tower.
                        attentionBench = [.. attentionBench, .. Step(errors, "engine bench on cuda, 1B", () => EngineBench(oneB,
                            [new(1), new(16), new(1, Graphs: false), new(1, Images: 5)])) ?? []];
                    // Last: the architecture-specific kernels' own checks and experiments (sm_90a wgmma prefill, the cluster
                    // decode) — a fault there cannot cost the figures above, and a hang cannot either: the report so far is
                    // on disk first (marked unfinished).
                    Write(Report(partial: true), sw.Elapsed, print: false);
                    if (StepValue(errors, "architecture-specific kernels", () => attention.RunArchSpecific(bench: !args.Contains("--no-bench"), copy)) is { } archSpecific)
                    {
                        conformance = [.. conformance, .. archSpecific.Results];
                        attentionBench = [.. attentionBench, .. archSpecific.Bench];
                        // The decode experiments in the engine (3 stages, cluster steps, gemv projections), each once its
                        // kernels passed their cases (a case that threw counts against the 3 stages, whose cases run among
                        // the portable ones): the 1B text model with images and the tiny engines (fused and cross-attention
                        // paths) against the CPU engine with them on; then the 1B engine with each, and all at once,
                        // beside the default, in one run.
                        bool stagesPassed = conformance.Any(r => r.Kernel.Contains("3 stages")) && conformance.Where(r => r.Kernel.Contains("3 stages")).All(r => r.Pass)
                            && !conformance.Any(r => r.Kernel.StartsWith("attention (threw", StringComparison.Ordinal));
                        bool gemvPassed = conformance.Any(r => r.Kernel == "gemv_bf16") && conformance.Where(r => r.Kernel == "gemv_bf16").All(r => r.Pass);
                        if (stagesPassed || archSpecific.ClusterPassed || gemvPassed)
                        {
                            Write(Report(partial: true), sw.Elapsed, print: false);
                            string flags = string.Join(", ", new[] { stagesPassed ? "3-stage decode" : null, archSpecific.ClusterPassed ? "cluster decode" : null, gemvPassed ? "gemv" : null }.OfType<string>());
                            Environment.SetEnvironmentVariable(AttentionKernels.ClusterDecodeVariable, archSpecific.ClusterPassed ? "1" : null);
                            Environment.SetEnvironmentVariable(AttentionKernels.DecodeStagesVariable, stagesPassed ? "3" : null);
                            Environment.SetEnvironmentVariable(GemvKernels.Variable, gemvPassed ? "1" : null);
                            try
                            {
                                // The 1B text model with images (head dim 64: every experiment applies), then the tiny engines
                                // (head dim 16: no 3-stage kernel), against the CPU engine.
                                conformance = [.. conformance, .. (Step(errors, $"text model from a B1 V241101 checkpoint with images, {flags}",
                                    () => Owl3Native.Diagnostics.DeviceTextConformance.Run(ctx, cache, oneB, ModelShape.B1, Owl3Variant.V241101, 1e-3, images: true)) ?? [])
                                    .Select(r => r with { Kernel = $"{r.Kernel} ({flags})" })];
                                if (archSpecific.ClusterPassed || gemvPassed)
                                    foreach (var variant in new[] { Owl3Variant.V241101, Owl3Variant.V240728 })
                                        conformance = [.. conformance, .. (Step(errors, $"engine on cuda, tiny {variant}, {flags}",
                                            () => Owl3Native.Diagnostics.DeviceEngineConformance.Run(ctx, ModelShape.Tiny, variant, kernelDirectory: engineKernels)) ?? [])
                                            .Select(r => r with { Kernel = $"{r.Kernel} ({flags})" })];
                            }
                            finally
                            {
                                Environment.SetEnvironmentVariable(AttentionKernels.ClusterDecodeVariable, null);
                                Environment.SetEnvironmentVariable(AttentionKernels.DecodeStagesVariable, null);
                                Environment.SetEnvironmentVariable(GemvKernels.Variable, null);
                            }
                        }
                        if ((stagesPassed || archSpecific.ClusterPassed || gemvPassed) && !args.Contains("--no-bench") && Directory.Exists(oneB))
                        {
                            Write(Report(partial: true), sw.Elapsed, print: false);
                            var runs = new List<EngineRun> { new(1) };
                            if (stagesPassed) runs.Add(new(1, Stages: 3));
                            if (archSpecific.ClusterPassed) runs.AddRange([new(1, Cluster: true), new(1, Images: 5, Cluster: true)]);
                            if (gemvPassed) runs.AddRange([new(1, Gemv: true), new(8, Gemv: true), new(8)]);
                            if (new[] { stagesPassed, archSpecific.ClusterPassed, gemvPassed }.Count(x => x) > 1)
                                runs.Add(new(1, Cluster: archSpecific.ClusterPassed, Stages: stagesPassed ? 3 : 2, Gemv: gemvPassed)); // every passed one at once
                            attentionBench = [.. attentionBench, .. Step(errors, "engine bench on cuda, 1B, decode experiments", () => EngineBench(oneB, runs, "experiments run")) ?? []];
                        }
                    }
                }
                finally
                {
                    if (Directory.Exists(oneB)) Directory.Delete(oneB, recursive: true);
                }
            }
            ctx.Dispose();
        }
        var report = Report(partial: false);
        Write(report, sw.Elapsed, print: true);
        return report.Ok ? 0 : 1;

        GpuCheckReport Report(bool partial)
        {
            var stepErrors = partial ? [.. errors, "unfinished: a later stage (architecture-specific kernels, decoder layer, text model, engine on cuda, vision tower) did not return (this report was written before it)"] : errors;
            bool ok = stepErrors.Count == 0 && kernels.All(k => k.Ok) && conformance.All(c => c.Pass);
            return new GpuCheckReport(DateTime.UtcNow.ToString("u"), Environment.MachineName, RuntimeInformation.FrameworkDescription,
                RuntimeInformation.OSDescription, gpu, arch, sms, memory, probe.Summary,
                probe.NvrtcMajor is { } ma ? $"{ma}.{probe.NvrtcMinor}" : null, libraries, kernels, conformance, attentionBench, copy, noGpu, stepErrors, ok, prefillDefaults);
        }

        void Write(GpuCheckReport r, TimeSpan elapsed, bool print)
        {
            try
            {
                Directory.CreateDirectory(args[0]);
                File.WriteAllText(Path.Combine(args[0], "report.json"), JsonSerializer.Serialize(r, ReportJson.Default.GpuCheckReport));
                File.WriteAllText(Path.Combine(args[0], "report.md"), Markdown(r, elapsed));
                if (print) Console.WriteLine(Markdown(r, elapsed));
            }
            catch (Exception e) when (!print) // a partial report that cannot be written must not end the run
            {
                errors.Add($"writing the partial report: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <summary>
    /// `--profile-attention`: one launch of each attention kernel shape the benchmark times, nothing else, for a
    /// profiler to attach to (`ncu -k regex:attention_ owl3-gpu-check --profile-attention`).
    /// </summary>
    private static int ProfileAttention()
    {
        using var ctx = CudaContext.Open();
        using (var cache = new KernelCache(ctx, KernelDirectory))
            new AttentionConformance(ctx, cache).ProfileLaunches();
        return 0;
    }

    /// <summary>
    /// `owl3 bench --device cuda` on <paramref name="dir"/>, once per run of <paramref name="runs"/> (its batch, CUDA graphs
    /// or not, crops a request, cluster decode, decode stages, gemv — each run its own engine, the switches set for it alone):
    /// 512-token prompts, 64 decode steps, one crop through the vision tower (the whole model on the device, tokens chosen
    /// there). A row's gb_per_second field carries the decode tok/s; <paramref name="tag"/> marks rows of one same-run set.
    /// </summary>
    private static List<AttentionBenchRow> EngineBench(string dir, IReadOnlyList<EngineRun> runs, string? tag = null)
    {
        var rows = new List<AttentionBenchRow>();
        using var checkpoint = Owl3Checkpoint.Open(dir);
        foreach (var (batch, graphs, images, clustered, stages, gemv) in runs)
        {
            Environment.SetEnvironmentVariable(Owl3Native.Engine.DeviceTextForward.NoGraphsVariable, graphs ? null : "1");
            Environment.SetEnvironmentVariable(AttentionKernels.ClusterDecodeVariable, clustered ? "1" : null);
            Environment.SetEnvironmentVariable(AttentionKernels.DecodeStagesVariable, stages == 3 ? "3" : null);
            Environment.SetEnvironmentVariable(GemvKernels.Variable, gemv ? "1" : null);
            Owl3Native.Diagnostics.BenchResult r;
            try
            {
                r = Owl3Native.Diagnostics.EndToEndBench.Run(checkpoint, new Owl3Native.Diagnostics.BenchSettings(Batch: batch, PromptTokens: 512, NewTokens: 64,
                    Images: images, VisionCrop: true, Device: "cuda"));
            }
            finally
            {
                Environment.SetEnvironmentVariable(Owl3Native.Engine.DeviceTextForward.NoGraphsVariable, null);
                Environment.SetEnvironmentVariable(AttentionKernels.ClusterDecodeVariable, null);
                Environment.SetEnvironmentVariable(AttentionKernels.DecodeStagesVariable, null);
                Environment.SetEnvironmentVariable(GemvKernels.Variable, null);
            }
            string form = (graphs ? "" : " without CUDA graphs") + (clustered ? " with cluster decode" : "") + (stages == 3 ? " with 3-stage decode" : "") + (gemv ? " with gemv" : "");
            rows.Add(new AttentionBenchRow($"qwen2 engine end to end (cuda), 1B 241101, batch {batch}, decode{form}{(images > 0 ? $", {images} crops a request" : "")}{(tag is null ? "" : $" ({tag})")}",
                $"512-token prompts, 64 steps, device sampling; prefill {r.PrefillTokS:F0} tok/s, ttft {r.TtftMs:F1} ms; one crop encoded in {r.VisionMsPerCrop:F1} ms; device memory in use {r.PeakDeviceMb:F0} MB",
                1000.0 / (r.DecodeTokS / batch), null, r.DecodeTokS, null));
        }
        return rows;
    }

    /// <summary>One engine benchmark run: batch, decode steps from CUDA graphs, crops a request, cluster decode, decode stages, gemv projections.</summary>
    private sealed record EngineRun(int Batch, bool Graphs = true, int Images = 0, bool Cluster = false, int Stages = 2, bool Gemv = false);

    /// <summary>`owl3 verify --device cuda` on a golden folder (checkpoint and goldens in one): each comparison a row.</summary>
    private static List<ConformanceResult> GoldenOnDevice(string dir)
    {
        using var checkpoint = Owl3Checkpoint.Open(dir);
        using var golden = Owl3Native.Verification.GoldenSet.Open(dir);
        var model = new Owl3Native.Models.Owl3.Owl3Model(checkpoint, new Owl3Native.Core.Cpu.CpuBackend(Math.Max(1, Environment.ProcessorCount)));
        using var runner = new Owl3Native.Engine.ModelRunner(model, Owl3Native.Engine.DeviceTextForward.Load(checkpoint, numBlocks: 512, blockSize: 16,
            kernelDirectory: KernelDirectory));
        return [.. new Owl3Native.Verification.DeviceGoldenVerifier(model, golden, runner).Run().Select(c => new ConformanceResult(
            $"golden {Path.GetFileName(dir)} on cuda: {c.Name}", $"{c.Shape}{(c.Note is null ? "" : $"; {c.Note}")}", c.MaxAbs, c.Nmse ?? 0, // token rows: the count is in the note
            Owl3Native.Verification.DeviceGoldenVerifier.NmseBound, c.Status == Owl3Native.Verification.ComparisonStatus.Pass))];
    }

    /// <summary>The kernel disk cache of every stage: the default one under the XDG_CACHE_HOME set at start.</summary>
    private static string KernelDirectory => Path.Combine(Path.GetTempPath(), "owl3-gpu-check-cache", "owl3", "kernels");

    /// <summary><see cref="Step"/> for a value (a tuple): null, not a default tuple of nulls, when the stage failed.</summary>
    private static T? StepValue<T>(List<string> errors, string what, Func<T> run) where T : struct => Step<T?>(errors, what, () => run());

    /// <summary>--only's words: a stage runs when its name contains one of them (null: every stage).</summary>
    private static string[]? _only;

    private static T? Step<T>(List<string> errors, string what, Func<T> run)
    {
        if (_only is { } only && !only.Any(w => what.Contains(w, StringComparison.OrdinalIgnoreCase)))
        {
            Console.Error.WriteLine($"[gpu-check] {what}: skipped (--only)");
            return default;
        }
        // Each stage's wall time goes to stderr (gpu-check.log): where a capped device call spends its seconds.
        var sw = Stopwatch.StartNew();
        try
        {
            return run();
        }
        catch (Exception e) // a diagnostics run records every failure and goes on to the next check
        {
            errors.Add($"{what}: {e.GetType().Name}: {e.Message}");
            return default;
        }
        finally
        {
            Console.Error.WriteLine($"[gpu-check] {what}: {sw.Elapsed.TotalSeconds:F1} s");
        }
    }

    private static LibraryLine Library(CudaLibrary library)
    {
        var p = NativeLibraryResolver.Probe(library);
        string[] names = library switch
        {
            CudaLibrary.Driver => ["cuLaunchKernelEx", "cuOccupancyMaxActiveBlocksPerMultiprocessor", "cuStreamBeginCapture_v2", "cuGraphInstantiateWithFlags"],
            CudaLibrary.Cublas => ["cublasCreate_v2", "cublasGemmEx", "cublasGemmStridedBatchedEx"],
            CudaLibrary.CublasLt => [.. Owl3Native.Cuda.Blas.CublasLtMatmul.EntryPoints],
            _ => [],
        };
        var missing = p.Found ? names.Where(n => !NativeLibrary.TryGetExport(NativeLibraryResolver.Handle(library), n, out _)).ToArray() : [];
        return new LibraryLine(library.ToString(), p.LoadedFrom, p.Tried.Count, missing);
    }

    private static string Markdown(GpuCheckReport r, TimeSpan elapsed)
    {
        var s = new StringBuilder();
        s.AppendLine($"# Owl3Native GPU check — {r.Date}");
        s.AppendLine();
        s.AppendLine($"- Host: {r.Host}, {r.Os}, {r.Runtime}; run took {elapsed.TotalSeconds:F1} s");
        s.AppendLine($"- GPU: {(r.Gpu is null ? $"none ({r.NoGpuReason})" : $"{r.Gpu} ({r.Arch}, {r.Multiprocessors} SMs, {r.MemoryBytes / (1 << 30)} GiB)")}");
        s.AppendLine($"- Driver: {r.Driver}; NVRTC: {r.Nvrtc ?? "not found"}");
        foreach (var l in r.Libraries)
            s.AppendLine($"- library {l.Library}: {l.Path ?? $"not found ({l.Tried} candidates tried)"}{(l.MissingExports.Count > 0 ? $", MISSING exports: {string.Join(", ", l.MissingExports)}" : "")}");
        if (r.CopyGbPerSecond is { } c) s.AppendLine($"- Device-to-device copy: {c:F0} GB/s (read + write)");
        if (r.PrefillDefaults is { } pk) s.AppendLine($"- Prefill kernels here: {pk}");
        s.AppendLine();
        if (r.Kernels.Count > 0)
        {
            s.AppendLine("| kernel | arch | registers | smem | spills | budget | ok |");
            s.AppendLine("|---|---|---:|---:|---:|---|---|");
            foreach (var k in r.Kernels) s.AppendLine($"| {k.File}/{k.Kernel} | {k.Arch} | {k.Registers} | {k.SmemBytes} | {k.SpillStoreBytes + k.SpillLoadBytes} | {k.Budget} | {(k.Ok ? "ok" : "FAIL " + k.Problem)}{(k.Note is null ? "" : $" ({k.Note})")} |");
            s.AppendLine();
        }
        if (r.Conformance.Count > 0)
        {
            s.AppendLine("| kernel vs CPU twin | shape | max-abs | NMSE | bound | GB/s | % of copy | ok |");
            s.AppendLine("|---|---|---:|---:|---:|---:|---:|---|");
            foreach (var k in r.Conformance)
                s.AppendLine($"| {k.Kernel} | {k.Shape} | {k.MaxAbs:g3} | {k.Nmse:g3} | {k.Bound:g1} | {(k.GbPerSecond is { } g ? g.ToString("F0") : "-")} | {(k.GbPerSecond is { } g2 && r.CopyGbPerSecond is { } cp ? (100 * g2 / cp).ToString("F0") : "-")} | {(k.Pass ? "ok" : "FAIL")} |");
            s.AppendLine();
        }
        if (r.AttentionBench.Count > 0)
        {
            s.AppendLine($"| attention benchmark ({r.Gpu}) | shape | ms | TFLOP/s | GB/s | % of copy |");
            s.AppendLine("|---|---|---:|---:|---:|---:|");
            foreach (var b in r.AttentionBench)
                s.AppendLine($"| {b.Kernel} | {b.Shape} | {b.Ms:F3} | {(b.Tflops is { } t ? t.ToString("F0") : "-")} | {(b.GbPerSecond is { } g ? g.ToString("F0") : "-")} | {(b.PercentOfCopy is { } pc ? pc.ToString("F0") : "-")} |");
            s.AppendLine();
        }
        foreach (var e in r.Errors) s.AppendLine($"- ERROR: {e}");
        s.AppendLine($"Result: {(r.Ok ? "all checks that could run passed" : "FAILED")}{(r.Gpu is null ? " (no GPU: kernels compiled only)" : "")}"
            + $"{(_only is { } only ? $"; only the stages named by {string.Join(", ", only.Select(w => $"\"{w}\""))} ran" : "")}.");
        return s.ToString();
    }
}
