namespace Owl3Native.Processing.Images;

/// <summary>Why an image was refused.</summary>
public enum ImageDecodeError
{
    /// <summary>The file or stream holds no bytes.</summary>
    Empty,
    /// <summary>The encoded file is larger than <see cref="ImageLimits.MaxFileBytes"/>.</summary>
    FileTooLarge,
    /// <summary>Not one of the supported formats (PNG, JPEG, WebP, GIF, BMP, TIFF).</summary>
    UnknownFormat,
    /// <summary>A supported format whose content is damaged, cut short or inconsistent.</summary>
    Corrupt,
    /// <summary>A supported container using a feature this decoder cannot read (e.g. animated WebP).</summary>
    Unsupported,
    /// <summary>The header gives a zero width or height.</summary>
    ZeroSize,
    /// <summary>width·height exceeds <see cref="ImageLimits.MaxPixels"/>.</summary>
    TooManyPixels,
    /// <summary>The long side divided by the short side exceeds <see cref="ImageLimits.MaxAspectRatio"/>.</summary>
    AspectRatioTooLarge,
    /// <summary>Decoding needed more memory than the decoder's allocation limit.</summary>
    OutOfMemory,
}

/// <summary>
/// An image cannot be used: unreadable, damaged, unsupported or beyond <see cref="ImageLimits"/>. The only exception
/// type the image loader lets escape for bad input; the decoder's own exception, if any, is the inner exception.
/// </summary>
public sealed class ImageDecodeException(string source, ImageDecodeError reason, string message, Exception? inner = null)
    : Exception($"{source}: {message}", inner)
{
    /// <summary>The file path, or a description of the stream, the image came from.</summary>
    public string Origin { get; } = source;

    /// <summary>The category of the failure.</summary>
    public ImageDecodeError Reason { get; } = reason;
}
