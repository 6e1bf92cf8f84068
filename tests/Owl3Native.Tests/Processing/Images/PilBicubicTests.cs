using System.Security.Cryptography;
using Owl3Native.Processing.Images;
using Xunit;

namespace Owl3Native.Tests.Processing.Images;

/// <summary>
/// PilBicubic against Pillow itself: the expected hashes are SHA-256 of
/// <c>Image.frombytes("RGB", (w, h), noise(seed)).resize((ow, oh), Image.BICUBIC).tobytes()</c> computed with Pillow 9.4
/// (Debian bookworm). Noise exercises the negative kernel lobes and both clip ends; the sizes cover up- and downscaling
/// per axis, one-axis resizes (a pass skipped), extreme ratios and 1-pixel images.
/// </summary>
public sealed class PilBicubicTests
{
    [Theory]
    [InlineData(37, 23, 100, 61, 1u, "74ff26e15e707e2466d51b9ce3563f8819d7960a69c7b8ec8202c54dc573d749")]
    [InlineData(640, 480, 378, 378, 2u, "e721a97d78fca7ed15e26f9bcf5343d40dd99eebba22036aeb359a97922b4cf0")]
    [InlineData(1000, 17, 1512, 378, 3u, "a13c9359b316e75805534f14616929e3346f6a11588eb1f82b43bb14cd8dae69")]
    [InlineData(33, 800, 378, 1512, 4u, "f9f7fe5735ca996ec3f7d5c947cc7b5f30cf3a4c96dfe68ecd6e60b21e6dae79")]
    [InlineData(500, 500, 500, 250, 5u, "98965bd22f76ab88ebc969f1077a5489ad5e95880993a3807f9c5fcf204dc690")]
    [InlineData(500, 500, 123, 500, 6u, "f707ea8f894d8f858a94e529ede6a047d2ef0f5c2fee4e60a451050069d3c6e5")]
    [InlineData(7, 5, 1, 1, 7u, "3f8bbdd3b728b12e4b82179f3de9e56ef49d56a99dd340e1a3fa4f2c13a38b84")]
    [InlineData(1, 1, 5, 3, 8u, "a254c0dcf9dc83a2f2e460bd8ccecca2bc9caf9b77bd1af4b2da90e9c53e42d8")]
    [InlineData(300, 200, 299, 201, 9u, "1708be27fef35ff76de2894084ae636afe4effc9ca3fa54f85089ac63235ef77")]
    [InlineData(2000, 1500, 1134, 756, 10u, "49d5a7f5ca28e0ce8bb0c994cbdd5a1a4e4f7ea000e0d0f174268dfd16e74987")]
    [InlineData(3, 4000, 378, 378, 11u, "46dc19cb0fb2c74d176af0bd62af8ff18bca600b599aa4a61d8e84edb1d2c088")]
    [InlineData(1279, 719, 42, 28, 12u, "5ea1bbf8da9047b38cb575023809cf7f23b103381972a71935e183842f62e24d")]
    public void Resize_matches_pillow_bit_for_bit(int width, int height, int outWidth, int outHeight, uint seed, string sha256)
    {
        var resized = PilBicubic.Resize(Noise(width, height, seed), outWidth, outHeight);
        Assert.Equal(outWidth, resized.Width);
        Assert.Equal(outHeight, resized.Height);
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(resized.Pixels)));
    }

    [Fact]
    public void Same_size_is_an_unchanged_copy()
    {
        var source = Noise(13, 9, 3);
        var copy = PilBicubic.Resize(source, 13, 9);
        Assert.NotSame(source.Pixels, copy.Pixels);
        Assert.Equal(source.Pixels, copy.Pixels);
    }

    [Theory]
    [InlineData(50, 40, 378, 378)]
    [InlineData(4000, 30, 1512, 756)]
    [InlineData(1, 1, 7, 7)]
    public void Constant_image_stays_constant(int width, int height, int outWidth, int outHeight)
    {
        // The normalised fixed-point weights of a window sum to 2²² ± rounding, which must never move a flat colour.
        var pixels = new byte[width * height * 3];
        for (int i = 0; i < pixels.Length; i += 3) (pixels[i], pixels[i + 1], pixels[i + 2]) = (0, 128, 255);
        var resized = PilBicubic.Resize(new RgbImage(width, height, pixels), outWidth, outHeight);
        for (int i = 0; i < resized.Pixels.Length; i += 3)
            Assert.Equal((0, 128, 255), (resized.Pixels[i], resized.Pixels[i + 1], resized.Pixels[i + 2]));
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.5, 0.5625)]
    [InlineData(1.0, 0.0)]
    [InlineData(1.5, -0.0625)]
    [InlineData(-1.5, -0.0625)]
    [InlineData(2.0, 0.0)]
    public void Kernel_is_keys_cubic_with_a_minus_half(double x, double expected) =>
        Assert.Equal(expected, PilBicubic.Kernel(x), 15);

    [Fact]
    public void Non_positive_target_is_refused()
    {
        var source = Noise(4, 4, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => PilBicubic.Resize(source, 0, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => PilBicubic.Resize(source, 4, -1));
    }

    /// <summary>The test pattern of the Pillow script: a 32-bit LCG, byte = (state >> 16) &amp; 0xFF, row-major RGB.</summary>
    internal static RgbImage Noise(int width, int height, uint seed)
    {
        var pixels = new byte[width * height * 3];
        uint state = seed;
        for (int i = 0; i < pixels.Length; i++)
        {
            state = unchecked(state * 1103515245u + 12345u);
            pixels[i] = (byte)(state >> 16);
        }
        return new RgbImage(width, height, pixels);
    }
}
