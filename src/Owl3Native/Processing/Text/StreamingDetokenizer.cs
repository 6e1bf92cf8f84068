using System.Text;

namespace Owl3Native.Processing.Text;

/// <summary>
/// Turns generated token ids into text as they arrive. A character whose UTF-8 bytes are split across tokens (emoji,
/// CJK) is held back until complete, so no piece ever ends in a broken sequence; the pieces plus <see cref="Flush"/>
/// concatenate to exactly <see cref="Qwen2Tokenizer.Decode"/> of all ids. One instance per sequence; not thread-safe.
/// </summary>
public sealed class StreamingDetokenizer
{
    private readonly Qwen2Tokenizer _tokenizer;
    private readonly byte[] _pending = new byte[4]; // an incomplete but still valid UTF-8 prefix (≤ 3 bytes)
    private int _pendingLength;

    /// <summary>Creates a detokenizer over <paramref name="tokenizer"/>.</summary>
    public StreamingDetokenizer(Qwen2Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
    }

    /// <summary>Adds one token; returns the text that became complete (often "", never a broken character).</summary>
    public string Append(int id)
    {
        var tokenBytes = _tokenizer.TokenBytes(id);
        if (tokenBytes.IsEmpty) return "";
        byte[] bytes = new byte[_pendingLength + tokenBytes.Length];
        _pending.AsSpan(0, _pendingLength).CopyTo(bytes);
        tokenBytes.CopyTo(bytes.AsSpan(_pendingLength));

        int complete = bytes.Length - IncompleteTailLength(bytes);
        _pendingLength = bytes.Length - complete;
        bytes.AsSpan(complete).CopyTo(_pending);
        return Encoding.UTF8.GetString(bytes, 0, complete);
    }

    /// <summary>Ends the stream: returns the held-back bytes decoded with replacement (U+FFFD) and clears them.</summary>
    public string Flush()
    {
        string text = Encoding.UTF8.GetString(_pending, 0, _pendingLength);
        _pendingLength = 0;
        return text;
    }

    /// <summary>
    /// Length of the trailing bytes that start a valid UTF-8 sequence which is not finished yet (0 when the text ends
    /// on a complete character or on bytes that are invalid whatever follows). A lead byte always starts a new
    /// replacement unit, so decoding the bytes before it gives the same text as decoding everything at once.
    /// </summary>
    internal static int IncompleteTailLength(ReadOnlySpan<byte> bytes)
    {
        for (int back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            byte b = bytes[^back];
            if (b is >= 0x80 and <= 0xBF) continue; // continuation byte: look further back for the lead
            int need = b switch { >= 0xC2 and <= 0xDF => 2, >= 0xE0 and <= 0xEF => 3, >= 0xF0 and <= 0xF4 => 4, _ => 0 };
            if (need <= back) return 0;            // ASCII, invalid lead, or a complete sequence
            if (back >= 2 && !ValidSecondByte(b, bytes[^(back - 1)])) return 0;
            return back;
        }
        return 0;
    }

    /// <summary>The second-byte ranges of Unicode Table 3-7 (no overlongs, surrogates or code points above U+10FFFF).</summary>
    private static bool ValidSecondByte(byte lead, byte second) => lead switch
    {
        0xE0 => second is >= 0xA0 and <= 0xBF,
        0xED => second is >= 0x80 and <= 0x9F,
        0xF0 => second is >= 0x90 and <= 0xBF,
        0xF4 => second is >= 0x80 and <= 0x8F,
        _ => second is >= 0x80 and <= 0xBF,
    };
}
