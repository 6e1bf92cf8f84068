using Owl3Native.Processing.Images;
using Owl3Native.TestKit;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing.Processors.Quantization;
using Xunit;

namespace Owl3Native.Tests.Processing.Images;

/// <summary>
/// Conversion to RGB as PIL's <c>convert("RGB")</c> (checked against Pillow 9.4 on the same files while developing):
/// each case builds an image with ImageSharp, encodes it, loads it and compares with the value computed by hand.
/// </summary>
public sealed class ImageLoaderTests
{
    private const int W = 37, H = 11;

    [Fact]
    public void Rgba_drops_alpha_without_compositing()
    {
        // Fully transparent pixels keep their stored colour: PIL discards the alpha band, it does not blend onto black or white.
        var image = TestImages.Make<Rgba32>(W, H, (x, y) => new Rgba32((byte)(x * 7), (byte)(y * 23), (byte)(x * y), (byte)((x + y) % 3 * 127)));
        var png = TestImages.Encode(image, new PngEncoder
        {
            ColorType = PngColorType.RgbWithAlpha, BitDepth = PngBitDepth.Bit8, TransparentColorMode = PngTransparentColorMode.Preserve,
        });
        AssertPixels(ImageLoader.Load(png), (x, y) => ((byte)(x * 7), (byte)(y * 23), (byte)(x * y)));
    }

    [Fact]
    public void Palette_expands_to_palette_colours_including_the_transparent_entry()
    {
        Color[] palette = [Color.FromRgba(10, 20, 30, 255), Color.FromRgba(200, 100, 50, 0), Color.FromRgba(7, 250, 9, 128), Color.White];
        var quantizer = new PaletteQuantizer(palette, new QuantizerOptions { Dither = null });
        var png = TestImages.Encode(TestImages.Make<Rgba32>(W, H, (x, y) => palette[(x + 2 * y) % 4].ToPixel<Rgba32>()),
            new PngEncoder { ColorType = PngColorType.Palette, BitDepth = PngBitDepth.Bit8, Quantizer = quantizer });
        (byte, byte, byte)[] rgb = [(10, 20, 30), (200, 100, 50), (7, 250, 9), (255, 255, 255)];
        AssertPixels(ImageLoader.Load(png), (x, y) => rgb[(x + 2 * y) % 4]);
    }

    [Fact]
    public void Grayscale_is_replicated()
    {
        var png = TestImages.Encode(TestImages.Make<L8>(W, H, (x, y) => new L8((byte)(x * 6 + y))),
            new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 });
        AssertPixels(ImageLoader.Load(png), (x, y) => Gray((byte)(x * 6 + y)));
    }

    [Fact]
    public void Grayscale_with_alpha_is_replicated_and_alpha_dropped()
    {
        var png = TestImages.Encode(TestImages.Make<La16>(W, H, (x, y) => new La16((byte)(x * 6 + y), (byte)(y * 20))),
            new PngEncoder { ColorType = PngColorType.GrayscaleWithAlpha, BitDepth = PngBitDepth.Bit8 });
        AssertPixels(ImageLoader.Load(png), (x, y) => Gray((byte)(x * 6 + y)));
    }

    [Theory]
    [InlineData(PngBitDepth.Bit1, 1)]
    [InlineData(PngBitDepth.Bit2, 2)]
    [InlineData(PngBitDepth.Bit4, 4)]
    public void Low_bit_depth_grayscale_scales_to_the_full_byte_range(PngBitDepth depth, int bits)
    {
        int levels = (1 << bits) - 1, step = 255 / levels;
        var png = TestImages.Encode(TestImages.Make<L8>(W, H, (x, y) => new L8((byte)((x + y) % (levels + 1) * step))),
            new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = depth });
        AssertPixels(ImageLoader.Load(png), (x, y) => Gray((byte)((x + y) % (levels + 1) * step)));
    }

    [Fact]
    public void Gray16_is_clipped_at_255_as_pil_converts_mode_I()
    {
        // PIL opens 16-bit grayscale PNGs as mode "I" and converts I → RGB by clipping, so 300 and 65535 both become 255.
        static ushort Value(int x, int y) => (ushort)(x * 1777 + y * 3 + (x == 0 ? 0 : 100));
        var png = TestImages.Encode(TestImages.Make<L16>(W, H, (x, y) => new L16(Value(x, y))),
            new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16 });
        AssertPixels(ImageLoader.Load(png), (x, y) => Gray((byte)Math.Min(Value(x, y), (ushort)255)));
    }

    [Fact]
    public void Tiff_gray16_is_clipped_like_pil_mode_I16()
    {
        // Written by Pillow: 4x2 "I;16" TIFF of [0, 100, 255, 256 / 1000, 65535, 254, 300]; PIL's convert("RGB") gives
        // [0, 100, 255, 255 / 255, 255, 254, 255] replicated.
        var tiff = Convert.FromHexString(
            "49492a0008000000090000010400010000000400000001010400010000000200000002010300010000001000000003010300010000000100" +
            "000006010300010000000100000011010400010000007a0000001601040001000000020000001701040001000000100000001c0103000100" +
            "0000010000000000000000006400ff000001e803fffffe002c01");
        byte[] expected = [0, 100, 255, 255, 255, 255, 254, 255];
        AssertPixels(ImageLoader.Load(tiff), (x, y) => Gray(expected[y * 4 + x]), width: 4, height: 2);
    }

    [Fact]
    public void Gray16_with_alpha_keeps_the_high_byte()
    {
        static ushort Value(int x, int y) => (ushort)(x * 1777 + y * 5);
        var png = TestImages.Encode(TestImages.Make<La32>(W, H, (x, y) => new La32(Value(x, y), (ushort)(y * 999))),
            new PngEncoder { ColorType = PngColorType.GrayscaleWithAlpha, BitDepth = PngBitDepth.Bit16 });
        AssertPixels(ImageLoader.Load(png), (x, y) => Gray((byte)(Value(x, y) >> 8)));
    }

    [Fact]
    public void Rgb16_and_rgba16_keep_the_high_byte()
    {
        // PIL's "RGB;16B"/"RGBA;16B" unpackers take the most significant byte: truncation, where ImageSharp would round.
        static ushort C(int x, int y, int k) => (ushort)(x * 1771 + y * 131 + k * 40000 + 0x7F);
        var rgb48 = TestImages.Encode(TestImages.Make<Rgb48>(W, H, (x, y) => new Rgb48(C(x, y, 0), C(x, y, 1), C(x, y, 2))),
            new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit16 });
        var rgba64 = TestImages.Encode(
            TestImages.Make<Rgba64>(W, H, (x, y) => new Rgba64(C(x, y, 0), C(x, y, 1), C(x, y, 2), (ushort)(x * 1000))),
            new PngEncoder { ColorType = PngColorType.RgbWithAlpha, BitDepth = PngBitDepth.Bit16 });
        foreach (var png in new[] { rgb48, rgba64 })
            AssertPixels(ImageLoader.Load(png), (x, y) => ((byte)(C(x, y, 0) >> 8), (byte)(C(x, y, 1) >> 8), (byte)(C(x, y, 2) >> 8)));
    }

    [Fact]
    public void Gif_transparent_pixels_take_the_palette_colour_of_the_transparent_index()
    {
        // Written by Pillow: 4x2, palette [(10,20,30), (200,100,50), (7,250,9), (255,255,255)], transparency = index 1,
        // indices [0,1,2,3 / 1,1,0,2]. PIL's convert("RGB") maps index 1 through the palette like the others.
        var gif = Convert.FromHexString(
            "474946383961040002008100000a141ec8643207fa09ffffff21f90401000001002c000000000400020000080c000104103020400000020202003b");
        (byte, byte, byte)[] rgb = [(10, 20, 30), (200, 100, 50), (7, 250, 9), (255, 255, 255)];
        int[] indices = [0, 1, 2, 3, 1, 1, 0, 2];
        AssertPixels(ImageLoader.Load(gif), (x, y) => rgb[indices[y * 4 + x]], width: 4, height: 2);
    }

    [Fact]
    public void Gif_and_tiff_give_their_first_frame()
    {
        foreach (var encoder in new SixLabors.ImageSharp.Formats.IImageEncoder[] { new GifEncoder(), new TiffEncoder() })
        {
            using var image = TestImages.Make<Rgb24>(W, H, (x, y) => new Rgb24(255, 0, 0));
            using var second = TestImages.Make<Rgb24>(W, H, (x, y) => new Rgb24(0, 0, 255));
            image.Frames.AddFrame(second.Frames.RootFrame);
            using var stream = new MemoryStream();
            image.Save(stream, encoder);
            AssertPixels(ImageLoader.Load(stream.ToArray()), (x, y) => (255, 0, 0));
        }
    }

    [Theory]
    [InlineData("bmp")]
    [InlineData("tiff")]
    [InlineData("webp")]
    [InlineData("png")]
    public void Lossless_formats_round_trip_exactly(string format)
    {
        SixLabors.ImageSharp.Formats.IImageEncoder encoder = format switch
        {
            "bmp" => new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 },
            "tiff" => new TiffEncoder(),
            "webp" => new WebpEncoder { FileFormat = WebpFileFormatType.Lossless },
            _ => new PngEncoder(),
        };
        var bytes = TestImages.Encode(TestImages.Picture(W, H), encoder);
        using var reference = TestImages.Picture(W, H);
        AssertPixels(ImageLoader.Load(bytes), (x, y) => (reference[x, y].R, reference[x, y].G, reference[x, y].B));
    }

    [Fact]
    public void Jpeg_decodes_close_to_its_source_and_exif_orientation_is_ignored()
    {
        // Orientation 6 asks viewers to rotate by 90°: PIL's open/convert ignores it, so must we (no width/height swap).
        using var image = TestImages.Picture(64, 32);
        image.Metadata.ExifProfile = new ExifProfile();
        image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
        using var stream = new MemoryStream();
        image.Save(stream, new JpegEncoder { Quality = 95, ColorType = JpegColorType.YCbCrRatio444 });
        var rgb = ImageLoader.Load(stream.ToArray());
        Assert.Equal((64, 32), (rgb.Width, rgb.Height));
        double total = 0;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 64; x++)
                total += Math.Abs(rgb[x, y].R - image[x, y].R) + Math.Abs(rgb[x, y].G - image[x, y].G) + Math.Abs(rgb[x, y].B - image[x, y].B);
        Assert.True(total / (64 * 32 * 3) < 4, $"mean |diff| {total / (64 * 32 * 3):0.00}");
    }

    [Fact]
    public void Path_and_stream_overloads_agree()
    {
        var png = TestImages.Encode(TestImages.Picture(W, H), new PngEncoder());
        using var dir = new TempDirectory("owl3-img");
        string path = dir.Write("picture.png", png);
        var fromPath = ImageLoader.Load(path);
        using var file = File.OpenRead(path);
        var fromStream = ImageLoader.Load(file);
        Assert.Equal(ImageLoader.Load(png).Pixels, fromPath.Pixels);
        Assert.Equal(fromPath.Pixels, fromStream.Pixels);
    }

    private static (byte, byte, byte) Gray(byte v) => (v, v, v);

    private static void AssertPixels(RgbImage image, Func<int, int, (byte R, byte G, byte B)> expected, int width = W, int height = H)
    {
        Assert.Equal((width, height), (image.Width, image.Height));
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
            {
                var want = expected(x, y);
                if (image[x, y] != want)
                    Assert.Fail($"pixel ({x}, {y}) of {image}: expected {want}, got {image[x, y]}");
            }
    }
}
