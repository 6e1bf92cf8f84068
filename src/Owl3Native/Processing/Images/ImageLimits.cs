namespace Owl3Native.Processing.Images;

/// <summary>
/// Bounds applied to an untrusted image before it is decoded. The size checks run on the header
/// (<c>Image.Identify</c>), so a file that claims 100000×100000 pixels is refused without allocating its pixels;
/// the decoder's own allocations are capped as well (<see cref="MaxDecoderAllocationMegabytes"/>).
/// </summary>
public sealed record ImageLimits
{
    /// <summary>The defaults: 64 Mi pixels (as the video frames' limit), 256 MiB files, aspect ratio up to 200:1.</summary>
    public static ImageLimits Default { get; } = new();

    /// <summary>Largest width·height accepted (default 64·2²⁰ = 67,108,864 pixels).</summary>
    public long MaxPixels { get; init; } = 64L << 20;

    /// <summary>Largest encoded file accepted, in bytes (default 256 MiB).</summary>
    public long MaxFileBytes { get; init; } = 256L << 20;

    /// <summary>
    /// Largest ratio of the long side to the short side (default 200, Qwen2-VL's limit); 0 disables the check.
    /// The original accepts any shape, but a 1×100000 strip squashed into square crops carries no usable content, and
    /// bounding the ratio bounds the resampler's intermediate image (output width × input height).
    /// </summary>
    public double MaxAspectRatio { get; init; } = 200;

    /// <summary>
    /// Largest single buffer the decoder may allocate, in MiB; by default derived from <see cref="MaxPixels"/>
    /// (8 bytes per pixel, the 16-bit RGBA layout used for 16-bit sources, plus 64 MiB of slack).
    /// </summary>
    public int MaxDecoderAllocationMegabytes => (int)Math.Min(int.MaxValue, (Math.Min(MaxPixels, long.MaxValue / 8) * 8 >> 20) + 64);

    /// <summary>Throws when a limit is not positive (or the aspect ratio is below 1 and not 0).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit is out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxPixels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxFileBytes);
        if (MaxAspectRatio != 0 && !(MaxAspectRatio >= 1))
            throw new ArgumentOutOfRangeException(nameof(MaxAspectRatio), MaxAspectRatio, "the aspect ratio limit must be ≥ 1, or 0 to disable it");
    }
}
