using Owl3Native.Processing;
using Owl3Native.Processing.Images;
using Owl3Native.Processing.Text;

namespace Owl3Native;

/// <summary>
/// A multi-turn conversation on an <see cref="Owl3Engine"/>: keeps the history and the media of earlier turns (images
/// decoded once and kept decoded), so each turn sends only what is new. The KV cache of the last turn is kept, so the
/// next turn prefills only the tokens the conversation did not already have (what a turn reused is reported as
/// <see cref="GenerationOutput.CachedPromptTokens"/>); the engine drops kept caches first when blocks run short. Not
/// thread-safe: one turn at a time per chat. Dispose (or <see cref="Reset"/>) gives the kept cache back at once.
/// </summary>
public sealed class Owl3Chat : IDisposable
{
    private Engine.KvPrefix? _prefix;
    private readonly Owl3Engine _engine;
    private readonly List<PromptMessage> _history = [];
    private readonly List<MediaSource> _media = [];

    internal Owl3Chat(Owl3Engine engine, string? system)
    {
        _engine = engine;
        if (system is not null) _history.Add(new PromptMessage(PromptRole.System, system));
    }

    /// <summary>Messages so far (system, user and assistant turns).</summary>
    public IReadOnlyList<PromptMessage> History => _history;

    /// <summary>Media of the conversation, in placeholder order.</summary>
    public IReadOnlyList<MediaSource> Media => _media;

    /// <summary>Forgets every turn (the system message stays).</summary>
    public void Reset()
    {
        _history.RemoveAll(m => m.Role != PromptRole.System);
        _media.Clear();
        ReleasePrefix();
    }

    /// <summary>Gives the kept KV cache back to the engine.</summary>
    public void Dispose() => ReleasePrefix();

    private void ReleasePrefix()
    {
        if (_prefix is { } p) _engine.Scheduler.Release(p);
        _prefix = null;
    }

    /// <summary>Adds messages to the conversation without generating (for a client that replays its own history).</summary>
    public void Append(IEnumerable<PromptMessage> messages, IEnumerable<MediaSource> media)
    {
        _history.AddRange(messages);
        _media.AddRange(media.Select(Decode));
    }

    /// <summary>
    /// One turn: <paramref name="text"/> (with a placeholder per new medium, or placeholders are put in front) and its
    /// media; streams the answer and appends both turns when it completes (a failed or cancelled turn leaves no trace).
    /// </summary>
    public async IAsyncEnumerable<GenerationUpdate> SendAsync(string text, IReadOnlyList<MediaSource>? media = null, GenerationSettings? settings = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation = default)
    {
        media ??= [];
        var decoded = media.Select(Decode).ToArray();
        if (decoded.Length > 0 && !text.Contains(MediaTemplates.ImageMarker, StringComparison.Ordinal) && !text.Contains(MediaTemplates.VideoMarker, StringComparison.Ordinal))
            text = string.Concat(decoded.Select(m => m is VideoSource ? MediaTemplates.VideoMarker : MediaTemplates.ImageMarker)) + text;
        var user = new PromptMessage(PromptRole.User, text);
        GenerationOutput? final = null;
        var reuse = _prefix;
        _prefix = null; // taken by this turn (or released below if the turn did not use it)
        bool recorded = false;
        try
        {
            await foreach (var u in _engine.GenerateAsync([.. _history, user], [.. _media, .. decoded], settings, reuse, keep: true, cancellation).ConfigureAwait(false))
            {
                final = u.Final ?? final;
                yield return u;
            }
            recorded = true; // the reader did not leave: the turn goes into the history below
        }
        finally
        {
            if (reuse is not null) _engine.Scheduler.Release(reuse); // no-op when the turn adopted it
            if (final?.Kept is { } kept)
            {
                // A cache of a turn the history does not hold (its images included) must not start the next turn.
                if (final.FinishReason == Engine.FinishReason.Cancelled || !recorded) _engine.Scheduler.Release(kept);
                else _prefix = kept;
            }
        }
        if (final is null || final.FinishReason == Engine.FinishReason.Cancelled) yield break;
        _history.Add(user);
        _history.Add(new PromptMessage(PromptRole.Assistant, final.Text));
        _media.AddRange(decoded);
    }

    /// <summary>Images are decoded once and kept decoded for later turns; videos stay files (decoded each turn).</summary>
    private static MediaSource Decode(MediaSource source) => source switch
    {
        ImageSource { Decoded: null, Path: { } path } => MediaSource.Image(ImageLoader.Load(path)),
        ImageSource { Decoded: null, Data: { } data } i => MediaSource.Image(ImageLoader.Load(data, null, i.Name ?? "<image>")),
        _ => source,
    };
}
