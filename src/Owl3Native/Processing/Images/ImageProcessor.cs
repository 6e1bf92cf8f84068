namespace Owl3Native.Processing.Images;

/// <summary>
/// mPLUG-Owl3's image processor (identical in the 240728 and 241101 generations; spec/PROCESSOR.md §2–3): PIL
/// bicubic resizes, adaptive cutting into a grid of S×S tiles plus a global view, and SigLIP normalisation.
/// </summary>
public static class ImageProcessor
{
    /// <summary>Largest crop size accepted (the real checkpoints use 378 and 384).</summary>
    public const int MaxCropSize = 4096;

    // (float32(u) / 255 − 0.5) / 0.5, in torchvision's order of float32 operations (ToTensor, then Normalize).
    private static readonly float[] s_normalized = BuildNormalizationTable();

    /// <summary>
    /// Turns <paramref name="image"/> into crops of <paramref name="cropSize"/> pixels: with <paramref name="cut"/>, the
    /// grid of <see cref="CutGrid.Select"/> (the image resized to (cols·S)×(rows·S), split row-major) followed by the
    /// global view; without, the global view only (the whole image resized to S×S, aspect ratio not kept).
    /// </summary>
    /// <param name="image">The RGB image.</param>
    /// <param name="cropSize">S: the vision tower's `image_size` (378 for 241101, 384 for 240728).</param>
    /// <param name="cut">Adaptive cutting (the original's `cut_enable`); video frames are never cut.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cropSize"/> is not in 1..<see cref="MaxCropSize"/>.</exception>
    public static ProcessedImage Process(RgbImage image, int cropSize, bool cut)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (cropSize < 1 || cropSize > MaxCropSize)
            throw new ArgumentOutOfRangeException(nameof(cropSize), cropSize, $"the crop size must be within 1..{MaxCropSize}");

        CutGrid? grid = cut ? CutGrid.Select(image.Width, image.Height, cropSize) : null;
        int crops = (grid?.Tiles ?? 0) + 1;
        int cropLength = 3 * cropSize * cropSize;
        var bytes = new byte[checked((long)crops * cropLength)];
        if (grid is { } g)
        {
            var resized = PilBicubic.Resize(image, g.Cols * cropSize, g.Rows * cropSize);
            for (int i = 0; i < g.Rows; i++)
                for (int j = 0; j < g.Cols; j++)
                    CopyPlanar(resized, j * cropSize, i * cropSize, cropSize, bytes.AsSpan((i * g.Cols + j) * cropLength, cropLength));
        }
        var global = PilBicubic.Resize(image, cropSize, cropSize);
        CopyPlanar(global, 0, 0, cropSize, bytes.AsSpan((crops - 1) * cropLength, cropLength));

        var values = new float[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
            values[i] = s_normalized[bytes[i]];
        return new ProcessedImage(bytes, values, crops, cropSize, grid);
    }

    /// <summary>The normalised value of byte <paramref name="u"/>: (float32(u)/255 − 0.5)/0.5.</summary>
    public static float Normalize(byte u) => s_normalized[u];

    // The S×S window at (left, top) of an interleaved RGB image → channel-planar [3, S, S].
    private static void CopyPlanar(RgbImage src, int left, int top, int size, Span<byte> destination)
    {
        int plane = size * size;
        for (int y = 0; y < size; y++)
        {
            var row = src.Row(top + y).Slice(left * 3, size * 3);
            for (int x = 0; x < size; x++)
            {
                destination[y * size + x] = row[3 * x];
                destination[plane + y * size + x] = row[3 * x + 1];
                destination[2 * plane + y * size + x] = row[3 * x + 2];
            }
        }
    }

    private static float[] BuildNormalizationTable()
    {
        var table = new float[256];
        for (int u = 0; u < 256; u++)
        {
            float v = u / 255f;
            v = (v - 0.5f) / 0.5f;
            table[u] = v;
        }
        return table;
    }
}
