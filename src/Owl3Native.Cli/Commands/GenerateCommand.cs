using System.Globalization;
using Owl3Native.Processing;
using Owl3Native.Processing.Text;

namespace Owl3Native.Cli.Commands;

internal sealed record GenerateUsage(int PromptTokens, int CompletionTokens, int TotalTokens);
internal sealed record GenerateTimings(double PrefillMs, double DecodeMs, double DecodeTokS);
internal sealed record GenerateResult(string Text, IReadOnlyList<int> TokenIds, string FinishReason, GenerateUsage Usage, GenerateTimings Timings);

/// <summary>`owl3 generate --model &lt;dir&gt; [--image P]... [--video P]... --prompt S [...]`.</summary>
internal sealed class GenerateCommand : Command
{
    public override string Name => "generate";
    public override string Usage => "generate --model <dir> [--image P]... [--video P]... --prompt S [--system S] [--max-new-tokens N] [--temperature T] [--top-p P] [--top-k K] [--repetition-penalty R] [--stop S]... [--seed N] [--no-cut] [--max-frames N] [--device auto|cpu|cuda] [--json]";
    public override string Summary => "one-shot generation, streamed to stdout (defaults from generation_config.json; --temperature 0 = greedy)";
    public override string? Details =>
        "Media attach to `<|image|>` / `<|video|>` placeholders of the prompt in order; a prompt without placeholders gets one\n" +
        "per attached medium in front (videos, then images).";
    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("model", true, "checkpoint folder", ValueName: "DIR"),
        new("image", true, "an image file", Repeatable: true, ValueName: "P"),
        new("video", true, "a video file (needs ffmpeg)", Repeatable: true, ValueName: "P"),
        new("prompt", true, "the user message", ValueName: "S"),
        new("system", true, "a system message", ValueName: "S"),
        new("max-new-tokens", true, "new-token budget (default: generation_config.json, else 512)", ValueName: "N"),
        new("temperature", true, "0 = greedy", ValueName: "T"),
        new("top-p", true, "nucleus sampling", ValueName: "P"),
        new("top-k", true, "top-k sampling (0 = off)", ValueName: "K"),
        new("repetition-penalty", true, "HF repetition penalty", ValueName: "R"),
        new("stop", true, "stop string", Repeatable: true, ValueName: "S"),
        new("seed", true, "sampling seed (default 0)", ValueName: "N"),
        new("no-cut", false, "no adaptive image cutting"),
        new("max-frames", true, "frames per video (default 16)", ValueName: "N"),
        new("device", true, "auto (default), cpu or cuda", ValueName: "D"),
        new("threads", true, "CPU threads (default: all cores)", ValueName: "N"),
        new("json", false, "print exactly one JSON document: {text, token_ids, finish_reason, usage, timings}"),
    ];

    public override int Run(ParsedArgs args, Console console)
    {
        args.NoMorePositionals(0);
        string model = args.Value("model") ?? throw new UsageException("--model is required");
        string prompt = args.Value("prompt") ?? throw new UsageException("--prompt is required");
        string device = args.Value("device") ?? "auto";
        if (device is not ("auto" or "cpu" or "cuda")) throw new UsageException($"--device must be auto, cpu or cuda, not '{device}'");
        var media = args.Values("video").Select(MediaSource.VideoFile).Concat(args.Values("image").Select(MediaSource.ImageFile)).ToList();
        if (media.Count > 0 && !prompt.Contains(MediaTemplates.ImageMarker, StringComparison.Ordinal) && !prompt.Contains(MediaTemplates.VideoMarker, StringComparison.Ordinal))
            prompt = string.Concat(args.Values("video").Select(_ => MediaTemplates.VideoMarker)) + string.Concat(args.Values("image").Select(_ => MediaTemplates.ImageMarker)) + prompt;
        var messages = new List<PromptMessage>();
        if (args.Value("system") is { } system) messages.Add(new PromptMessage(PromptRole.System, system));
        messages.Add(new PromptMessage(PromptRole.User, prompt));
        var settings = new GenerationSettings(
            MaxNewTokens: args.Value("max-new-tokens") is null ? null : args.Int("max-new-tokens", 0, min: 1, max: 1 << 20),
            Temperature: Float(args, "temperature"), TopK: args.Value("top-k") is null ? null : args.Int("top-k", 0, min: 0),
            TopP: Float(args, "top-p"), RepetitionPenalty: Float(args, "repetition-penalty"), Seed: args.ULong("seed", 0),
            Stop: args.Values("stop"), Cut: !args.Flag("no-cut"), MaxFrames: args.Int("max-frames", 16, min: 1, max: 4096));
        bool json = args.Flag("json");
        GenerationOutput output;
        using (var engine = LoadEngine(model, new EngineOptions(Device: device, Threads: args.Int("threads", 0, min: 0, max: 1024), Progress: TerminalProgress.For(console, json))))
        {
            try
            {
                output = engine.Generate(messages, media, settings, json ? null : text => { console.Out.Write(text); console.Out.Flush(); });
            }
            catch (Exception e) when (e is MediaMismatchException or Processing.Images.ImageDecodeException or Processing.Video.VideoDecodeException or ArgumentException)
            {
                throw new UserErrorException(e.Message);
            }
        }
        double decodeTokS = output.TokenIds.Count > 1 ? (output.TokenIds.Count - 1) / (output.DecodeMs / 1000) : 0;
        if (json)
            JsonOutput.Write(console, new GenerateResult(output.Text, output.TokenIds, output.FinishReason.ToString().ToLowerInvariant(),
                new GenerateUsage(output.PromptTokens, output.TokenIds.Count, output.PromptTokens + output.TokenIds.Count),
                new GenerateTimings(output.PrefillMs, output.DecodeMs, decodeTokS)), JsonOutput.Default.GenerateResult);
        else
        {
            console.Out.WriteLine();
            console.Error.WriteLine($"[{output.FinishReason.ToString().ToLowerInvariant()}; {output.PromptTokens} prompt tokens, {output.TokenIds.Count} new; ttft {output.PrefillMs:F0} ms, {decodeTokS:F1} tok/s]");
        }
        return 0;
    }

    internal static Owl3Engine LoadEngine(string model, int threads) => LoadEngine(model, new EngineOptions(Threads: threads));

    internal static Owl3Engine LoadEngine(string model, EngineOptions options)
    {
        try
        {
            return Owl3Engine.Load(model, options);
        }
        catch (TokenizerFileException e)
        {
            throw new UserErrorException(e.Message);
        }
        catch (Cuda.Runtime.GpuUnavailableException e)
        {
            throw new UserErrorException($"--device {options.Device}: {e.Message}");
        }
        catch (Exception e) when (e is Cuda.Runtime.DeviceOutOfMemoryException || e is Cuda.Runtime.CudaException { Status: "CUDA_ERROR_OUT_OF_MEMORY" })
        {
            throw new UserErrorException($"--device {options.Device}: the model and its KV cache do not fit: {e.Message}");
        }
    }

    private static float? Float(ParsedArgs args, string name)
    {
        string? s = args.Value(name);
        if (s is null) return null;
        if (!float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v))
            throw new UsageException($"--{name} expects a number, got '{s}'");
        return v;
    }
}
