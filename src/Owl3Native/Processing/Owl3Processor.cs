using Owl3Native.Core.Tensors;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Processing.Images;
using Owl3Native.Processing.Text;
using Owl3Native.Processing.Video;

namespace Owl3Native.Processing;

/// <summary>A request ready for the engine: token ids, the crops `[crops, 3, S, S]` in marker order, marker starts.</summary>
public sealed record ProcessedRequest(string PromptText, int[] InputIds, Tensor? Pixels, int[] MarkerStarts, IReadOnlyList<MediaItem> Media);

/// <summary>Options of the processor.</summary>
/// <param name="Cut">Adaptive cutting of images (spec/PROCESSOR.md §3.4); 240728 cuts only single-image requests (§3.6).</param>
/// <param name="MaxFrames">Frames per video (one per second, then uniformly down-sampled).</param>
/// <param name="Limits">Decoder limits for images.</param>
public sealed record ProcessorOptions(bool Cut = true, int MaxFrames = FrameSampler.DefaultMaxFrames, ImageLimits? Limits = null)
{
    /// <summary>Receives <see cref="EngineStage.DecodingVideo"/> reports while videos are decoded (null: none).</summary>
    public IProgress<EngineProgress>? Progress { get; init; }
}

/// <summary>
/// The whole input pipeline of one checkpoint folder: images decoded, resized PIL-exactly and cut; videos sampled and
/// decoded through ffmpeg; the chat template and media expansion of the checkpoint's generation; chunk-wise tokens and
/// each `&lt;|image|&gt;` marker's start. Media are matched to placeholders in text order for every variant.
/// </summary>
public sealed class Owl3Processor
{
    private readonly PromptBuilder _prompts;

    /// <summary>A processor from its parts; <see cref="For"/> builds one from a checkpoint folder.</summary>
    /// <param name="tokenizer">The checkpoint's Qwen2 tokenizer.</param>
    /// <param name="variant">Decides the prompt layout and media expansion (and that 240728 never cuts several images).</param>
    /// <param name="cropSize">Side of a square vision crop in pixels (<c>vision_config.image_size</c>, 384 in the released checkpoints).</param>
    public Owl3Processor(Qwen2Tokenizer tokenizer, Owl3Variant variant, int cropSize)
    {
        Tokenizer = tokenizer;
        Variant = variant;
        CropSize = cropSize;
        _prompts = new PromptBuilder(tokenizer, variant);
    }

    /// <summary>The processor of an opened checkpoint: its tokenizer files, variant and `vision_config.image_size`.</summary>
    /// <exception cref="TokenizerFileException">The folder's tokenizer files are missing or corrupt.</exception>
    public static Owl3Processor For(Owl3Checkpoint checkpoint) =>
        new(Qwen2Tokenizer.Load(checkpoint.Directory), checkpoint.Variant, checkpoint.Config.Vision.ImageSize);

    /// <summary>The tokenizer prompts are encoded with (and generated tokens decoded with).</summary>
    public Qwen2Tokenizer Tokenizer { get; }
    /// <summary>The checkpoint's hyper-attention variant, which shapes the prompt and media expansion.</summary>
    public Owl3Variant Variant { get; }
    /// <summary>Side of a square vision crop in pixels; images and video frames are resized to crops of this size.</summary>
    public int CropSize { get; }

    /// <summary>
    /// Builds a request. <paramref name="messages"/> should end with an empty assistant message to get the generation
    /// prompt; <paramref name="media"/> holds one source per `&lt;|image|&gt;`/`&lt;|video|&gt;` placeholder of the user
    /// messages, in text order.
    /// </summary>
    /// <exception cref="MediaMismatchException">Placeholders and media differ in number or kind.</exception>
    /// <exception cref="ImageDecodeException">An image cannot be decoded or breaks the limits.</exception>
    /// <exception cref="VideoDecodeException">A video cannot be decoded (or ffmpeg is missing).</exception>
    public ProcessedRequest Process(IReadOnlyList<PromptMessage> messages, IReadOnlyList<MediaSource> media, ProcessorOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= new ProcessorOptions();
        int images = media.Count(m => m is ImageSource);
        bool cut = options.Cut && !(Variant == Owl3Variant.V240728 && images > 1); // §3.6: 240728 multi-image cutting is broken
        var crops = new List<float[]>();
        var items = new List<MediaItem>();
        foreach (var source in media)
        {
            cancellation.ThrowIfCancellationRequested();
            switch (source)
            {
                case ImageSource img:
                {
                    var rgb = img.Decoded ?? (img.Path is not null ? ImageLoader.Load(img.Path, options.Limits) : ImageLoader.Load(img.Data!, options.Limits, img.Name ?? "<image>"));
                    var processed = ImageProcessor.Process(rgb, CropSize, cut);
                    crops.Add(processed.PixelValues);
                    items.Add(processed.Grid is { } g ? new ImageItem(g.Rows, g.Cols) : ImageItem.Uncut);
                    break;
                }
                case VideoSource video:
                {
                    var info = VideoDecoder.Probe(video.Path);
                    var progress = options.Progress;
                    var frames = VideoDecoder.Decode(video.Path, info, FrameSampler.OnePerSecond(info.FrameCount, info.AverageFps, options.MaxFrames), cancellation,
                        progress is null ? null : (done, total) => progress.Report(new EngineProgress(EngineStage.DecodingVideo, done, total, Path.GetFileName(video.Path))));
                    foreach (var f in frames) crops.Add(ImageProcessor.Process(new RgbImage(f.Width, f.Height, f.Rgb), CropSize, cut: false).PixelValues);
                    items.Add(new VideoItem(frames.Count));
                    break;
                }
            }
        }
        var prompt = _prompts.Build(messages, items);
        Tensor? pixels = null;
        if (crops.Count > 0)
        {
            int per = 3 * CropSize * CropSize, total = crops.Sum(c => c.Length) / per;
            var data = new float[total * per];
            int offset = 0;
            foreach (var c in crops) { c.CopyTo(data, offset); offset += c.Length; }
            pixels = new Tensor(data, total, 3, CropSize, CropSize);
        }
        if ((pixels?.Dim(0) ?? 0) != prompt.MarkerStarts.Length)
            throw new MediaMismatchException($"{pixels?.Dim(0) ?? 0} crops but {prompt.MarkerStarts.Length} image markers after expansion", prompt.MarkerStarts.Length, pixels?.Dim(0) ?? 0);
        return new ProcessedRequest(prompt.Text, prompt.InputIds, pixels, prompt.MarkerStarts, items);
    }
}
