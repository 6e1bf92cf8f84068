namespace Owl3Native.Processing.Video;

/// <summary>A video cannot be read: ffmpeg is missing, the file is not a video, or decoding failed.</summary>
public sealed class VideoDecodeException(string path, string message, Exception? inner = null) : Exception($"{path}: {message}", inner)
{
    /// <summary>The video file.</summary>
    public string FilePath { get; } = path;
}
