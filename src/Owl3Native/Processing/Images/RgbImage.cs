namespace Owl3Native.Processing.Images;

/// <summary>
/// An 8-bit RGB image, pixels interleaved row-major (`[height, width, 3]`, R G B), what PIL holds after
/// `convert("RGB")` (spec/PROCESSOR.md §2). Immutable by convention: the processor never writes into an input.
/// </summary>
public sealed class RgbImage
{
    /// <summary>Bytes per pixel (R, G, B).</summary>
    public const int Channels = 3;

    /// <summary>Wraps <paramref name="pixels"/> (not copied) as a <paramref name="width"/>×<paramref name="height"/> image.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is not positive.</exception>
    /// <exception cref="ArgumentException"><paramref name="pixels"/> does not hold exactly width·height·3 bytes.</exception>
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentNullException.ThrowIfNull(pixels);
        long expected = (long)width * height * Channels;
        if (pixels.LongLength != expected)
            throw new ArgumentException($"a {width}x{height} RGB image needs {expected} bytes; got {pixels.LongLength}", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Interleaved RGB bytes, `[height, width, 3]`.</summary>
    public byte[] Pixels { get; }

    /// <summary>Number of pixels (width·height).</summary>
    public long PixelCount => (long)Width * Height;

    /// <summary>The bytes of row <paramref name="y"/> (width·3 of them).</summary>
    public ReadOnlySpan<byte> Row(int y) => Pixels.AsSpan(y * Width * Channels, Width * Channels);

    /// <summary>The (R, G, B) of pixel (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            int i = (y * Width + x) * Channels;
            return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"RgbImage {Width}x{Height}";
}
