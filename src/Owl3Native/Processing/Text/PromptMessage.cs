namespace Owl3Native.Processing.Text;

/// <summary>Who wrote a chat message.</summary>
public enum PromptRole
{
    /// <summary>The system prompt (spec/PROCESSOR.md §5: no default text; an empty system turn is inserted when absent).</summary>
    System,
    /// <summary>A user turn; the only role whose `&lt;|image|&gt;`/`&lt;|video|&gt;` placeholders take media.</summary>
    User,
    /// <summary>A model turn (history), or an empty final one that asks for the generation prompt.</summary>
    Assistant,
}

/// <summary>
/// One chat message; media appear in user content as `&lt;|image|&gt;` / `&lt;|video|&gt;` placeholders. (Not named
/// `ChatMessage`, so that it never clashes with Microsoft.Extensions.AI's type in the `IChatClient` adapter.)
/// </summary>
/// <param name="Role">Who wrote it.</param>
/// <param name="Content">The text, verbatim.</param>
public sealed record PromptMessage(PromptRole Role, string Content);
