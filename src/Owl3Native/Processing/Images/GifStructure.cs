namespace Owl3Native.Processing.Images;

/// <summary>
/// Walks a GIF's blocks up to the end of its first frame (no LZW decoding) for two things ImageSharp does not give:
/// <list type="bullet">
/// <item>completeness: ImageSharp returns a cut-short frame with the missing rows transparent, PIL raises
///   "image file is truncated";</item>
/// <item>the colour PIL shows for transparent pixels: PIL opens a GIF as a palette image and <c>convert("RGB")</c>
///   maps the transparent index through the palette like any other (the canvas outside the frame is filled with that
///   index too); ImageSharp leaves those pixels transparent black.</item>
/// </list>
/// </summary>
internal static class GifStructure
{
    private const byte ExtensionIntroducer = 0x21, GraphicControlLabel = 0xF9, ImageSeparator = 0x2C, Trailer = 0x3B;
    private const int LogicalScreenEnd = 13; // "GIF89a", width, height, flags, background index, aspect ratio

    /// <summary>What the walk found: damage (null when the first frame is complete) and the transparent colour.</summary>
    public readonly record struct FirstFrame(string? Damage, (byte R, byte G, byte B)? TransparentColor);

    /// <summary>Walks <paramref name="gif"/> (signature already checked) to the end of its first frame's image data.</summary>
    public static FirstFrame Read(ReadOnlySpan<byte> gif)
    {
        if (gif.Length < LogicalScreenEnd)
            return Truncated(gif, "in the logical screen descriptor");
        int pos = LogicalScreenEnd;
        if (!TryTable(gif, ref pos, gif[10], out var globalTable))
            return Truncated(gif, "in the global colour table");
        int? transparentIndex = null;
        while (pos < gif.Length)
        {
            byte block = gif[pos++];
            if (block == ExtensionIntroducer)
            {
                if (pos >= gif.Length)
                    break;
                byte label = gif[pos++];
                if (label == GraphicControlLabel && pos + 5 <= gif.Length && gif[pos] == 4)
                    transparentIndex = (gif[pos + 1] & 0x01) != 0 ? gif[pos + 4] : null;
                if (!SkipSubBlocks(gif, ref pos))
                    return Truncated(gif, $"in an extension block (label 0x{label:X2})");
            }
            else if (block == ImageSeparator)
            {
                if (pos + 9 > gif.Length)
                    break;
                int flags = gif[pos + 8];
                pos += 9; // left, top, width, height (2 bytes each), flags
                if (!TryTable(gif, ref pos, flags, out var localTable))
                    return Truncated(gif, "in the first frame's colour table");
                pos++;    // LZW minimum code size
                if (!SkipSubBlocks(gif, ref pos))
                    return Truncated(gif, "in the first frame's image data");
                var table = localTable.IsEmpty ? globalTable : localTable;
                (byte, byte, byte)? color = transparentIndex is { } i && 3 * i + 2 < table.Length
                    ? (table[3 * i], table[3 * i + 1], table[3 * i + 2])
                    : null;
                return new FirstFrame(null, color);
            }
            else
            {
                return new FirstFrame(block == Trailer ? "the GIF has no image" : $"unknown GIF block 0x{block:X2} at byte {pos - 1}", null);
            }
        }
        return Truncated(gif, "before the first frame's image data");
    }

    private static FirstFrame Truncated(ReadOnlySpan<byte> gif, string where) =>
        new($"truncated: the GIF ends after {gif.Length} bytes, {where}", null);

    // A colour table follows when bit 7 of the flags is set: 2^(n+1) RGB entries, n = the low 3 bits.
    private static bool TryTable(ReadOnlySpan<byte> gif, ref int pos, int flags, out ReadOnlySpan<byte> table)
    {
        table = default;
        if ((flags & 0x80) == 0)
            return true;
        int length = 3 << ((flags & 0x07) + 1);
        if (pos + length > gif.Length)
            return false;
        table = gif.Slice(pos, length);
        pos += length;
        return true;
    }

    // Data sub-blocks: a size byte, that many bytes, …, a zero size byte.
    private static bool SkipSubBlocks(ReadOnlySpan<byte> gif, ref int pos)
    {
        while (pos < gif.Length)
        {
            int size = gif[pos++];
            if (size == 0)
                return true;
            pos += size;
        }
        return false;
    }
}
