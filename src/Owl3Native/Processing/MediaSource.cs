using Owl3Native.Processing.Images;

namespace Owl3Native.Processing;

/// <summary>One image or video attached to a request, in the order of its placeholder in the text.</summary>
public abstract record MediaSource
{
    /// <summary>An image file (PNG, JPEG, WebP, GIF, BMP, TIFF).</summary>
    public static MediaSource ImageFile(string path) => new ImageSource(path, null, null);

    /// <summary>Encoded image bytes (a data URL's payload, an upload).</summary>
    public static MediaSource ImageBytes(byte[] data, string name = "<image>") => new ImageSource(null, data, name);

    /// <summary>A decoded image.</summary>
    public static MediaSource Image(RgbImage image) => new ImageSource(null, null, null) { Decoded = image };

    /// <summary>A video file (decoded with ffmpeg).</summary>
    public static MediaSource VideoFile(string path) => new VideoSource(path);
}

/// <summary>An image: a path, encoded bytes, or an already decoded image.</summary>
public sealed record ImageSource(string? Path, byte[]? Data, string? Name) : MediaSource
{
    /// <summary>Set when the image is already decoded.</summary>
    public RgbImage? Decoded { get; init; }
}

/// <summary>A video file.</summary>
public sealed record VideoSource(string Path) : MediaSource;
