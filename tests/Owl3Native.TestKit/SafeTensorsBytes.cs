using System.Buffers.Binary;
using System.Text;

namespace Owl3Native.TestKit;

/// <summary>
/// Builds raw safetensors bytes (8-byte little-endian header length, header, data) from pieces the test
/// controls, so a test can craft a broken file byte by byte instead of going through the writer.
/// </summary>
public static class SafeTensorsBytes
{
    /// <summary>A file whose header is <paramref name="headerJson"/> (UTF-8, space-padded to a multiple of 8) followed by <paramref name="data"/>.</summary>
    public static byte[] Build(string headerJson, ReadOnlySpan<byte> data = default) =>
        Build(Pad(Encoding.UTF8.GetBytes(headerJson)), data);

    /// <summary>A file whose header is exactly <paramref name="header"/> (no padding added) followed by <paramref name="data"/>.</summary>
    public static byte[] Build(ReadOnlySpan<byte> header, ReadOnlySpan<byte> data) =>
        WithHeaderLength((ulong)header.Length, [.. header, .. data]);

    /// <summary>A file that starts with the length field <paramref name="headerLength"/> (whatever it claims) followed by <paramref name="rest"/>.</summary>
    public static byte[] WithHeaderLength(ulong headerLength, ReadOnlySpan<byte> rest)
    {
        var bytes = new byte[8 + rest.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength);
        rest.CopyTo(bytes.AsSpan(8));
        return bytes;
    }

    /// <summary>The header length field of a file.</summary>
    public static ulong HeaderLength(ReadOnlySpan<byte> file) => BinaryPrimitives.ReadUInt64LittleEndian(file);

    /// <summary>One header entry, `"name": {"dtype": ..., "shape": [...], "data_offsets": [begin, end]}`, to join into a header.</summary>
    public static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\": {{\"dtype\": \"{dtype}\", \"shape\": {shape}, \"data_offsets\": [{begin}, {end}]}}";

    /// <summary>A header object holding <paramref name="entries"/>.</summary>
    public static string Header(params string[] entries) => "{" + string.Join(", ", entries) + "}";

    /// <summary><paramref name="count"/> bytes 0, 1, 2, ... (mod 256), so misplaced data is visible.</summary>
    public static byte[] Ramp(int count)
    {
        var bytes = new byte[count];
        for (int i = 0; i < count; i++) bytes[i] = (byte)i;
        return bytes;
    }

    private static byte[] Pad(byte[] header)
    {
        int padded = (header.Length + 7) / 8 * 8;
        var bytes = new byte[padded];
        header.CopyTo(bytes, 0);
        bytes.AsSpan(header.Length).Fill((byte)' ');
        return bytes;
    }
}
