using System.Globalization;
using Owl3Native.Models.Checkpoints;

namespace Owl3Native.Cli.Commands;

/// <summary>`owl3 inspect &lt;model-dir&gt; [--json]`.</summary>
internal sealed class InspectCommand : Command
{
    public override string Name => "inspect";
    public override string Usage => "inspect <model-dir> [--json]";
    public override string Summary => "load a checkpoint folder and report its variant, sizes, dtypes, hyper layers and KV-cache cost";
    public override string? Details =>
        "A folder that cannot be loaded exits 1 with the loader's one-line error; non-fatal findings are listed as warnings (exit 0).";
    public override IReadOnlyList<OptionSpec> Options => [new("json", false, "print exactly one JSON document on stdout")];

    public override int Run(ParsedArgs args, Console console)
    {
        string dir = args.Positional(0, "<model-dir>");
        if (string.IsNullOrWhiteSpace(dir)) throw new UsageException("<model-dir> is empty");
        args.NoMorePositionals(1);
        using var ckpt = Owl3Checkpoint.Open(dir);
        var summary = CheckpointSummary.From(ckpt);
        if (args.Flag("json")) JsonOutput.Write(console, summary, JsonOutput.Default.CheckpointSummary);
        else Print(console.Out, summary);
        return 0;
    }

    public static void Print(TextWriter o, CheckpointSummary s)
    {
        static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
        static string L(IEnumerable<int> xs) => "[" + string.Join(", ", xs) + "]";
        o.WriteLine($"checkpoint    {s.Directory}");
        o.WriteLine($"variant       {s.VariantDescription}");
        o.WriteLine($"projector     {s.Projector}");
        o.WriteLine($"weights       {string.Join(", ", s.WeightFiles)} ({N(s.WeightBytes)} bytes), {s.Tensors} tensors, dtypes {string.Join(", ", s.DTypes.Select(d => $"{d.Key} x{d.Value}"))}");
        o.WriteLine("parameters");
        foreach (var (group, count) in s.Parameters)
            o.WriteLine($"  {Label(group),-34} {N(count.Parameters),16} params {N(count.Bytes),16} bytes {count.Tensors,5} tensors");
        o.WriteLine($"language      hidden {s.Hidden}, {s.Layers} layers, {s.Heads} heads / {s.KvHeads} kv heads, head dim {s.HeadDim}, intermediate {s.Intermediate}{(s.TiedEmbeddings ? ", tied lm_head" : "")}");
        o.WriteLine($"hyper layers  {L(s.HyperLayersConfig)} in config.json (1-based) = layers {L(s.HyperLayersZeroBased)} (0-based)");
        string tok = s.TokenizerVocab is { } tv ? $"{N(tv)} tokenizer ids" : "no vocab.json";
        o.WriteLine($"vocab         {N(s.VocabRows)} embedding rows, {tok}; tokenizer files: {(s.TokenizerFiles.Count == 0 ? "none" : string.Join(", ", s.TokenizerFiles))}");
        o.WriteLine($"vision        SigLIP hidden {s.VisionHidden}, {s.VisionLayers} layers ({s.VisionLayersUsed} used), crop {s.ImageSize} px, patch {s.PatchSize} -> {s.ImageTokensPerCrop} tokens per crop{(s.UnusedEdgePixels > 0 ? $" ({s.UnusedEdgePixels} edge pixels unused)" : "")}");
        o.WriteLine($"kv cache      {N(s.KvBytesPerTextToken)} bytes per text token, {N(s.KvBytesPerImageCrop)} bytes per image crop (bf16)");
        if (s.Warnings.Count > 0)
        {
            o.WriteLine("warnings");
            foreach (var w in s.Warnings) o.WriteLine($"  - {w}");
        }
    }

    private static string Label(string group) => group switch
    {
        "vision" => "vision (used)",
        "vision_unused" => "vision (unused: last layer, head)",
        "decoder_layers" => "decoder layers",
        "hyper_extra" => "hyper-layer extras",
        "lm_head_unused" => "lm_head (tied, unused)",
        _ => group,
    };
}
