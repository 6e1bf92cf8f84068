namespace Owl3Native.Models.Checkpoints;

/// <summary>
/// The GPT-2 / Qwen2 byte-to-unicode map: printable bytes map to themselves, the others to U+0100 onwards.
/// Token ids 0..255 of a Qwen2 vocabulary are these 256 symbols in this order.
/// </summary>
internal static class ByteLevelAlphabet
{
    /// <summary>The 256 symbols in vocabulary order (id = index).</summary>
    public static IReadOnlyList<string> Symbols { get; } = Build();

    private static string[] Build()
    {
        var printable = new List<int>();
        for (int b = '!'; b <= '~'; b++) printable.Add(b);
        for (int b = 0xA1; b <= 0xAC; b++) printable.Add(b);
        for (int b = 0xAE; b <= 0xFF; b++) printable.Add(b);
        var symbols = printable.Select(b => ((char)b).ToString()).ToList();
        int next = 0;
        for (int b = 0; b < 256; b++)
            if (!printable.Contains(b)) symbols.Add(((char)(256 + next++)).ToString());
        return symbols.ToArray();
    }
}
