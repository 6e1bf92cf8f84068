namespace Owl3Native.Processing.Images;

/// <summary>A cut grid: <see cref="Rows"/> × <see cref="Cols"/> tiles of S×S pixels (spec/PROCESSOR.md §3).</summary>
/// <param name="Rows">Tiles stacked vertically.</param>
/// <param name="Cols">Tiles side by side.</param>
public readonly record struct CutGrid(int Rows, int Cols)
{
    /// <summary>
    /// The anchor set `grid_squ_6` as (rows, cols), in the original's order, which decides ties. There is no 1×1 grid:
    /// a cut image always becomes at least 3 tiles plus the global view.
    /// </summary>
    public static IReadOnlyList<CutGrid> Anchors { get; } =
        [new(2, 2), new(1, 3), new(1, 4), new(3, 1), new(4, 1), new(2, 3), new(3, 2)];

    /// <summary>Number of tiles (rows·cols), not counting the global view.</summary>
    public int Tiles => Rows * Cols;

    /// <summary>The grid as a (rows, cols) tuple.</summary>
    public static implicit operator (int Rows, int Cols)(CutGrid grid) => (grid.Rows, grid.Cols);

    /// <summary>The grid the original picks for a <paramref name="width"/>×<paramref name="height"/> image.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public static CutGrid Select(int width, int height, int cropSize) => Anchors[SelectIndex(width, height, cropSize)];

    /// <summary>
    /// Index into <see cref="Anchors"/> of the original's `docowl` anchor ranking (spec/PROCESSOR.md §3.2): the first
    /// maximum of 100·shape-IoU + IoU, computed as the original's torch code does: int64 boxes, float32 divisions,
    /// and the shape box's height fp32(H/W)·(cols·S) truncated to an integer because it is stored in an int64 tensor.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public static int SelectIndex(int width, int height, int cropSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cropSize);
        float ratio = (float)((double)height / width); // Python float H/W, rounded when it meets the float32 tensor
        int best = 0;
        float bestScore = float.NegativeInfinity;
        for (int k = 0; k < Anchors.Count; k++)
        {
            long anchorWidth = (long)Anchors[k].Cols * cropSize, anchorHeight = (long)Anchors[k].Rows * cropSize;
            long anchorArea = anchorWidth * anchorHeight;

            // IoU of the anchor box and the image box, both anchored at (0, 0).
            long inter = Math.Min(anchorWidth, width) * Math.Min(anchorHeight, height);
            float iou = Iou(inter, anchorArea + (long)width * height - inter);

            // Shape IoU: the anchor box against a box of the anchor's width and the image's aspect ratio.
            float shapeHeightF = ratio * (float)anchorWidth;
            long shapeHeight = (long)shapeHeightF;
            long shapeInter = anchorWidth * Math.Min(anchorHeight, shapeHeight);
            float shapeIou = Iou(shapeInter, anchorArea + anchorWidth * shapeHeight - shapeInter);

            float scaled = shapeIou * 100f;
            float score = scaled + iou;
            if (score > bestScore)
            {
                bestScore = score;
                best = k;
            }
        }
        return best;
    }

    // torch: inter / (union + 1e-5) with int64 operands and a Python float: float32(union) + 1e-5f, then a float32 division.
    private static float Iou(long inter, long union)
    {
        float denominator = (float)union + 1e-5f;
        return (float)inter / denominator;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Rows}x{Cols}";
}
