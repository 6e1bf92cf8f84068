namespace Owl3Native.Processing.Text;

/// <summary>One piece of the prompt, tokenised on its own; image markers are pieces of their own.</summary>
/// <param name="Text">The piece's text.</param>
/// <param name="IsImageMarker">True for an `&lt;|image|&gt;` marker (its first token is a marker start s_j).</param>
public readonly record struct PromptChunk(string Text, bool IsImageMarker);

/// <summary>
/// The ChatML prompt of both generations as a list of chunks (spec/PROCESSOR.md §5): an empty system turn unless the
/// first message is a system message; user turns `\n&lt;|im_start|&gt;user\n{content}&lt;|im_end|&gt;` split around every
/// `&lt;|image|&gt;`; assistant turns `\n&lt;|im_start|&gt;assistant\n`, `{content}&lt;|im_end|&gt;`, `&lt;|endoftext|&gt;`.
/// Inference mode drops the trailing answer chunks of a final assistant message, so a conversation ending with an
/// empty assistant message ends with the generation prompt `\n&lt;|im_start|&gt;assistant\n` (without one there is no
/// generation prompt; a final non-empty assistant message loses its text, as in the original).
/// </summary>
public static class ChatTemplate
{
    private const string ImStart = "<|im_start|>", ImEnd = "<|im_end|>", EndOfText = "<|endoftext|>";

    /// <summary>The chunks of <paramref name="messages"/> (media already expanded: only `&lt;|image|&gt;` markers remain).</summary>
    public static IReadOnlyList<PromptChunk> Chunks(IReadOnlyList<PromptMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var chunks = new List<(PromptChunk Chunk, bool IsAnswer)>();
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i] ?? throw new ArgumentException($"message {i} is null", nameof(messages));
            ArgumentNullException.ThrowIfNull(m.Content, $"messages[{i}].Content");
            if (i == 0 && m.Role != PromptRole.System) chunks.Add((new($"{ImStart}system\n{ImEnd}", false), false));
            switch (m.Role)
            {
                case PromptRole.System:
                    chunks.Add((new($"{ImStart}system\n{m.Content}{ImEnd}", false), false));
                    break;
                case PromptRole.User:
                    foreach (var piece in SplitAroundMarkers($"\n{ImStart}user\n{m.Content}{ImEnd}"))
                        chunks.Add((piece, false));
                    break;
                case PromptRole.Assistant:
                    chunks.Add((new($"\n{ImStart}assistant\n", false), false));
                    chunks.Add((new($"{m.Content}{ImEnd}", false), true));
                    chunks.Add((new(EndOfText, false), true));
                    break;
                default:
                    throw new ArgumentException($"message {i} has an unknown role {m.Role}", nameof(messages));
            }
        }
        while (chunks.Count > 0 && chunks[^1].IsAnswer) chunks.RemoveAt(chunks.Count - 1);
        return chunks.Select(c => c.Chunk).ToArray();
    }

    /// <summary>The prompt text: the chunks concatenated.</summary>
    public static string Render(IReadOnlyList<PromptMessage> messages) => string.Concat(Chunks(messages).Select(c => c.Text));

    private static IEnumerable<PromptChunk> SplitAroundMarkers(string text)
    {
        int start = 0;
        for (int at; (at = text.IndexOf(MediaTemplates.ImageMarker, start, StringComparison.Ordinal)) >= 0; start = at + MediaTemplates.ImageMarker.Length)
        {
            if (at > start) yield return new(text[start..at], false);
            yield return new(MediaTemplates.ImageMarker, true);
        }
        if (start < text.Length) yield return new(text[start..], false);
    }
}
