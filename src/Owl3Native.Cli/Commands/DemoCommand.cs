using Owl3Native.Models.Checkpoints;

namespace Owl3Native.Cli.Commands;

/// <summary>
/// `owl3 demo`: the README's run command. Until the engine and processing exist it makes (or takes) a checkpoint,
/// loads it through the real path, inspects it, and says plainly which stages are not built yet.
/// </summary>
internal sealed class DemoCommand : Command
{
    public override string Name => "demo";
    public override string Usage => "demo [--model <dir>] [--variant 241101|241014|240728]";
    public override string Summary => "image chat end to end on the embedded default (today: make, load and inspect a tiny checkpoint)";
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
        switch (args.Value("device") ?? "auto")
        {
            case "auto" or "cpu": break;
            case "cuda": throw new UserErrorException("--device cuda: the CUDA backend is not built yet (issues #5, #6); use --device cpu");
            case var d: throw new UsageException($"--device must be auto, cpu or cuda, not '{d}'");
        }
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
                console.Out.WriteLine($"No --model given: making a tiny random-weight checkpoint in {temp} (random weights: its text would be meaningless).");
                CheckpointMaker.Write(temp, new MakeTinyOptions(TinyVariant(args)));
            }
            using (var ckpt = Owl3Checkpoint.Open(dir))
            {
                console.Out.WriteLine($"Loaded {ckpt.Weights.Names.Count} tensors from {string.Join(", ", ckpt.WeightFiles.Select(Path.GetFileName))} (memory-mapped, validated against config.json).");
                console.Out.WriteLine();
                InspectCommand.Print(console.Out, CheckpointSummary.From(ckpt));
            }
            console.Out.WriteLine();
            console.Out.WriteLine("Built so far: checkpoint loading (safetensors, sharded, config, variant detection, weight manifest).");
            console.Out.WriteLine("Not built yet, so no image chat runs today:");
            console.Out.WriteLine("  - CPU backend and model forward / generation (issue #3)");
            console.Out.WriteLine("  - tokenizer, chat template, image and video preprocessing (issue #4)");
            console.Out.WriteLine("  - CUDA bindings and kernels (issues #5, #6)");
            console.Out.WriteLine("  - library API, chat, server (issue #7)");
            return 0;
        }
        finally
        {
            if (temp is not null) Directory.Delete(temp, recursive: true);
        }
    }
}
