namespace Owl3Native.Processing.Images;

/// <summary>
/// Pillow's <c>Image.resize((width, height), Image.BICUBIC)</c> for 8-bit RGB, bit for bit (spec/PROCESSOR.md §2.1;
/// Pillow <c>src/libImaging/Resample.c</c>: <c>precompute_coeffs</c>, <c>normalize_coeffs_8bpc</c>,
/// <c>ImagingResampleHorizontal_8bpc</c> / <c>Vertical_8bpc</c>, <c>ImagingResampleInner</c>).
/// Separable: the horizontal pass runs first into an 8-bit intermediate of (width × source height), then the vertical
/// pass; a pass whose axis keeps its size is skipped. The kernel support grows with the downscale factor (antialias).
/// </summary>
public static class PilBicubic
{
    // Fixed-point weights: 32 bits − 8 (pixel) − 2 (headroom for negative lobes and sums above 1) = 22 fraction bits.
    private const int PrecisionBits = 32 - 8 - 2;
    private const double BicubicSupport = 2.0;
    private const int ParallelThreshold = 1 << 18; // output pixels per pass above which rows run in parallel

    /// <summary>Resizes <paramref name="source"/> to <paramref name="width"/>×<paramref name="height"/> (aspect not kept).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A target dimension is not positive.</exception>
    public static RgbImage Resize(RgbImage source, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (width == source.Width && height == source.Height)
            return new RgbImage(width, height, (byte[])source.Pixels.Clone());

        var vertical = Coefficients.Compute(source.Height, height);
        var image = source;
        if (width != source.Width)
        {
            // Only the source rows the vertical pass reads are resampled (Pillow's ybox_first..ybox_last).
            int firstRow = vertical.Bounds[0];
            int lastRow = vertical.Bounds[2 * (height - 1)] + vertical.Bounds[2 * (height - 1) + 1];
            image = Horizontal(source, Coefficients.Compute(source.Width, width), firstRow, lastRow - firstRow);
            vertical = vertical.ShiftedBy(-firstRow);
        }
        if (height != source.Height)
            image = Vertical(image, vertical);
        return image;
    }

    /// <summary>Pillow's <c>bicubic_filter</c>: Keys cubic with a = −0.5, operations in Pillow's order.</summary>
    internal static double Kernel(double x)
    {
        const double a = -0.5;
        if (x < 0.0) x = -x;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /// <summary>Per output index: the first input index, the tap count and <see cref="Taps"/> fixed-point weights.</summary>
    internal sealed class Coefficients
    {
        private Coefficients(int taps, int[] bounds, int[] weights)
        {
            Taps = taps;
            Bounds = bounds;
            Weights = weights;
        }

        /// <summary>Weights per output index (ksize: the longest possible window).</summary>
        public int Taps { get; }

        /// <summary>`[out, 2]`: first input index, number of inputs used.</summary>
        public int[] Bounds { get; }

        /// <summary>`[out, Taps]`: weights in 22-bit fixed point, zero past each window's length.</summary>
        public int[] Weights { get; }

        /// <summary>Pillow's <c>precompute_coeffs</c> for the box (0, inSize) followed by <c>normalize_coeffs_8bpc</c>.</summary>
        public static Coefficients Compute(int inSize, int outSize)
        {
            double scale = (double)(float)inSize / outSize; // Pillow: (double)(in1 - in0) / outSize, in0/in1 as float
            double filterScale = Math.Max(scale, 1.0);
            double support = BicubicSupport * filterScale;
            int taps = checked((int)Math.Ceiling(support) * 2 + 1);
            var bounds = new int[2 * outSize];
            var weights = new int[checked(outSize * taps)];
            var window = new double[taps];
            for (int o = 0; o < outSize; o++)
            {
                double center = (o + 0.5) * scale;
                double inverse = 1.0 / filterScale;
                int min = Math.Max((int)(center - support + 0.5), 0);
                int max = Math.Min((int)(center + support + 0.5), inSize) - min;
                double sum = 0.0;
                for (int i = 0; i < max; i++)
                {
                    double w = Kernel((i + min - center + 0.5) * inverse);
                    window[i] = w;
                    sum += w;
                }
                for (int i = 0; i < max; i++)
                {
                    double w = sum != 0.0 ? window[i] / sum : window[i];
                    // Round half away from zero: (int)(±0.5 + w·2²²).
                    weights[o * taps + i] = w < 0 ? (int)(-0.5 + w * (1 << PrecisionBits)) : (int)(0.5 + w * (1 << PrecisionBits));
                }
                bounds[2 * o] = min;
                bounds[2 * o + 1] = max;
            }
            return new Coefficients(taps, bounds, weights);
        }

        /// <summary>The same windows with every first index moved by <paramref name="delta"/>.</summary>
        public Coefficients ShiftedBy(int delta)
        {
            var bounds = (int[])Bounds.Clone();
            for (int o = 0; o < bounds.Length; o += 2)
                bounds[o] += delta;
            return new Coefficients(Taps, bounds, Weights);
        }
    }

    // Pillow's clip8: the accumulator carries 2²¹ (one half) already; >> 22 is a floor, then clamp to a byte.
    private static byte Clip8(int sum)
    {
        int v = sum >> PrecisionBits;
        return v < 0 ? (byte)0 : v > 255 ? (byte)255 : (byte)v;
    }

    // [rows, source width, 3] → [rows, c.Out, 3] for source rows firstRow .. firstRow + rows − 1.
    private static RgbImage Horizontal(RgbImage src, Coefficients c, int firstRow, int rows)
    {
        int outWidth = c.Bounds.Length / 2;
        int srcStride = src.Width * 3, dstStride = outWidth * 3;
        var dst = new byte[checked((long)rows * dstStride)];
        byte[] input = src.Pixels;
        void Row(int y)
        {
            int srcRow = (firstRow + y) * srcStride, dstRow = y * dstStride;
            for (int xx = 0; xx < outWidth; xx++)
            {
                int min = c.Bounds[2 * xx], count = c.Bounds[2 * xx + 1], k = xx * c.Taps;
                int s0 = 1 << (PrecisionBits - 1), s1 = s0, s2 = s0;
                int p = srcRow + min * 3;
                for (int i = 0; i < count; i++, p += 3)
                {
                    int w = c.Weights[k + i];
                    s0 += input[p] * w;
                    s1 += input[p + 1] * w;
                    s2 += input[p + 2] * w;
                }
                int d = dstRow + xx * 3;
                dst[d] = Clip8(s0);
                dst[d + 1] = Clip8(s1);
                dst[d + 2] = Clip8(s2);
            }
        }
        ForRows(rows, (long)rows * outWidth, Row);
        return new RgbImage(outWidth, rows, dst);
    }

    // [source height, width, 3] → [c.Out, width, 3]. Taps outermost so rows are read contiguously; integer sums do not
    // depend on the order of addition.
    private static RgbImage Vertical(RgbImage src, Coefficients c)
    {
        int outHeight = c.Bounds.Length / 2, width = src.Width, stride = width * 3;
        var dst = new byte[checked((long)outHeight * stride)];
        byte[] input = src.Pixels;
        void Row(int yy)
        {
            int min = c.Bounds[2 * yy], count = c.Bounds[2 * yy + 1], k = yy * c.Taps;
            int[] sums = System.Buffers.ArrayPool<int>.Shared.Rent(stride);
            var acc = sums.AsSpan(0, stride);
            acc.Fill(1 << (PrecisionBits - 1));
            for (int i = 0; i < count; i++)
            {
                int w = c.Weights[k + i];
                var line = input.AsSpan((min + i) * stride, stride);
                for (int x = 0; x < acc.Length; x++)
                    acc[x] += line[x] * w;
            }
            var output = dst.AsSpan(yy * stride, stride);
            for (int x = 0; x < acc.Length; x++)
                output[x] = Clip8(acc[x]);
            System.Buffers.ArrayPool<int>.Shared.Return(sums);
        }
        ForRows(outHeight, (long)outHeight * width, Row);
        return new RgbImage(width, outHeight, dst);
    }

    // Rows are independent and each is computed exactly as in the sequential loop, so parallelism cannot change a bit.
    private static void ForRows(int rows, long pixels, Action<int> row)
    {
        if (pixels < ParallelThreshold || Environment.ProcessorCount == 1)
        {
            for (int y = 0; y < rows; y++) row(y);
            return;
        }
        Parallel.For(0, rows, row);
    }
}
