using System.Collections.Concurrent;
using System.Globalization;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Memory;

namespace Owl3Native.Processing.Images;

/// <summary>
/// Reads untrusted image files into <see cref="RgbImage"/>: PNG, JPEG, WebP (still), GIF (first frame), BMP, TIFF
/// (first page), converted to RGB as PIL's <c>convert("RGB")</c> does (see <see cref="PilRgbConversion"/>).
/// Order of checks: file size, format signature, header dimensions against <see cref="ImageLimits"/> (no pixel is
/// allocated before that), container completeness, then the decode under an allocation limit. Every failure caused by
/// the content surfaces as <see cref="ImageDecodeException"/>; no decoder exception type escapes.
/// </summary>
public static class ImageLoader
{
    private static readonly ConcurrentDictionary<int, Configuration> s_configurations = new();

    /// <summary>Loads the image file at <paramref name="path"/>.</summary>
    /// <exception cref="ImageDecodeException">The content is unusable or beyond <paramref name="limits"/>.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static RgbImage Load(string path, ImageLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        limits ??= ImageLimits.Default;
        limits.Validate();
        long length = new FileInfo(path).Length; // throws FileNotFoundException for a missing file
        if (length > Math.Min(limits.MaxFileBytes, Array.MaxLength))
            throw TooLarge(path, length, limits);
        return Decode(File.ReadAllBytes(path), limits, path);
    }

    /// <summary>Loads an image from <paramref name="stream"/> (read to its end, at most <see cref="ImageLimits.MaxFileBytes"/>).</summary>
    /// <param name="stream">The encoded image; read from its current position.</param>
    /// <param name="limits">Bounds; <see cref="ImageLimits.Default"/> when null.</param>
    /// <param name="name">What to call the image in error messages.</param>
    /// <exception cref="ImageDecodeException">The content is unusable or beyond <paramref name="limits"/>.</exception>
    public static RgbImage Load(Stream stream, ImageLimits? limits = null, string name = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(stream);
        limits ??= ImageLimits.Default;
        limits.Validate();
        long max = Math.Min(limits.MaxFileBytes, Array.MaxLength);
        if (stream.CanSeek && stream.Length - stream.Position > max)
            throw TooLarge(name, stream.Length - stream.Position, limits);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > max)
                throw TooLarge(name, buffer.Length + read, limits);
            buffer.Write(chunk, 0, read);
        }
        return Decode(buffer.ToArray(), limits, name);
    }

    /// <summary>Loads an image from encoded bytes held in memory.</summary>
    /// <exception cref="ImageDecodeException">The content is unusable or beyond <paramref name="limits"/>.</exception>
    public static RgbImage Load(byte[] data, ImageLimits? limits = null, string name = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(data);
        limits ??= ImageLimits.Default;
        limits.Validate();
        return Decode(data, limits, name);
    }

    private static RgbImage Decode(byte[] data, ImageLimits limits, string name)
    {
        if (data.Length == 0)
            throw new ImageDecodeException(name, ImageDecodeError.Empty, "the image file is empty (0 bytes)");
        if (data.LongLength > limits.MaxFileBytes)
            throw TooLarge(name, data.LongLength, limits);

        var config = s_configurations.GetOrAdd(limits.MaxDecoderAllocationMegabytes, CreateConfiguration);
        var format = Image.DetectFormat(config, data);
        if (format is null)
        {
            string start = Convert.ToHexString(data.AsSpan(0, Math.Min(8, data.Length)));
            throw new ImageDecodeException(name, ImageDecodeError.UnknownFormat,
                $"not a supported image (PNG, JPEG, WebP, GIF, BMP, TIFF); the file starts with {start}");
        }

        IImageInfo? info;
        try
        {
            info = Image.Identify(config, data, out _);
        }
        catch (Exception e) when (e is not ImageDecodeException)
        {
            throw Wrap(name, format, "header", e);
        }
        if (info is null)
            throw new ImageDecodeException(name, ImageDecodeError.UnknownFormat, $"{format.Name} header not recognised");
        CheckDimensions(name, format, info.Width, info.Height, limits);

        if (ContainerCheck.FindDamage(data, format) is { } damage)
            throw new ImageDecodeException(name, ImageDecodeError.Corrupt, $"{format.Name}: {damage}");

        RgbImage image;
        try
        {
            image = PilRgbConversion.Decode(config, data, format, info);
        }
        catch (Exception e) when (e is not ImageDecodeException)
        {
            throw Wrap(name, format, "pixel data", e);
        }
        // A decoder could disagree with its own header; the limits hold for what was actually produced.
        CheckDimensions(name, format, image.Width, image.Height, limits);
        return image;
    }

    private static void CheckDimensions(string name, IImageFormat format, int width, int height, ImageLimits limits)
    {
        if (width <= 0 || height <= 0)
            throw new ImageDecodeException(name, ImageDecodeError.ZeroSize, $"{format.Name} image has a zero size ({width}x{height})");
        long pixels = (long)width * height;
        if (pixels > limits.MaxPixels)
            throw new ImageDecodeException(name, ImageDecodeError.TooManyPixels,
                $"{format.Name} image is {width}x{height} = {pixels:N0} pixels, more than the limit of {limits.MaxPixels:N0}");
        double ratio = (double)Math.Max(width, height) / Math.Min(width, height);
        if (limits.MaxAspectRatio > 0 && ratio > limits.MaxAspectRatio)
            throw new ImageDecodeException(name, ImageDecodeError.AspectRatioTooLarge,
                string.Create(CultureInfo.InvariantCulture, $"{format.Name} image is {width}x{height}, an aspect ratio of " +
                    $"{ratio:0.#}:1, more than the limit of {limits.MaxAspectRatio:0.#}:1"));
    }

    private static ImageDecodeException Wrap(string name, IImageFormat format, string part, Exception e) => e switch
    {
        InvalidMemoryOperationException or OutOfMemoryException => new ImageDecodeException(name, ImageDecodeError.OutOfMemory,
            $"decoding the {format.Name} {part} needs more memory than allowed: {e.Message}", e),
        NotSupportedException => new ImageDecodeException(name, ImageDecodeError.Unsupported,
            $"unsupported {format.Name} {part}: {e.Message}", e),
        _ => new ImageDecodeException(name, ImageDecodeError.Corrupt, $"damaged {format.Name} {part}: {e.Message}", e),
    };

    private static ImageDecodeException TooLarge(string name, long bytes, ImageLimits limits) =>
        new(name, ImageDecodeError.FileTooLarge, $"the file holds {bytes:N0} bytes or more, more than the limit of {limits.MaxFileBytes:N0}");

    // Only the six formats the engine supports (no TGA/PBM: their weak signatures would accept random bytes), and an
    // allocator whose single-buffer limit follows ImageLimits.MaxPixels and which keeps at most 64 MiB pooled between
    // decodes (the default pool grows with the machine's memory and would hold a large image's buffers in a server).
    private static Configuration CreateConfiguration(int allocationLimitMegabytes) => new(
        new PngConfigurationModule(), new JpegConfigurationModule(), new GifConfigurationModule(),
        new BmpConfigurationModule(), new TiffConfigurationModule(), new WebpConfigurationModule())
    {
        MemoryAllocator = MemoryAllocator.Create(new MemoryAllocatorOptions
        {
            AllocationLimitMegabytes = allocationLimitMegabytes,
            MaximumPoolSizeMegabytes = 64,
        }),
    };
}
