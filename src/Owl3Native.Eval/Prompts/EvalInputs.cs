using Owl3Native.Eval.Data;
using Owl3Native.Processing;
using Owl3Native.Processing.Images;
using Owl3Native.Processing.Text;
using Owl3Native.Processing.Video;

namespace Owl3Native.Eval.Prompts;

/// <summary>A record ready for <c>Owl3Processor.Process</c>: messages with videos expanded, one medium per `&lt;|image|&gt;`, cut flag.</summary>
/// <param name="Messages">The chat messages (system/user/assistant as the task builds them).</param>
/// <param name="Media">Images in marker order: record images, then nothing else, or all video frames in video then frame order.</param>
/// <param name="Cut">Image cutting.</param>
public sealed record EvalInputs(IReadOnlyList<PromptMessage> Messages, IReadOnlyList<MediaSource> Media, bool Cut);

/// <summary>
/// Record → model inputs (spec/EVAL.md §1.3): images become media sources (a missing file fails loudly), each video is
/// decoded to its frames, `&lt;|video|&gt;` becomes a run of `&lt;|image|&gt;` and the processor sees only images.
/// </summary>
public static class EvalInputBuilder
{
    /// <summary>Decodes the frames of a video file.</summary>
    public delegate IReadOnlyList<RgbImage> FrameDecoder(EvalVideo video);

    /// <summary>Builds the inputs of <paramref name="prompt"/>; <paramref name="decode"/> turns a video file into its frames.</summary>
    /// <exception cref="FileNotFoundException">An image or frame file is missing.</exception>
    /// <exception cref="EvalPromptException">A video yielded a frame count other than the task's.</exception>
    public static EvalInputs Build(EvalPrompt prompt, FrameDecoder decode)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(decode);
        var media = new List<MediaSource>();
        foreach (var image in prompt.Images) media.Add(image.ToMediaSource());
        foreach (var video in prompt.Videos)
        {
            if (video.IsFrameFolder)
            {
                foreach (var file in FrameIndices.FrameFolderFiles(video))
                    media.Add(File.Exists(file) ? MediaSource.ImageFile(file) : throw new FileNotFoundException($"frame file not found: {file}", file));
                continue;
            }
            var frames = decode(video);
            if (frames.Count != video.NumFrames)
                throw new InvalidOperationException($"{video.Path}: decoded {frames.Count} frames, expected {video.NumFrames}");
            media.AddRange(frames.Select(MediaSource.Image));
        }
        return new EvalInputs(prompt.Messages(), media, prompt.Cut);
    }

    /// <summary>
    /// The default decoder: probe with ffprobe, pick <see cref="FrameIndices.ForVideo"/> (clip mode with a per-record seed
    /// from <see cref="FrameIndices.SeedFor"/>), decode those frames with ffmpeg.
    /// </summary>
    public static FrameDecoder FfmpegDecoder(EvalRecord record, SegmentSampling sampling = SegmentSampling.Random, int runSeed = 0)
    {
        ArgumentNullException.ThrowIfNull(record);
        return video =>
        {
            if (!File.Exists(video.Path)) throw new FileNotFoundException($"video file not found: {video.Path}", video.Path);
            var info = VideoDecoder.Probe(video.Path);
            var random = new Random(FrameIndices.SeedFor(runSeed, record.DsName, record.Index));
            var indices = FrameIndices.ForVideo(info.FrameCount, info.AverageFps, video.NumFrames, video.Bound, sampling, random);
            return VideoDecoder.Decode(video.Path, info, indices).Select(f => new RgbImage(f.Width, f.Height, f.Rgb)).ToArray();
        };
    }
}
