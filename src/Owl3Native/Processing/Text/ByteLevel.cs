namespace Owl3Native.Processing.Text;

/// <summary>
/// GPT-2/Qwen2 byte-to-unicode map (spec/PROCESSOR.md §6): bytes 33–126, 161–172 and 174–255 stand for themselves,
/// the other 68 bytes map to U+0100 + n in increasing byte order. Vocabulary entries are spelled in these characters.
/// </summary>
internal static class ByteLevel
{
    /// <summary>The character that stands for each byte.</summary>
    public static IReadOnlyList<char> ByteToChar { get; } = BuildByteToChar();

    private static readonly Dictionary<char, byte> s_charToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    /// <summary>The bytes a vocabulary entry stands for; false when it holds a character outside the alphabet.</summary>
    public static bool TryGetBytes(string token, out byte[] bytes)
    {
        bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            if (!s_charToByte.TryGetValue(token[i], out bytes[i])) return false;
        }
        return true;
    }

    /// <summary>The vocabulary spelling of a byte string.</summary>
    public static string ToToken(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= 33 and <= 126 or >= 161 and <= 172 or >= 174;
            map[b] = printable ? (char)b : (char)(0x100 + next++);
        }
        return map;
    }
}
