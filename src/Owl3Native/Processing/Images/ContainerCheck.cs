using System.Buffers.Binary;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;

namespace Owl3Native.Processing.Images;

/// <summary>
/// Structural checks on the encoded bytes, run before decoding. ImageSharp fills the missing part of a cut-short PNG,
/// JPEG, BMP or GIF with zeros and returns no error; PIL's <c>load()</c> raises "image file is truncated". These walks
/// find the end of the container (PNG IEND, JPEG EOI, the BMP pixel array, the RIFF size of WebP, the end of the GIF's
/// first frame) without decoding pixels. Not covered: a deflate stream cut short inside complete, CRC-valid PNG chunks
/// (ImageSharp leaves the missing rows black).
/// </summary>
internal static class ContainerCheck
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Null when the container is complete, else why it is not (for <see cref="ImageDecodeError.Corrupt"/>).</summary>
    public static string? FindDamage(ReadOnlySpan<byte> data, IImageFormat format) => format switch
    {
        PngFormat => CheckPng(data),
        JpegFormat => CheckJpeg(data),
        BmpFormat => CheckBmp(data),
        WebpFormat => CheckWebp(data),
        GifFormat => GifStructure.Read(data).Damage,
        _ => null,
    };

    // Chunks: 4-byte big-endian length, 4-byte type, data, 4-byte CRC; the last one is IEND.
    private static string? CheckPng(ReadOnlySpan<byte> data)
    {
        if (data.Length < PngSignature.Length || !data[..PngSignature.Length].SequenceEqual(PngSignature))
            return "not a PNG signature";
        long pos = PngSignature.Length;
        while (pos + 8 <= data.Length)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data[(int)pos..]);
            string type = System.Text.Encoding.ASCII.GetString(data.Slice((int)pos + 4, 4));
            if (length > int.MaxValue)
                return $"PNG chunk `{type}` at byte {pos} claims {length} bytes";
            long end = pos + 12 + length;
            if (end > data.Length)
                return $"truncated: PNG chunk `{type}` at byte {pos} needs {length} data bytes, the file ends {data.Length - pos - 8} bytes in";
            if (type == "IEND")
                return null;
            pos = end;
        }
        return $"truncated: the PNG ends after {data.Length} bytes without an IEND chunk";
    }

    // Marker segments up to SOS, then entropy-coded data up to the next marker, until EOI. Segment lengths skip APPn
    // payloads, so the EOI of an embedded EXIF thumbnail is never mistaken for the image's own.
    private static string? CheckJpeg(ReadOnlySpan<byte> data)
    {
        int pos = 2; // after SOI (FF D8), checked by the format detector
        while (true)
        {
            while (pos < data.Length && data[pos] != 0xFF) pos++;      // extraneous bytes: libjpeg warns and skips them
            while (pos < data.Length && data[pos] == 0xFF) pos++;      // fill bytes
            if (pos >= data.Length)
                return $"truncated: the JPEG ends after {data.Length} bytes without an end-of-image marker";
            byte marker = data[pos++];
            if (marker == 0xD9)
                return null;
            if (marker == 0x01 || marker is >= 0xD0 and <= 0xD8)
                continue;                                               // TEM, RSTn, SOI: no length field
            if (pos + 2 > data.Length)
                return $"truncated: JPEG marker FF{marker:X2} at byte {pos - 2} has no length";
            int length = BinaryPrimitives.ReadUInt16BigEndian(data[pos..]);
            if (length < 2)
                return $"JPEG marker FF{marker:X2} at byte {pos - 2} has an invalid length {length}";
            if (pos + length > data.Length)
                return $"truncated: JPEG segment FF{marker:X2} at byte {pos - 2} needs {length} bytes, the file ends {data.Length - pos} bytes in";
            pos += length;
            if (marker != 0xDA)
                continue;
            // Scan data: FF 00 is a stuffed byte, FF D0..D7 a restart marker; any other FF xx ends the scan.
            while (true)
            {
                int ff = data[pos..].IndexOf((byte)0xFF);
                if (ff < 0 || pos + ff + 1 >= data.Length)
                    return $"truncated: the JPEG scan data runs to the end of the file ({data.Length} bytes) without an end-of-image marker";
                pos += ff + 1;
                byte next = data[pos];
                if (next == 0x00 || next is >= 0xD0 and <= 0xD7)
                    continue;
                pos--;                                                  // back to the FF of the marker
                break;
            }
        }
    }

    // BITMAPFILEHEADER (14 bytes) + DIB header; only uncompressed layouts (BI_RGB, BI_BITFIELDS) have a known size.
    private static string? CheckBmp(ReadOnlySpan<byte> data)
    {
        if (data.Length < 30)
            return $"truncated: {data.Length} bytes cannot hold a BMP header";
        uint pixelOffset = BinaryPrimitives.ReadUInt32LittleEndian(data[10..]);
        uint dibSize = BinaryPrimitives.ReadUInt32LittleEndian(data[14..]);
        if (dibSize < 40 || data.Length < 14 + 40)
            return null; // OS/2 and other old headers: left to the decoder
        long width = BinaryPrimitives.ReadInt32LittleEndian(data[18..]);
        long height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(data[22..]));
        int bitsPerPixel = BinaryPrimitives.ReadUInt16LittleEndian(data[28..]);
        uint compression = BinaryPrimitives.ReadUInt32LittleEndian(data[30..]);
        if (compression is not (0 or 3 or 6) || width <= 0 || bitsPerPixel == 0)
            return null;
        long stride = (width * bitsPerPixel + 31) / 32 * 4;
        long needed = pixelOffset + stride * height;
        return needed > data.Length
            ? $"truncated: the BMP pixel array needs {needed} bytes, the file has {data.Length}"
            : null;
    }

    // RIFF header: "RIFF", little-endian size of what follows (file length − 8), "WEBP".
    private static string? CheckWebp(ReadOnlySpan<byte> data)
    {
        if (data.Length < 12)
            return $"truncated: {data.Length} bytes cannot hold a WebP header";
        long riffSize = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        return riffSize + 8 > data.Length
            ? $"truncated: the WebP RIFF header announces {riffSize + 8} bytes, the file has {data.Length}"
            : null;
    }
}
