using Owl3Native.Models.Checkpoints;

namespace Owl3Native.Cli.Commands;

/// <summary>`owl3 make-tiny &lt;out-dir&gt; --variant V [--shape S] [--seed N] [--shards N]`.</summary>
internal sealed class MakeTinyCommand : Command
{
    public override string Name => "make-tiny";
    public override string Usage => "make-tiny <out-dir> --variant 241101|241014|240728 [--shape tiny|1b|2b|7b] [--seed N] [--shards N] [--json]";
    public override string Summary => "write a random-weight checkpoint in the exact real folder format";
    public override string? Details =>
        """
        Shapes take a released checkpoint's sizes; the hyper variant is --variant's:
          tiny  the goldens' sizes (LLM 64 wide, 5 layers; SigLIP 64 wide, 3 layers); tiny byte-level tokenizer
          1b    1B-241014: Qwen2-0.5B + SigLIP-400M, tied lm_head, hyper layers 6,13,20,22 (released as 241014)
          2b    2B-241014: Qwen2-1.5B + SigLIP-400M, tied lm_head (released as 241014; hyper layers unknown: 1,9,17,25)
          7b    7B: Qwen2-7B + SigLIP-400M (released as 240728 and 241101; hyper layers and vocab rows follow --variant)
        Non-tiny shapes get a synthetic vocabulary with the real Qwen2 id layout. 241101 uses 378 px crops and an MLP
        projector; 240728 and 241014 use 384 px crops and a Linear projector.
        """;
    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("variant", true, "240728, 241014 or 241101 (default: the shape's released variant)", ValueName: "V"),
        new("shape", true, "tiny (default), 1b, 2b or 7b", ValueName: "S"),
        new("seed", true, "seed of the random weights (default 0)", ValueName: "N"),
        new("shards", true, "write N shards plus model.safetensors.index.json (default 1)", ValueName: "N"),
        new("force", false, "write into a folder that is not empty (its checkpoint files are replaced)"),
        new("json", false, "print exactly one JSON document on stdout"),
    ];

    public override int Run(ParsedArgs args, Console console)
    {
        string dir = args.Positional(0, "<out-dir>");
        if (string.IsNullOrWhiteSpace(dir)) throw new UsageException("<out-dir> is empty");
        args.NoMorePositionals(1);
        if (!ModelShapeNames.TryParse(args.Value("shape") ?? "tiny", out var shape))
            throw new UsageException($"--shape must be tiny, 1b, 2b or 7b, not '{args.Value("shape")}'");
        var variant = shape.ReleasedVariant();
        if (args.Value("variant") is { } v && !Owl3VariantNames.TryParse(v, out variant))
            throw new UsageException($"--variant must be 240728, 241014 or 241101, not '{v}'");
        var options = new MakeTinyOptions(variant, shape, args.ULong("seed", 0), args.Int("shards", 1, min: 1, max: 10_000), args.Flag("force"));
        var files = CheckpointMaker.Write(dir, options);
        long bytes = files.Sum(f => new FileInfo(f).Length);
        if (args.Flag("json"))
        {
            JsonOutput.Write(console, new MakeTinyResult(Path.GetFullPath(dir), variant.Tag(), shape.Name(), options.Seed, files.Count(f => f.EndsWith(".safetensors", StringComparison.Ordinal)),
                files.Select(Path.GetFileName).ToArray()!, bytes), JsonOutput.Default.MakeTinyResult);
        }
        else
        {
            console.Out.WriteLine($"wrote {variant.Tag()} {shape.Name()} checkpoint (seed {options.Seed}) to {Path.GetFullPath(dir)}: {files.Count} files, {bytes:N0} bytes");
            foreach (var f in files) console.Out.WriteLine($"  {Path.GetFileName(f)}");
        }
        return 0;
    }
}
