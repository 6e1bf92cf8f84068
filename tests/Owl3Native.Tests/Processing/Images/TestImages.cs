using System.Buffers.Binary;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.PixelFormats;

namespace Owl3Native.Tests.Processing.Images;

/// <summary>Encoded test images made in the test: ImageSharp encodes, plus hand-built PNG chunks for hostile headers.</summary>
internal static class TestImages
{
    public static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>An image whose pixel (x, y) is <paramref name="pixel"/>(x, y).</summary>
    public static Image<T> Make<T>(int width, int height, Func<int, int, T> pixel) where T : unmanaged, IPixel<T>
    {
        var image = new Image<T>(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                image[x, y] = pixel(x, y);
        return image;
    }

    /// <summary>The bytes of <paramref name="image"/> encoded by <paramref name="encoder"/> (the image is disposed).</summary>
    public static byte[] Encode<T>(Image<T> image, IImageEncoder encoder) where T : unmanaged, IPixel<T>
    {
        using (image)
        {
            using var stream = new MemoryStream();
            image.Save(stream, encoder);
            return stream.ToArray();
        }
    }

    /// <summary>A smooth RGB test picture (gradients and a checkerboard), like the golden images.</summary>
    public static Image<Rgb24> Picture(int width, int height) => Make(width, height, (x, y) =>
        new Rgb24((byte)(x * 255 / Math.Max(width - 1, 1)), (byte)(y * 255 / Math.Max(height - 1, 1)), (byte)((x / 8 + y / 8) % 2 == 0 ? 40 : 215)));

    /// <summary>A PNG from raw chunks: signature, IHDR of the given size, the given IDAT payload, IEND.</summary>
    public static byte[] PngWithHeader(uint width, uint height, byte bitDepth = 8, byte colorType = 2, byte[]? idat = null)
    {
        using var stream = new MemoryStream();
        stream.Write(PngSignature);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = bitDepth;
        ihdr[9] = colorType;
        WriteChunk(stream, "IHDR", ihdr);
        WriteChunk(stream, "IDAT", idat ?? [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        WriteChunk(stream, "IEND", []);
        return stream.ToArray();
    }

    /// <summary>Rewrites the CRC of every complete chunk, so a mutated PNG gets past the CRC checks into the decoder.</summary>
    public static void FixPngCrcs(byte[] png)
    {
        int pos = PngSignature.Length;
        while (pos + 12 <= png.Length)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
            if (pos + 12 + length > png.Length) return;
            uint crc = Crc32(png.AsSpan(pos + 4, 4 + (int)length));
            BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(pos + 8 + (int)length), crc);
            pos += 12 + (int)length;
        }
    }

    private static void WriteChunk(Stream stream, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
        stream.Write(word);
        var typed = new byte[4 + data.Length];
        System.Text.Encoding.ASCII.GetBytes(type, typed);
        data.CopyTo(typed, 4);
        stream.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typed));
        stream.Write(word);
    }

    // PNG's CRC-32 (ISO 3309, reflected polynomial 0xEDB88320).
    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }
}
