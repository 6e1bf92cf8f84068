using Owl3Native.Processing;
using Owl3Native.TestKit;

namespace Owl3Native.Tests.Api;

/// <summary>Pictures the API tests send.</summary>
internal static class TestMedia
{
    /// <summary>A golden processor image by file name.</summary>
    public static string Image(string name) => Path.Combine(SharedData.Root, "golden", "processor", "images", name);

    /// <summary>A 64×64 picture of one colour (two of them tokenise alike and differ only in pixels).</summary>
    public static MediaSource Solid(byte r, byte g, byte b)
    {
        var pixels = new byte[64 * 64 * 3];
        for (int i = 0; i < pixels.Length; i += 3) (pixels[i], pixels[i + 1], pixels[i + 2]) = (r, g, b);
        return MediaSource.Image(new Owl3Native.Processing.Images.RgbImage(64, 64, pixels));
    }
}
