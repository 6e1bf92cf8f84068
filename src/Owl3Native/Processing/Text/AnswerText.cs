namespace Owl3Native.Processing.Text;

/// <summary>The original's `decode_text` (spec/PROCESSOR.md §10.4): how generated ids become the answer string.</summary>
public static class AnswerText
{
    /// <summary>The pad id the original generates with; every occurrence is removed (this also deletes a generated `!`).</summary>
    public const int PadId = 0;

    /// <summary>
    /// Removes every id 0, drops the last id when it is a terminator, decodes (special tokens kept) and strips leading
    /// and trailing whitespace as Python's <c>str.strip()</c> does.
    /// </summary>
    public static string Decode(Qwen2Tokenizer tokenizer, IReadOnlyList<int> generated, IReadOnlyCollection<int> terminators)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(generated);
        ArgumentNullException.ThrowIfNull(terminators);
        var ids = generated.Where(id => id != PadId).ToList();
        if (ids.Count > 0 && terminators.Contains(ids[^1])) ids.RemoveAt(ids.Count - 1);
        return StripPython(tokenizer.Decode(ids));
    }

    /// <summary>
    /// The streaming path's clean-up: removes the literal `&lt;|im_end|&gt;` and `&lt;|endoftext|&gt;` strings from a piece of
    /// streamed text (spec/PROCESSOR.md §10.4).
    /// </summary>
    public static string RemoveTerminatorText(string text) =>
        text.Replace("<|im_end|>", "", StringComparison.Ordinal).Replace("<|endoftext|>", "", StringComparison.Ordinal);

    /// <summary>Python's <c>str.strip()</c>: <see cref="char.IsWhiteSpace(char)"/> plus U+001C–U+001F.</summary>
    public static string StripPython(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int start = 0, end = text.Length;
        while (start < end && IsPythonSpace(text[start])) start++;
        while (end > start && IsPythonSpace(text[end - 1])) end--;
        return text[start..end];
    }

    private static bool IsPythonSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';
}
