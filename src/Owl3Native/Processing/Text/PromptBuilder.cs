using System.Text;
using Owl3Native.Models.Checkpoints;

namespace Owl3Native.Processing.Text;

/// <summary>
/// The text half of the processor: expands media placeholders for a checkpoint generation, applies the chat template
/// and tokenises chunk by chunk (spec/PROCESSOR.md §4–§8). BPE merges never cross a chunk boundary, so
/// `" &lt;|image|&gt;"` stays [space, marker…]; a marker's first token index is recorded as its start.
/// </summary>
public sealed class PromptBuilder
{
    private readonly Qwen2Tokenizer _tokenizer;
    private readonly int[] _markerIds;

    /// <summary>Creates a builder for <paramref name="variant"/> (which selects the cut and video templates).</summary>
    public PromptBuilder(Qwen2Tokenizer tokenizer, Owl3Variant variant)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        Variant = variant;
        _markerIds = tokenizer.Encode(MediaTemplates.ImageMarker);
    }

    /// <summary>The checkpoint generation whose templates are used.</summary>
    public Owl3Variant Variant { get; }

    /// <summary>
    /// Builds the prompt of <paramref name="messages"/>. <paramref name="media"/> holds one item per `&lt;|image|&gt;` /
    /// `&lt;|video|&gt;` placeholder of the user messages, in text order (placeholders in system and assistant messages are
    /// plain text). Append an empty assistant message to get the generation prompt.
    /// </summary>
    /// <exception cref="MediaMismatchException">Placeholders and media differ in number, or a placeholder gets the wrong kind.</exception>
    /// <exception cref="ArgumentException">An image grid or a video frame count is invalid.</exception>
    public EncodedPrompt Build(IReadOnlyList<PromptMessage> messages, IReadOnlyList<MediaItem>? media = null)
    {
        var expanded = ExpandMedia(messages, media ?? [], Variant);
        var chunks = ChatTemplate.Chunks(expanded);
        var ids = new List<int>();
        var starts = new List<int>();
        var text = new StringBuilder();
        foreach (var chunk in chunks)
        {
            text.Append(chunk.Text);
            if (chunk.IsImageMarker)
            {
                starts.Add(ids.Count);
                ids.AddRange(_markerIds);
            }
            else ids.AddRange(_tokenizer.Encode(chunk.Text));
        }
        return new EncodedPrompt(text.ToString(), ids.ToArray(), starts.ToArray());
    }

    /// <summary>
    /// Replaces each placeholder of the user messages by its medium's text (<see cref="MediaTemplates"/>), consuming
    /// <paramref name="media"/> in text order; other roles are returned unchanged.
    /// </summary>
    /// <exception cref="MediaMismatchException">Placeholders and media differ in number, or a placeholder gets the wrong kind.</exception>
    public static IReadOnlyList<PromptMessage> ExpandMedia(IReadOnlyList<PromptMessage> messages, IReadOnlyList<MediaItem> media, Owl3Variant variant)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(media);
        int placeholders = messages.Where(m => m?.Role == PromptRole.User).Sum(m => Placeholders(m.Content).Count());
        if (placeholders != media.Count)
            throw new MediaMismatchException(
                $"the user messages hold {placeholders} media placeholder(s) ({MediaTemplates.ImageMarker} / {MediaTemplates.VideoMarker}) " +
                $"but {media.Count} media item(s) were supplied", placeholders, media.Count);

        int next = 0;
        var result = new PromptMessage[messages.Count];
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i] ?? throw new ArgumentException($"message {i} is null", nameof(messages));
            if (m.Role != PromptRole.User) { result[i] = m; continue; }
            if (m.Content is null) throw new ArgumentException($"message {i} has no content", nameof(messages));
            var sb = new StringBuilder(m.Content.Length);
            int copied = 0;
            foreach (var (at, isVideo) in Placeholders(m.Content))
            {
                sb.Append(m.Content, copied, at - copied);
                var item = media[next];
                sb.Append((isVideo, item) switch
                {
                    (false, ImageItem image) => MediaTemplates.Image(image, variant),
                    (true, VideoItem video) => MediaTemplates.Video(video, variant),
                    _ => throw new MediaMismatchException(
                        $"placeholder {next} ({(isVideo ? MediaTemplates.VideoMarker : MediaTemplates.ImageMarker)}, message {i}) " +
                        $"was given a {item?.GetType().Name ?? "null"}; media must follow the placeholders' order and kind", placeholders, media.Count),
                });
                next++;
                copied = at + (isVideo ? MediaTemplates.VideoMarker : MediaTemplates.ImageMarker).Length;
            }
            sb.Append(m.Content, copied, m.Content.Length - copied);
            result[i] = m with { Content = sb.ToString() };
        }
        return result;
    }

    /// <summary>Positions of `&lt;|image|&gt;` and `&lt;|video|&gt;` in text order.</summary>
    private static IEnumerable<(int At, bool IsVideo)> Placeholders(string? content)
    {
        if (content is null) yield break;
        for (int i = content.IndexOf("<|", StringComparison.Ordinal); i >= 0; i = content.IndexOf("<|", i + 1, StringComparison.Ordinal))
        {
            if (string.CompareOrdinal(content, i, MediaTemplates.ImageMarker, 0, MediaTemplates.ImageMarker.Length) == 0)
                yield return (i, false);
            else if (string.CompareOrdinal(content, i, MediaTemplates.VideoMarker, 0, MediaTemplates.VideoMarker.Length) == 0)
                yield return (i, true);
        }
    }
}
