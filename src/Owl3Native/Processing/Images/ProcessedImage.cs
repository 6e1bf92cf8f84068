namespace Owl3Native.Processing.Images;

/// <summary>
/// The crops of one image, ready for the vision tower (spec/PROCESSOR.md §2–3): for a cut image the tiles row-major
/// (crop i·cols + j is row i, column j), then the global view; for an uncut image the global view alone.
/// </summary>
public sealed class ProcessedImage
{
    internal ProcessedImage(byte[] pixelBytes, float[] pixelValues, int crops, int cropSize, CutGrid? grid)
    {
        PixelBytes = pixelBytes;
        PixelValues = pixelValues;
        Crops = crops;
        CropSize = cropSize;
        Grid = grid;
    }

    /// <summary>`pixel_values` `[Crops, 3, CropSize, CropSize]` float32: (u/255 − 0.5)/0.5 of <see cref="PixelBytes"/>.</summary>
    public float[] PixelValues { get; }

    /// <summary>The same crops as 8-bit values u, `[Crops, 3, CropSize, CropSize]` (channel-planar, R, G, B).</summary>
    public byte[] PixelBytes { get; }

    /// <summary>Number of crops: rows·cols + 1 when cut, 1 otherwise.</summary>
    public int Crops { get; }

    /// <summary>Crop side S in pixels.</summary>
    public int CropSize { get; }

    /// <summary>The cut grid, or null when the image was not cut.</summary>
    public CutGrid? Grid { get; }

    /// <summary>Floats per crop (3·S·S).</summary>
    public int CropLength => 3 * CropSize * CropSize;

    /// <summary>`[3, S, S]` of crop <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Crop(int index) => PixelValues.AsSpan(index * CropLength, CropLength);

    /// <summary>The shape of <see cref="PixelValues"/>: [Crops, 3, S, S].</summary>
    public int[] Shape => [Crops, 3, CropSize, CropSize];
}
