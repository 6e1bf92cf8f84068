using Owl3Native.Processing.Images;
using Xunit;

namespace Owl3Native.Tests.Processing.Images;

/// <summary>Grid selection (spec/PROCESSOR.md §3.2) and crop layout (§3.3).</summary>
public sealed class CutGridTests
{
    [Theory] // the worked examples of §3.2, at both real crop sizes
    [InlineData(500, 500, 2, 2)]
    [InlineData(378, 378, 2, 2)]
    [InlineData(100, 100, 2, 2)]
    [InlineData(640, 480, 2, 3)]
    [InlineData(800, 600, 2, 3)]
    [InlineData(1000, 500, 2, 3)]
    [InlineData(1920, 1080, 2, 3)]
    [InlineData(480, 640, 3, 2)]
    [InlineData(500, 1000, 3, 2)]
    [InlineData(1080, 1920, 3, 2)]
    [InlineData(1200, 300, 1, 4)]
    [InlineData(2000, 400, 1, 4)]
    [InlineData(300, 1200, 4, 1)]
    public void Spec_examples(int width, int height, int rows, int cols)
    {
        Assert.Equal(new CutGrid(rows, cols), CutGrid.Select(width, height, 384));
        Assert.Equal(new CutGrid(rows, cols), CutGrid.Select(width, height, 378));
    }

    [Fact]
    public void Anchors_are_grid_squ_6_in_order_without_1x1()
    {
        Assert.Equal([new(2, 2), new(1, 3), new(1, 4), new(3, 1), new(4, 1), new(2, 3), new(3, 2)], CutGrid.Anchors);
        Assert.DoesNotContain(new CutGrid(1, 1), CutGrid.Anchors);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 10000)]
    [InlineData(10000, 1)]
    [InlineData(1, 64 << 20)]
    [InlineData(46341, 46341)]
    public void Extreme_shapes_select_a_grid(int width, int height)
    {
        // No overflow or NaN: every shape lands on one of the anchors, and the elongated ones on the elongated grids.
        var grid = CutGrid.Select(width, height, 384);
        Assert.Contains(grid, CutGrid.Anchors);
        if (height > 4 * width) Assert.Equal(new CutGrid(4, 1), grid);
        if (width > 4 * height) Assert.Equal(new CutGrid(1, 4), grid);
    }

    [Fact]
    public void Ties_go_to_the_earlier_anchor()
    {
        // A square image matches 2x2 exactly (shape IoU 1); no later anchor can beat it.
        Assert.Equal(0, CutGrid.SelectIndex(768, 768, 384));
    }

    [Fact]
    public void Crops_are_row_major_tiles_then_the_global_view()
    {
        // 1280x720 at S = 6 → 2x3 grid: the image resized to 18x12, tile (i, j) is its window at (6j, 6i).
        var image = PilBicubicTests.Noise(1280, 720, 5);
        var processed = ImageProcessor.Process(image, 6, cut: true);
        Assert.Equal(new CutGrid(2, 3), processed.Grid);
        Assert.Equal(7, processed.Crops);
        var resized = PilBicubic.Resize(image, 18, 12);
        var global = PilBicubic.Resize(image, 6, 6);
        for (int crop = 0; crop < 7; crop++)
        {
            var (source, left, top) = crop < 6 ? (resized, crop % 3 * 6, crop / 3 * 6) : (global, 0, 0);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 6; y++)
                    for (int x = 0; x < 6; x++)
                    {
                        byte expected = source.Pixels[((top + y) * source.Width + left + x) * 3 + c];
                        Assert.Equal(expected, processed.PixelBytes[crop * 108 + c * 36 + y * 6 + x]);
                        Assert.Equal(ImageProcessor.Normalize(expected), processed.PixelValues[crop * 108 + c * 36 + y * 6 + x]);
                    }
        }
    }

    [Fact]
    public void Normalisation_spans_minus_one_to_one()
    {
        Assert.Equal(-1f, ImageProcessor.Normalize(0));
        Assert.Equal(1f, ImageProcessor.Normalize(255));
        Assert.Equal((128f / 255f - 0.5f) / 0.5f, ImageProcessor.Normalize(128));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    [InlineData(ImageProcessor.MaxCropSize + 1)]
    public void Crop_size_out_of_range_is_refused(int cropSize) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageProcessor.Process(PilBicubicTests.Noise(4, 4, 1), cropSize, cut: true));

    [Fact]
    public void Grid_converts_to_a_tuple()
    {
        (int Rows, int Cols) tuple = new CutGrid(2, 3);
        Assert.Equal((2, 3), tuple);
    }
}
