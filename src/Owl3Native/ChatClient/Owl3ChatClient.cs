using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Owl3Native.Engine;
using Owl3Native.Processing;
using Owl3Native.Processing.Text;

namespace Owl3Native.ChatClient;

/// <summary>
/// <see cref="IChatClient"/> over an <see cref="Owl3Engine"/>: text, images (`DataContent` image/*) and videos
/// (`DataContent` video/*, decoded with ffmpeg) in any message, multi-turn, streaming and non-streaming.
/// Each image/video content becomes a placeholder at its position in the message. <see cref="ChatOptions"/> maps to
/// max tokens, temperature (0 = greedy), top-p, top-k, seed and stop sequences.
/// </summary>
/// <remarks>
/// With <see cref="ChatOptions.ConversationId"/> set, the client keeps that conversation (history and decoded images)
/// and each call sends only its new messages; without it every call is stateless and carries the whole history.
/// </remarks>
public sealed class Owl3ChatClient(Owl3Engine engine, string modelId = "mplug-owl3") : IChatClient
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Owl3Chat> _conversations = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var text = new System.Text.StringBuilder();
        GenerationOutput? final = null;
        await foreach (var update in Stream(messages, options, cancellationToken).ConfigureAwait(false))
        {
            text.Append(update.Text);
            final = update.Final ?? final;
        }
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, final?.Text ?? text.ToString()))
        {
            ModelId = modelId,
            ConversationId = options?.ConversationId,
            FinishReason = Map(final?.FinishReason),
            Usage = Usage(final),
        };
        return response;
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var update in Stream(messages, options, cancellationToken).ConfigureAwait(false))
        {
            if (update.Final is { } f)
            {
                var last = new ChatResponseUpdate(ChatRole.Assistant, update.Text) { ModelId = modelId, FinishReason = Map(f.FinishReason), ConversationId = options?.ConversationId };
                last.Contents.Add(new UsageContent(Usage(f)!));
                yield return last;
            }
            else if (update.Text.Length > 0)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, update.Text) { ModelId = modelId };
            }
        }
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this
        : serviceKey is null && serviceType == typeof(Owl3Engine) ? engine
        : serviceKey is null && serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("Owl3Native", defaultModelId: modelId)
        : null;

    /// <summary>The engine belongs to the caller; disposing the client gives its conversations' kept KV caches back.</summary>
    public void Dispose()
    {
        foreach (var chat in _conversations.Values) chat.Dispose();
        _conversations.Clear();
    }

    private IAsyncEnumerable<GenerationUpdate> Stream(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellation)
    {
        var (prompt, media) = Convert(messages);
        var settings = new GenerationSettings(
            MaxNewTokens: options?.MaxOutputTokens, Temperature: options?.Temperature, TopK: options?.TopK, TopP: options?.TopP,
            Seed: options?.Seed is { } seed ? unchecked((ulong)seed) : 0, Stop: options?.StopSequences?.ToArray());
        if (options?.ConversationId is not { } id) return engine.GenerateAsync(prompt, media, settings, cancellation);

        // A kept conversation: everything before the last user message is appended to it, the last one is the turn.
        var chat = _conversations.GetOrAdd(id, _ => engine.StartChat());
        int last = prompt.Count - 1;
        if (last < 0 || prompt[last].Role != PromptRole.User) throw new ArgumentException("the new messages must end with a user message");
        int mediaBefore = prompt.Take(last).Where(m => m.Role == PromptRole.User).Sum(m => Count(m.Content));
        chat.Append(prompt.Take(last), media.Take(mediaBefore));
        return chat.SendAsync(prompt[last].Content, media.Skip(mediaBefore).ToArray(), settings, cancellation);
    }

    private static int Count(string content) =>
        System.Text.RegularExpressions.Regex.Matches(content, System.Text.RegularExpressions.Regex.Escape(MediaTemplates.ImageMarker) + "|" + System.Text.RegularExpressions.Regex.Escape(MediaTemplates.VideoMarker)).Count;

    /// <summary>Chat messages → prompt messages with placeholders where media contents stand, and the media in order.</summary>
    internal static (IReadOnlyList<PromptMessage> Messages, IReadOnlyList<MediaSource> Media) Convert(IEnumerable<ChatMessage> messages)
    {
        var prompt = new List<PromptMessage>();
        var media = new List<MediaSource>();
        foreach (var m in messages)
        {
            var role = m.Role == ChatRole.System ? PromptRole.System : m.Role == ChatRole.Assistant ? PromptRole.Assistant : PromptRole.User;
            var content = new System.Text.StringBuilder();
            foreach (var c in m.Contents)
            {
                switch (c)
                {
                    case TextContent t:
                        content.Append(t.Text);
                        break;
                    case DataContent d when d.MediaType.StartsWith("image/", StringComparison.OrdinalIgnoreCase) && role == PromptRole.User:
                        content.Append(MediaTemplates.ImageMarker);
                        media.Add(MediaSource.ImageBytes(d.Data.ToArray(), d.Name ?? d.MediaType));
                        break;
                    case DataContent d when d.MediaType.StartsWith("video/", StringComparison.OrdinalIgnoreCase) && role == PromptRole.User:
                        content.Append(MediaTemplates.VideoMarker);
                        string path = Path.Combine(Path.GetTempPath(), $"owl3-video-{Guid.NewGuid():N}{Extension(d.MediaType)}");
                        File.WriteAllBytes(path, d.Data.ToArray()); // ffmpeg reads files; the temp file lives for the process
                        media.Add(MediaSource.VideoFile(path));
                        break;
                    case DataContent d:
                        throw new NotSupportedException($"content of type {d.MediaType} is not supported (text, image/* and video/* in user messages are)");
                }
            }
            prompt.Add(new PromptMessage(role, content.ToString()));
        }
        return (prompt, media);
    }

    private static string Extension(string mediaType) => mediaType.ToLowerInvariant() switch
    {
        "video/mp4" => ".mp4",
        "video/webm" => ".webm",
        "video/quicktime" => ".mov",
        _ => ".bin",
    };

    private static ChatFinishReason? Map(FinishReason? reason) => reason switch
    {
        FinishReason.Stop => ChatFinishReason.Stop,
        FinishReason.Length => ChatFinishReason.Length,
        FinishReason.Cancelled => new ChatFinishReason("cancelled"),
        _ => null,
    };

    private static UsageDetails? Usage(GenerationOutput? f) => f is null ? null
        : new UsageDetails { InputTokenCount = f.PromptTokens, OutputTokenCount = f.TokenIds.Count, TotalTokenCount = f.PromptTokens + f.TokenIds.Count };
}
