using Owl3Native.Models.Checkpoints;
using Owl3Native.Processing;
using Owl3Native.Processing.Text;

namespace Owl3Native.Cli.Commands;

/// <summary>
/// `owl3 demo`: the README's run command. Until the engine and processing exist it makes (or takes) a checkpoint,
/// loads it through the real path, inspects it, and says plainly which stages are not built yet.
/// </summary>
internal sealed class DemoCommand : Command
{
    public override string Name => "demo";
    public override string Usage => "demo [--model <dir>] [--variant 241101|241014|240728]";
    public override string Summary => "an image chat end to end on the embedded default (CPU); a tiny random checkpoint is made when no --model is given";
    /// <summary>A 320×240 RGB gradient with a 32-pixel checkerboard in blue, as PNG.</summary>
    private static void WriteDemoImage(string path)
    {
        using var img = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(320, 240);
        for (int y = 0; y < img.Height; y++)
            for (int x = 0; x < img.Width; x++)
                img[x, y] = new SixLabors.ImageSharp.PixelFormats.Rgb24((byte)(x * 255 / 319), (byte)(y * 255 / 239), (byte)(((x / 32 + y / 32) % 2) == 0 ? 40 : 215));
        SixLabors.ImageSharp.ImageExtensions.SaveAsPng(img, path);
    }

    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("model", true, "a checkpoint folder (default: a tiny random checkpoint made on the fly)", ValueName: "DIR"),
        new("variant", true, "variant of the tiny checkpoint (default 241101)", ValueName: "V"),
        new("device", true, "auto (default), cpu or cuda", ValueName: "D"),
    ];

    private static Owl3Variant TinyVariant(ParsedArgs args)
    {
        var variant = Owl3Variant.V241101;
        if (args.Value("variant") is { } v && !Owl3VariantNames.TryParse(v, out variant))
            throw new UsageException($"--variant must be 240728, 241014 or 241101, not '{v}'");
        return variant;
    }

    public override int Run(ParsedArgs args, Console console)
    {
        args.NoMorePositionals(0);
        string device = args.Value("device") ?? "auto";
        if (device is not ("auto" or "cpu" or "cuda")) throw new UsageException($"--device must be auto, cpu or cuda, not '{device}'");
        if (args.Value("model") is not null && args.Value("variant") is not null)
            throw new UsageException("--variant applies to the tiny checkpoint made when no --model is given");
        string? temp = null;
        string dir;
        if (args.Value("model") is { } model)
        {
            dir = model;
        }
        else
        {
            TinyVariant(args); // validate before making anything
            temp = Directory.CreateTempSubdirectory("owl3-demo-").FullName;
            dir = temp;
        }
        try
        {
            if (temp is not null)
            {
                console.Out.WriteLine($"No --model given: making a tiny random-weight checkpoint in {temp} (random weights: its text is meaningless).");
                CheckpointMaker.Write(temp, new MakeTinyOptions(TinyVariant(args)));
            }
            using var engine = GenerateCommand.LoadEngine(dir, new EngineOptions(Device: device));
            var summary = CheckpointSummary.From(engine.Checkpoint);
            console.Out.WriteLine($"Loaded {summary.VariantDescription}: {summary.Parameters["total"].Parameters:N0} parameters, {summary.Tensors} tensors, memory-mapped; {(engine.Device == "cpu" ? "CPU backend" : "vision tower and language model on the GPU")}.");
            string image = Path.Combine(temp ?? Path.GetTempPath(), "owl3-demo-image.png");
            WriteDemoImage(image);
            const string question = "<|image|>What is in this picture?";
            console.Out.WriteLine($"Image: {image} (a generated gradient with a checkerboard)");
            console.Out.WriteLine($"User: {question}");
            console.Out.Write("Assistant: ");
            var output = engine.Generate([new PromptMessage(PromptRole.User, question)], [MediaSource.ImageFile(image)],
                new GenerationSettings(MaxNewTokens: 24, Temperature: 0), text => console.Out.Write(text));
            console.Out.WriteLine();
            console.Out.WriteLine($"[{output.FinishReason.ToString().ToLowerInvariant()}: {output.PromptTokens} prompt tokens ({engine.Processor.Process(
                [new PromptMessage(PromptRole.User, question), new PromptMessage(PromptRole.Assistant, "")], [MediaSource.ImageFile(image)]).MarkerStarts.Length} image crops), " +
                $"{output.TokenIds.Count} new tokens, ttft {output.PrefillMs:F0} ms]");
            if (temp is not null)
                console.Out.WriteLine("Give --model <folder of a real checkpoint> for meaningful answers.");
            return 0;
        }
        finally
        {
            if (temp is not null) Directory.Delete(temp, recursive: true);
        }
    }
}
