using Owl3Native.Processing.Images;
using Owl3Native.TestKit;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace Owl3Native.Tests.Processing.Images;

/// <summary>Broken, hostile and extreme images: only <see cref="ImageDecodeException"/> escapes, with the right reason.</summary>
public sealed class HostileImageTests
{
    [Fact]
    public void Empty_input_is_refused()
    {
        Assert.Equal(ImageDecodeError.Empty, Assert.Throws<ImageDecodeException>(() => ImageLoader.Load(Array.Empty<byte>())).Reason);
        using var dir = new TempDirectory("owl3-img");
        string path = dir.Write("empty.png", Array.Empty<byte>());
        var e = Assert.Throws<ImageDecodeException>(() => ImageLoader.Load(path));
        Assert.Equal(ImageDecodeError.Empty, e.Reason);
        Assert.Equal(path, e.Origin);
        Assert.Contains(path, e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100)]
    [InlineData(10_000)]
    public void Random_bytes_are_not_an_image(int length)
    {
        var random = new Random(length);
        for (int trial = 0; trial < 20; trial++)
        {
            var bytes = new byte[length];
            random.NextBytes(bytes);
            var e = Assert.Throws<ImageDecodeException>(() => ImageLoader.Load(bytes));
            Assert.Equal(ImageDecodeError.UnknownFormat, e.Reason);
        }
    }

    public static TheoryData<string> Formats() => ["png", "jpeg", "gif", "bmp", "tiff", "webp"];

    [Theory]
    [MemberData(nameof(Formats))]
    public void Truncated_files_are_refused(string format)
    {
        var bytes = Encode(format, 48, 40);
        var whole = ImageLoader.Load(bytes);
        Assert.Equal((48, 40), (whole.Width, whole.Height));
        foreach (double fraction in new[] { 0.0005, 0.02, 0.3, 0.6, 0.9, 0.99 })
        {
            int length = Math.Max(1, (int)(bytes.Length * fraction));
            if (format == "gif" && length >= bytes.Length - 1)
                continue; // a GIF whose image data is complete but lacks its trailer byte decodes fully (as in PIL)
            Assert.Throws<ImageDecodeException>(() => ImageLoader.Load(bytes[..length]));
        }
    }

    [Theory]
    [InlineData("png")]
    [InlineData("jpeg")]
    [InlineData("bmp")]
    public void Cut_short_files_are_corrupt_not_zero_filled(string format)
    {
        // ImageSharp alone would return these with the missing rows black; PIL raises "image file is truncated".
        var bytes = Encode(format, 200, 150);
        foreach (int cut in new[] { 1, 2, 12, bytes.Length / 2 })
            Assert.Equal(ImageDecodeError.Corrupt, Assert.Throws<ImageDecodeException>(() => ImageLoader.Load(bytes[..^cut])).Reason);
    }

    [Fact]
    public void Header_claiming_100000_squared_pixels_is_refused_without_decoding()
    {
        var png = TestImages.PngWithHeader(100_000, 100_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageDecodeException>(() => ImageLoader.Load(png));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(ImageDecodeError.TooManyPixels, e.Reason);
        Assert.Contains("100000x100000", e.Message);
        Assert.True(allocated < 4 << 20, $"refusing the header allocated {allocated} bytes");
    }

    [Theory]
    [InlineData(0u, 10u)]
    [InlineData(10u, 0u)]
    [InlineData(0u, 0u)]
    public void Zero_size_header_is_refused(uint width, uint height) =>
        Assert.Throws<ImageDecodeException>(() => ImageLoader.Load(TestImages.PngWithHeader(width, height)));

    [Fact]
    public void Pixel_file_and_aspect_limits_are_configurable()
    {
        var png = TestImages.Encode(TestImages.Picture(100, 100), new PngEncoder());
        ImageDecodeError Refusal(Func<RgbImage> load) => Assert.Throws<ImageDecodeException>(load).Reason;
        Assert.Equal(ImageDecodeError.TooManyPixels, Refusal(() => ImageLoader.Load(png, new ImageLimits { MaxPixels = 9_999 })));
        Assert.NotNull(ImageLoader.Load(png, new ImageLimits { MaxPixels = 10_000 }));
        Assert.Equal(ImageDecodeError.FileTooLarge, Refusal(() => ImageLoader.Load(png, new ImageLimits { MaxFileBytes = png.Length - 1 })));
        using var nonSeekable = new NonSeekableStream(png);
        Assert.Equal(ImageDecodeError.FileTooLarge, Refusal(() => ImageLoader.Load(nonSeekable, new ImageLimits { MaxFileBytes = 100 })));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageLoader.Load(png, new ImageLimits { MaxAspectRatio = 0.5 }));
    }

    [Fact]
    public void One_pixel_image_is_processed()
    {
        var png = TestImages.Encode(TestImages.Make<Rgb24>(1, 1, (_, _) => new Rgb24(9, 99, 199)), new PngEncoder());
        var image = ImageLoader.Load(png);
        var cut = ImageProcessor.Process(image, 14, cut: true);
        Assert.Equal(new CutGrid(2, 2), cut.Grid);
        Assert.Equal(5, cut.Crops);
        Assert.All(Enumerable.Range(0, cut.Crops), c => Assert.Equal(ImageProcessor.Normalize(99), cut.Crop(c)[14 * 14 + 5]));
        Assert.Equal(1, ImageProcessor.Process(image, 14, cut: false).Crops);
    }

    [Fact]
    public void Extreme_aspect_ratio_is_refused_by_default_and_processed_when_allowed()
    {
        var png = TestImages.Encode(TestImages.Make<Rgb24>(1, 10_000, (_, y) => new Rgb24((byte)y, 0, 0)), new PngEncoder());
        var e = Assert.Throws<ImageDecodeException>(() => ImageLoader.Load(png));
        Assert.Equal(ImageDecodeError.AspectRatioTooLarge, e.Reason);
        Assert.Contains("1x10000", e.Message);

        var image = ImageLoader.Load(png, new ImageLimits { MaxAspectRatio = 0 });
        var processed = ImageProcessor.Process(image, 28, cut: true);
        Assert.Equal(new CutGrid(4, 1), processed.Grid);
        Assert.Equal(5 * 3 * 28 * 28, processed.PixelValues.Length);
        Assert.All(processed.PixelValues, v => Assert.InRange(v, -1f, 1f));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Fuzzed_files_raise_only_image_decode_exceptions(string format)
    {
        // Byte flips, runs of 0x00/0xFF, cuts and insertions; half of the PNGs get their CRCs repaired so the mutation
        // reaches the decoder instead of the CRC check. Success is allowed; any other exception type fails the test.
        var original = Encode(format, 33, 21);
        var random = new Random(format.Sum(c => c) * 7919 + 12345); // a fixed seed per format
        var limits = new ImageLimits { MaxPixels = 1 << 20 };
        int decoded = 0, refused = 0;
        for (int trial = 0; trial < 150; trial++)
        {
            var bytes = Mutate(original, random);
            if (format == "png" && trial % 2 == 0) TestImages.FixPngCrcs(bytes);
            try
            {
                var image = ImageLoader.Load(bytes, limits);
                Assert.Equal(image.Width * image.Height * 3, image.Pixels.Length);
                decoded++;
            }
            catch (ImageDecodeException)
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"trial {trial}: {e.GetType().FullName} escaped: {e.Message}");
            }
        }
        Assert.Equal(150, decoded + refused);
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = (byte[])original.Clone();
        switch (random.Next(4))
        {
            case 0:
                for (int i = random.Next(1, 9); i > 0; i--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                return bytes;
            case 1:
                int start = random.Next(bytes.Length), run = Math.Min(random.Next(1, 16), bytes.Length - start);
                bytes.AsSpan(start, run).Fill(random.Next(2) == 0 ? (byte)0x00 : (byte)0xFF);
                return bytes;
            case 2:
                return bytes[..random.Next(1, bytes.Length)];
            default:
                int at = random.Next(bytes.Length);
                var insert = new byte[random.Next(1, 32)];
                random.NextBytes(insert);
                return [.. bytes[..at], .. insert, .. bytes[at..]];
        }
    }

    private static byte[] Encode(string format, int width, int height)
    {
        IImageEncoder encoder = format switch
        {
            "png" => new PngEncoder(),
            "jpeg" => new JpegEncoder { Quality = 90 },
            "gif" => new GifEncoder(),
            "bmp" => new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 },
            "tiff" => new TiffEncoder(),
            "webp" => new WebpEncoder { FileFormat = WebpFileFormatType.Lossy },
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
        };
        return TestImages.Encode(TestImages.Picture(width, height), encoder);
    }

    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    }
}
