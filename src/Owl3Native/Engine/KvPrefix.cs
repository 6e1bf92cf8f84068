namespace Owl3Native.Engine;

/// <summary>
/// The KV cache of a finished sequence, kept so a later request that starts with the same tokens (the next turn of a
/// chat) skips prefilling them. Owned by the scheduler: a chat turn takes it over (at most one request), prefix-cache
/// requests share its whole blocks (any number); it is dropped first when blocks run short, and released by
/// <see cref="Scheduler.Release(KvPrefix)"/>. Text K/V of a prefix never depend on
/// later tokens or later images (attention is causal and an image is visible only after its marker), so a prefix stays
/// valid whatever the continuation adds.
/// </summary>
public sealed class KvPrefix
{
    internal KvPrefix(SequenceState sequence) => Sequence = sequence;

    /// <summary>The parked sequence (null once taken by a request or released).</summary>
    internal SequenceState? Sequence { get; set; }

    /// <summary>Tokens whose K/V the prefix holds (0 once taken or released).</summary>
    public int Tokens => Sequence?.CachedLength ?? 0;
}
