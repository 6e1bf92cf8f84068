using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;
using Owl3Native.Processing.Images;
using Owl3Native.Processing.Text;
using Owl3Native.Models.Checkpoints;

namespace Owl3Native.Cli.Commands;

internal sealed record PreprocessResult(string Image, int Width, int Height, int ImageSize, bool Cut, int? GridRows, int? GridCols, int Crops, int[] PixelValuesShape, string ExpandedText);

/// <summary>`owl3 preprocess --model &lt;dir&gt; --image &lt;path&gt; [--image-size N] [--no-cut] [--dump F] [--json]`.</summary>
internal sealed class PreprocessCommand : Command
{
    public override string Name => "preprocess";
    public override string Usage => "preprocess --model <dir> --image <path> [--image-size N] [--no-cut] [--dump <file.safetensors>] [--json]";
    public override string Summary => "the model's image preprocessing: chosen cut grid, expanded marker text, pixel tensor shape";
    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("model", true, "checkpoint folder (its config.json gives the crop size and the generation)", ValueName: "DIR"),
        new("image", true, "the image", ValueName: "P"),
        new("image-size", true, "crop size S (default: vision_config.image_size)", ValueName: "N"),
        new("no-cut", false, "no adaptive cutting"),
        new("dump", true, "write pixel_values (F32 [crops, 3, S, S]) to a safetensors file", ValueName: "FILE"),
        new("json", false, "print exactly one JSON document"),
    ];

    public override int Run(ParsedArgs args, Console console)
    {
        args.NoMorePositionals(0);
        string modelDir = args.Value("model") ?? throw new UsageException("--model is required");
        string imagePath = args.Value("image") ?? throw new UsageException("--image is required");
        var warnings = new List<string>();
        var config = Core.Config.ConfigLoader.LoadModelConfig(Path.Combine(modelDir, "config.json"), warnings);
        var variant = VariantFromFolder(modelDir);
        int size = args.Int("image-size", config.Vision.ImageSize, min: 1, max: ImageProcessor.MaxCropSize);
        bool cut = !args.Flag("no-cut");
        ProcessedImage processed;
        RgbImage image;
        try
        {
            image = ImageLoader.Load(imagePath);
            processed = ImageProcessor.Process(image, size, cut);
        }
        catch (ImageDecodeException e)
        {
            throw new UserErrorException(e.Message);
        }
        var item = processed.Grid is { } g ? new ImageItem(g.Rows, g.Cols) : ImageItem.Uncut;
        string text = MediaTemplates.Image(item, variant);
        if (args.Value("dump") is { } dump)
        {
            var w = new SafeTensorWriter();
            w.AddF32("pixel_values", new Shape(processed.Shape.Select(d => (long)d).ToArray()), processed.PixelValues);
            w.WriteTo(dump);
        }
        var result = new PreprocessResult(Path.GetFullPath(imagePath), image.Width, image.Height, size, cut, processed.Grid?.Rows, processed.Grid?.Cols,
            processed.Crops, processed.Shape, text);
        if (args.Flag("json")) JsonOutput.Write(console, result, JsonOutput.Default.PreprocessResult);
        else
        {
            console.Out.WriteLine($"image         {result.Image} ({image.Width}x{image.Height})");
            console.Out.WriteLine($"crop size     {size} ({variant.Tag()} templates)");
            console.Out.WriteLine($"cut grid      {(processed.Grid is { } gg ? $"{gg.Rows} rows x {gg.Cols} cols + global view" : "none (one crop)")}");
            console.Out.WriteLine($"pixel_values  [{string.Join(", ", processed.Shape)}]");
            console.Out.WriteLine("marker text:");
            console.Out.WriteLine(text);
        }
        return 0;
    }

    /// <summary>The generation's templates: detected from the weights when present, else from the config's vision size.</summary>
    private static Models.Checkpoints.Owl3Variant VariantFromFolder(string dir)
    {
        bool hasWeights = File.Exists(Path.Combine(dir, Models.Checkpoints.Owl3Checkpoint.WeightsFile)) || File.Exists(Path.Combine(dir, Models.Checkpoints.Owl3Checkpoint.IndexFile));
        if (!hasWeights) return Models.Checkpoints.Owl3Variant.V241101;
        using var ckpt = Models.Checkpoints.Owl3Checkpoint.Open(dir);
        return ckpt.Variant;
    }
}
