using Owl3Native.Diagnostics;
using Owl3Native.Models.Checkpoints;

namespace Owl3Native.Cli.Commands;

/// <summary>`owl3 bench (--shape 1b|2b|7b | --model &lt;dir&gt;) [--device cpu|cuda] [...]`.</summary>
internal sealed class BenchCommand : Command
{
    public override string Name => "bench";
    public override string Usage => "bench (--shape 1b|2b|7b | --model <dir>) [--device cpu|cuda] [--batch 1] [--prompt-tokens 128] [--new-tokens 64] [--images 0] [--threads N] [--json]";
    public override string Summary => "end-to-end benchmark: decode and prefill tokens/s, time to first token, vision ms per crop, peak memory";
    public override string? Details =>
        "--shape writes (once) or reuses a random-weight folder of that shape under $OWL3_BENCH_DIR (default: the temp folder)\n" +
        "and loads it through the normal memory-mapped path. decode_tok_s counts decode steps only (no prefill, no vision).";
    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("shape", true, "1b, 2b or 7b: random weights of a released checkpoint's sizes", ValueName: "S"),
        new("variant", true, "variant for --shape (default: the shape's released variant)", ValueName: "V"),
        new("model", true, "a checkpoint folder instead of --shape", ValueName: "DIR"),
        new("device", true, "cpu (default) or cuda", ValueName: "D"),
        new("batch", true, "sequences decoded together (default 1)", ValueName: "N"),
        new("prompt-tokens", true, "prompt length (default 128)", ValueName: "N"),
        new("new-tokens", true, "decode steps (default 64)", ValueName: "N"),
        new("images", true, "crops per sequence (default 0); one crop is always encoded for vision_ms_per_crop", ValueName: "N"),
        new("threads", true, "CPU threads (default: all cores)", ValueName: "N"),
        new("no-vision", false, "skip the one-crop vision timing"),
        new("json", false, "print exactly one JSON document on stdout"),
    ];

    public override int Run(ParsedArgs args, Console console)
    {
        args.NoMorePositionals(0);
        string device = args.Value("device") ?? "cpu";
        if (device is not ("cpu" or "cuda")) throw new UsageException($"--device must be cpu or cuda, not '{device}'");
        string dir;
        if (args.Value("model") is { } model)
        {
            if (args.Value("shape") is not null) throw new UsageException("give --shape or --model, not both");
            dir = model;
        }
        else
        {
            if (!ModelShapeNames.TryParse(args.Value("shape") ?? throw new UsageException("--shape or --model is required"), out var shape) || shape == ModelShape.Tiny && args.Value("shape") != "tiny")
                throw new UsageException($"--shape must be 1b, 2b or 7b, not '{args.Value("shape")}'");
            var variant = shape.ReleasedVariant();
            if (args.Value("variant") is { } v && !Owl3VariantNames.TryParse(v, out variant))
                throw new UsageException($"--variant must be 240728, 241014 or 241101, not '{v}'");
            string root = Environment.GetEnvironmentVariable("OWL3_BENCH_DIR") is { Length: > 0 } r ? r : Path.GetTempPath();
            dir = Path.Combine(root, $"owl3-bench-{shape.Name()}-{variant.Tag()}");
            if (!File.Exists(Path.Combine(dir, Owl3Checkpoint.ConfigFile)))
            {
                console.Error.WriteLine($"writing a random {shape.Name()} checkpoint ({variant.Tag()}) to {dir} (once)...");
                CheckpointMaker.Write(dir, new MakeTinyOptions(variant, shape, Seed: 1, Overwrite: true));
            }
        }
        var settings = new BenchSettings(
            Batch: args.Int("batch", 1, min: 1, max: 1024), PromptTokens: args.Int("prompt-tokens", 128, min: 1, max: 1 << 20),
            NewTokens: args.Int("new-tokens", 64, min: 1, max: 1 << 20), Images: args.Int("images", 0, min: 0, max: 1024),
            Threads: args.Int("threads", 0, min: 0, max: 1024), VisionCrop: !args.Flag("no-vision"), Device: device);
        using var ckpt = Owl3Checkpoint.Open(dir);
        BenchResult result;
        try
        {
            result = EndToEndBench.Run(ckpt, settings, m => console.Error.WriteLine(m));
        }
        catch (Cuda.Runtime.GpuUnavailableException e)
        {
            throw new UserErrorException($"--device cuda: {e.Message}");
        }
        catch (Exception e) when (e is Cuda.Runtime.DeviceOutOfMemoryException || e is Cuda.Runtime.CudaException { Status: "CUDA_ERROR_OUT_OF_MEMORY" })
        {
            throw new UserErrorException($"--device cuda: the model and its KV cache do not fit: {e.Message}");
        }
        if (args.Flag("json")) JsonOutput.Write(console, result, JsonOutput.Default.BenchResult);
        else
        {
            var o = console.Out;
            o.WriteLine($"model         {result.Model} ({result.Variant}), {result.Device}, {result.Threads} threads");
            o.WriteLine($"decode        {result.DecodeTokS:F2} tok/s (batch {result.Batch}, {result.NewTokens} steps); weights {result.WeightGbPerDecodeStep:F2} GB/step = {result.DecodeWeightGbS:F1} GB/s (memcpy {result.MemcpyGbS:F1} GB/s copied, read stream {result.MemoryReadGbS:F1} GB/s)");
            o.WriteLine($"prefill       {result.PrefillTokS:F1} tok/s ({result.PromptTokens} tokens), ttft {result.TtftMs:F0} ms");
            o.WriteLine($"vision        {(result.VisionMsPerCrop is { } vm ? $"{vm:F0} ms per crop" : "not measured")}");
            o.WriteLine($"peak host     {result.PeakHostMb:F0} MB");
        }
        return 0;
    }
}
