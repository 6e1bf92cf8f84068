namespace Owl3Native.Engine;

/// <summary>
/// Automatic prefix caching for stateless requests (an OpenAI client resends the whole conversation every turn): the
/// KV caches of the last finished requests are kept, and a new request whose prompt starts with one of them shares the
/// longest match's whole blocks instead of prefilling them again — any number of requests at once (blocks are
/// reference-counted; full blocks are never rewritten). A request whose tokens extend the cache it started from
/// replaces it (a conversation keeps one entry); caches beyond <see cref="Capacity"/> go back oldest first, and the scheduler drops
/// kept caches before any running sequence waits for blocks. The scheduler still checks every share against the
/// live cache, images included.
/// </summary>
internal sealed class PrefixPool(Scheduler scheduler, int capacity, int minTokens) : IDisposable
{
    private readonly object _gate = new();
    private readonly LinkedList<(KvPrefix Prefix, int[] Tokens, string[] Crops)> _entries = []; // least recently used first
    private long _hits, _reusedTokens;
    private bool _disposed;

    /// <summary>Most caches kept at once.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>Requests that shared a kept cache, and the prompt tokens they did not prefill.</summary>
    public (long Hits, long ReusedTokens) Stats
    {
        get { lock (_gate) return (_hits, _reusedTokens); }
    }

    /// <summary>Caches kept now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                Prune();
                return _entries.Count;
            }
        }
    }

    /// <summary>Forgets caches the scheduler dropped under memory pressure (they hold no tokens any more). Under the lock.</summary>
    private void Prune()
    {
        for (var node = _entries.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.Prefix.Tokens == 0) _entries.Remove(node);
            node = next;
        }
    }

    /// <summary>
    /// The kept cache sharing the longest token prefix with <paramref name="prompt"/> — at least <c>minTokens</c> (a few
    /// shared template tokens are not worth it) — or null. It stays in the pool (now the most recently used).
    /// </summary>
    public KvPrefix? Find(ReadOnlySpan<int> prompt)
    {
        lock (_gate)
        {
            Prune();
            LinkedListNode<(KvPrefix Prefix, int[] Tokens, string[] Crops)>? best = null;
            int bestLength = minTokens - 1;
            for (var node = _entries.First; node is not null; node = node.Next)
            {
                int common = prompt.CommonPrefixLength(node.Value.Tokens);
                if (common > bestLength) (best, bestLength) = (node, common);
            }
            if (best is null) return null;
            _entries.Remove(best);
            _entries.AddLast(best);
            return best.Value.Prefix;
        }
    }

    /// <summary>
    /// Keeps a finished request's cache (its prompt and generated tokens); <paramref name="from"/>, the cache it started
    /// from, goes back when its tokens and pictures are a prefix of these (the new cache serves every prompt the old
    /// one did: a conversation, or a repeated request, keeps one entry). The oldest beyond capacity go back too.
    /// </summary>
    public void Add(KvPrefix prefix, int[] tokens, KvPrefix? from = null)
    {
        var evicted = new List<KvPrefix>();
        // The crops' pixel hashes, read once (the sequence is finished; null once the scheduler dropped it).
        string[]? crops = prefix.Sequence?.CropKeys;
        lock (_gate)
        {
            if (_disposed || crops is null || prefix.Tokens == 0) evicted.Add(prefix); // dropped already: nothing to keep
            else
            {
                Prune();
                for (var node = _entries.First; node is not null; node = node.Next)
                    if (from is not null && ReferenceEquals(node.Value.Prefix, from))
                    {
                        if (tokens.AsSpan().StartsWith(node.Value.Tokens) && crops.AsSpan().StartsWith(node.Value.Crops))
                        {
                            evicted.Add(from);
                            _entries.Remove(node);
                        }
                        break;
                    }
                _entries.AddLast((prefix, tokens, crops));
                while (_entries.Count > Capacity)
                {
                    evicted.Add(_entries.First!.Value.Prefix);
                    _entries.RemoveFirst();
                }
            }
        }
        foreach (var p in evicted) scheduler.Release(p);
    }

    /// <summary>Counts a share (the scheduler reports how many prompt tokens it reused).</summary>
    public void Record(int reusedTokens)
    {
        if (reusedTokens <= 0) return;
        lock (_gate)
        {
            _hits++;
            _reusedTokens += reusedTokens;
        }
    }

    /// <summary>Gives every kept cache back to the scheduler; later <see cref="Add"/> calls release at once.</summary>
    public void Dispose()
    {
        List<KvPrefix> all;
        lock (_gate)
        {
            _disposed = true;
            all = [.. _entries.Select(e => e.Prefix)];
            _entries.Clear();
        }
        foreach (var p in all) scheduler.Release(p);
    }
}
