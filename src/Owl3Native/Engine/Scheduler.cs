using System.Threading.Channels;
using Owl3Native.Engine.Sampling;

namespace Owl3Native.Engine;

/// <summary>
/// Continuous batching over one <see cref="ModelRunner"/>: requests arrive from any thread; one loop thread admits them
/// while KV blocks allow, and every step feeds all running sequences together — one decode token each, plus prefill
/// chunks of newly admitted prompts — so concurrent sessions share the weight streaming of each step. Finished and
/// cancelled sequences leave at once and free their blocks.
/// </summary>
public sealed class Scheduler : IDisposable
{
    private readonly ModelRunner _runner;
    private readonly int _prefillChunk;
    private readonly int _maxRunning;
    private readonly Channel<Job> _incoming = Channel.CreateUnbounded<Job>(new() { SingleReader = true });
    private readonly Thread _loop;
    private readonly LinkedList<KvPrefix> _kept = []; // loop thread only; least recently kept first
    private readonly System.Collections.Concurrent.ConcurrentQueue<KvPrefix> _toRelease = new();
    private int _waiting, _running;

    private sealed class Job(GenerationRequest request, Action<GeneratedToken>? onToken, CancellationToken cancellation, Func<bool>? ready)
    {
        /// <summary>Not a request: wakes the loop so it handles released prefixes.</summary>
        public static readonly Job Wake = new(new GenerationRequest([0], null, [], new GenerationOptions(0, default!, [])), null, default, null);
        public int Reused { get; set; }
        /// <summary>False while the consumer is behind: the sequence skips steps instead of stalling the batch.</summary>
        public Func<bool>? Ready { get; } = ready;
        public GenerationRequest Request { get; } = request;
        public Action<GeneratedToken>? OnToken { get; } = onToken;
        public CancellationToken Cancellation { get; } = cancellation;
        public TaskCompletionSource<GenerationResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public SequenceState? Sequence { get; set; }
        public int Prefilled { get; set; }
        public List<int> New { get; } = [];
        /// <summary>What prefill feeds: the prompt, plus the tokens generated before a preemption (all but the last, which decode feeds).</summary>
        public int[] Feed { get; set; } = request.PromptTokens;
    }

    /// <summary>Starts the scheduler's loop thread (a background thread named <c>owl3-scheduler</c>) over <paramref name="runner"/>.</summary>
    /// <param name="runner">Runs the steps and owns the KV blocks; the scheduler does not dispose it.</param>
    /// <param name="prefillChunk">Most prompt tokens of one sequence fed in a single step; longer prompts are prefilled over several steps, interleaved with other sequences' decode tokens.</param>
    /// <param name="maxRunning">Most sequences generated at once (the batch); further requests wait in order.</param>
    public Scheduler(ModelRunner runner, int prefillChunk = 512, int maxRunning = 256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(prefillChunk, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRunning, 1);
        _runner = runner;
        _prefillChunk = prefillChunk;
        _maxRunning = maxRunning;
        _loop = new Thread(Loop) { IsBackground = true, Name = "owl3-scheduler" };
        _loop.Start();
    }

    /// <summary>
    /// Gives a kept prefix's blocks back (a chat that is reset or dropped). Safe from any thread; a prefix already taken
    /// by a request or dropped under memory pressure is left alone.
    /// </summary>
    public void Release(KvPrefix prefix)
    {
        _toRelease.Enqueue(prefix);
        _incoming.Writer.TryWrite(Job.Wake); // the loop may be waiting for work
    }

    /// <summary>Kept prefixes holding blocks now.</summary>
    public int KeptPrefixes => Volatile.Read(ref _keptCount);

    private int _keptCount;

    /// <summary>Requests waiting for blocks.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Sequences being generated.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>
    /// Queues a request; the task completes when it finishes (stop, length or cancellation). <paramref name="ready"/>,
    /// when given, is asked before each decode step of this sequence: false (a slow stream reader) skips the step for
    /// it alone. Callbacks run on the scheduler thread and must not block.
    /// </summary>
    public Task<GenerationResult> Submit(GenerationRequest request, Action<GeneratedToken>? onToken = null, CancellationToken cancellation = default, Func<bool>? ready = null)
    {
        int maxContext = _runner.Model.Config.MaxPositionEmbeddings;
        if (request.PromptTokens.Length == 0) throw new ArgumentException("a prompt needs at least one token");
        if (request.PromptTokens.Length >= maxContext)
            throw new ArgumentException($"prompt of {request.PromptTokens.Length} tokens does not fit the model's context of {maxContext}");
        if (Volatile.Read(ref _stopping)) throw new ObjectDisposedException(nameof(Scheduler));
        var job = new Job(request, onToken, cancellation, ready);
        Interlocked.Increment(ref _waiting);
        if (!_incoming.Writer.TryWrite(job))
        {
            Interlocked.Decrement(ref _waiting);
            throw new ObjectDisposedException(nameof(Scheduler));
        }
        return job.Done.Task;
    }

    private void Loop()
    {
        var pending = new LinkedList<Job>();
        var active = new List<Job>();
        while (!Volatile.Read(ref _stopping))
        {
            if (active.Count == 0 && pending.Count == 0)
            {
                if (!_incoming.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult()) break; // disposed
            }
            while (_incoming.Reader.TryRead(out var j))
                if (!ReferenceEquals(j, Job.Wake)) pending.AddLast(j);
            while (_toRelease.TryDequeue(out var prefix)) Drop(prefix);
            Admit(pending, active);
            if (active.Count == 0) continue;
            try
            {
                StepOnce(active, pending);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                foreach (var job in active) Fail(job, e); // a model error fails the step's requests, not the loop
                active.Clear();
            }
        }
        while (_incoming.Reader.TryRead(out var late)) // submitted before Dispose, not yet read
            if (!ReferenceEquals(late, Job.Wake)) pending.AddLast(late);
        foreach (var job in pending.Concat(active)) Fail(job, new ObjectDisposedException(nameof(Scheduler)));
        while (_kept.First is { } first) Drop(first.Value);
    }

    private void Admit(LinkedList<Job> pending, List<Job> active)
    {
        while (pending.Count > 0 && active.Count < _maxRunning)
        {
            var job = pending.First!.Value;
            if (job.Cancellation.IsCancellationRequested)
            {
                pending.RemoveFirst();
                Interlocked.Decrement(ref _waiting);
                job.Done.TrySetResult(new GenerationResult(default, [], FinishReason.Cancelled, job.Request.PromptTokens.Length));
                continue;
            }
            // The longest common prefix with a kept cache skips prefill (a preempted sequence comes back with Prefilled
            // = 0 and reuses again; a chat turn's prefix was taken over at the first admission and is gone). At least one
            // prompt token is fed so the step yields logits. The job's own prefix is never dropped below, so the count holds.
            int common = job.Request.Reuse is { Sequence: { } source } && job.Prefilled == 0
                ? job.Feed.AsSpan(0, Math.Min(source.CachedLength, job.Feed.Length - 1))
                    .CommonPrefixLength(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(source.Tokens))
                : 0;
            // Blocks for the first chunk after what a shared prefix covers (whole blocks of the common tokens; an image
            // that differs can only make the share shorter, and the step then waits for its blocks like any other).
            int bs = _runner.Allocator.BlockSize, shared = job.Request.ShareReuse ? common / bs * bs : 0;
            int needed = (shared + Math.Min(job.Feed.Length - shared, _prefillChunk) + 1 + bs - 1) / bs - shared / bs;
            while (needed > _runner.Allocator.FreeBlocks && DropOldestKept(except: job.Request.Reuse)) { }
            if (needed > _runner.Allocator.FreeBlocks && active.Count > 0) return; // wait for running sequences to finish
            pending.RemoveFirst();
            Interlocked.Decrement(ref _waiting);
            try
            {
                job.Sequence = _runner.Admit(job.Request.Pixels, job.Request.MarkerStarts); // images encoded once, here
                if (job.Request.Reuse is { Sequence: { } kept } prefix && job.Prefilled == 0)
                {
                    if (job.Request.ShareReuse)
                    {
                        common = _runner.Share(kept, job.Sequence, common); // whole blocks; the prefix stays kept
                        if (_kept.Remove(prefix)) _kept.AddLast(prefix); // recently used: dropped last
                    }
                    else
                    {
                        Take(prefix);
                        common = _runner.Adopt(kept, job.Sequence, common); // no further than the first differing image
                    }
                    job.Prefilled = common;
                    job.Reused = common;
                }
                active.Add(job);
                Interlocked.Increment(ref _running);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Bad input, a full cache, or a device error while encoding its images (out of device memory, a fault): the
                // request fails, the loop goes on. Releasing may itself meet the device's error; the request is failed anyway.
                try
                {
                    if (job.Sequence is not null) _runner.Release(job.Sequence); // blocks it may already hold (a share, an adoption)
                }
                catch (Exception release) when (release is not OutOfMemoryException)
                {
                    e = new AggregateException(e, release);
                }
                job.Done.TrySetException(e);
            }
        }
    }

    private void StepOnce(List<Job> active, LinkedList<Job> pending)
    {
        foreach (var job in active.Where(j => j.Cancellation.IsCancellationRequested).ToArray()) Finish(active, job, FinishReason.Cancelled);
        if (active.Count == 0) return;
        // Decode tokens first, then prefill chunks, as long as their blocks fit.
        var inputs = new List<(Job Job, int[] Tokens)>();
        int free = _runner.Allocator.FreeBlocks, bs = _runner.Allocator.BlockSize, promised = 0;
        bool blocked = false;
        foreach (var job in active.OrderBy(j => j.Prefilled < j.Feed.Length ? 1 : 0))
        {
            if (job.Prefilled >= job.Feed.Length && job.Ready is { } ready && !ready()) continue; // its reader is behind
            var seq = job.Sequence!;
            int[] tokens = job.Prefilled < job.Feed.Length
                ? job.Feed[job.Prefilled..Math.Min(job.Feed.Length, job.Prefilled + _prefillChunk)]
                : [job.New[^1]];
            int needed = Math.Max(0, (seq.CachedLength + tokens.Length + bs - 1) / bs - seq.Blocks.Count);
            // Kept caches of finished turns go before a running sequence waits or fails: free = blocks not yet promised.
            while (needed > free && DropOldestKept(except: null)) free = _runner.Allocator.FreeBlocks - promised;
            if (needed > free)
            {
                if (inputs.Count == 0 && active.Count == 1) { Fail(active, job, new KvCacheExhaustedException(needed, free, bs)); return; }
                blocked = true;
                continue; // waits for a later step
            }
            free -= needed;
            promised += needed;
            inputs.Add((job, tokens));
        }
        if (inputs.Count == 0 && !blocked)
        {
            Thread.Sleep(1); // every running sequence waits for its reader
            return;
        }
        if (inputs.Count == 0 && DropOldestKept(except: null)) return; // kept prefixes go before running sequences
        if (inputs.Count == 0)
        {
            // Nothing fits: preempt the newest sequence by recomputation — free its blocks and queue it again at the
            // front; it re-prefills its prompt and the tokens it already generated, then carries on unchanged.
            var victim = active[^1];
            _runner.Release(victim.Sequence!);
            active.Remove(victim);
            Interlocked.Decrement(ref _running);
            victim.Sequence = null;
            victim.Prefilled = 0;
            victim.Reused = 0; // it re-prefills everything
            victim.Feed = [.. victim.Request.PromptTokens, .. victim.New.Take(victim.New.Count - 1)];
            pending.AddFirst(victim);
            Interlocked.Increment(ref _waiting);
            return;
        }
        // A row samples when it ends its prompt (unless a resumed sequence already has its next token) or decodes; the
        // runner chooses the tokens where the logits are (on the device with cuda: only the ids come back).
        var sampling = inputs.Select(i =>
        {
            var job = i.Job;
            bool samples = job.Prefilled >= job.Feed.Length || job.Prefilled + i.Tokens.Length >= job.Feed.Length && job.New.Count == 0;
            return samples ? new SampleRequest(job.Request.Options.Sampling, job.Request.Options.Stream, job.New.Count) : (SampleRequest?)null;
        }).ToArray();
        var chosen = _runner.StepSample(inputs.Select(i => new StepInput(i.Job.Sequence!, i.Tokens)).ToArray(), sampling);
        for (int row = 0; row < inputs.Count; row++)
        {
            var (job, tokens) = inputs[row];
            if (job.Prefilled < job.Feed.Length) job.Prefilled += tokens.Length;
            if (sampling[row] is null) continue; // more prompt to feed, or a resumed sequence whose next token was sampled before the preemption
            var o = job.Request.Options;
            int token = chosen[row];
            job.New.Add(token);
            job.OnToken?.Invoke(new GeneratedToken(0, token, job.New.Count - 1));
            var reason = Generator.StopReason(o, job.New, job.Sequence!.CachedLength + 1 >= _runner.Model.Config.MaxPositionEmbeddings);
            if (reason is not null) Finish(active, job, reason.Value);
        }
    }

    private void Finish(List<Job> active, Job job, FinishReason reason)
    {
        KvPrefix? kept = null;
        if (job.Request.Keep && reason != FinishReason.Cancelled)
        {
            kept = new KvPrefix(job.Sequence!);
            _runner.FreeDeviceVisual(job.Sequence!); // a kept cache only passes on its blocks; a reuser makes its own visual K/V
            _kept.AddLast(kept);
            Interlocked.Increment(ref _keptCount);
        }
        else _runner.Release(job.Sequence!);
        active.Remove(job);
        Interlocked.Decrement(ref _running);
        job.Done.TrySetResult(new GenerationResult(job.Sequence!.Id, job.New, reason, job.Request.PromptTokens.Length) { ReusedTokens = job.Reused, Kept = kept });
    }

    /// <summary>A request takes a kept prefix: it leaves the list (its blocks now belong to the request).</summary>
    private void Take(KvPrefix prefix)
    {
        if (_kept.Remove(prefix)) Interlocked.Decrement(ref _keptCount);
        prefix.Sequence = null;
    }

    /// <summary>Frees a kept prefix's blocks if it still holds them.</summary>
    private void Drop(KvPrefix prefix)
    {
        if (prefix.Sequence is not { } seq) return;
        Take(prefix);
        _runner.Release(seq);
    }

    /// <summary>
    /// Frees the least recently used kept prefix (not <paramref name="except"/>) that gives blocks back — one whose
    /// blocks are all shared with running sequences frees nothing and stays; false when no drop would help.
    /// </summary>
    private bool DropOldestKept(KvPrefix? except)
    {
        for (var node = _kept.First; node is not null; node = node.Next)
            if (!ReferenceEquals(node.Value, except) && node.Value.Sequence is { } seq && seq.Blocks.Any(b => _runner.Allocator.Holders(b) == 1))
            {
                Drop(node.Value);
                return true;
            }
        return false;
    }

    private void Fail(List<Job> active, Job job, Exception e)
    {
        if (job.Sequence is not null) _runner.Release(job.Sequence);
        if (active.Remove(job)) Interlocked.Decrement(ref _running);
        job.Done.TrySetException(e);
    }

    private void Fail(Job job, Exception e)
    {
        if (job.Sequence is not null)
        {
            Interlocked.Decrement(ref _running);
            try
            {
                _runner.Release(job.Sequence);
            }
            catch (Exception release) when (release is not OutOfMemoryException) // a device in an error state: fail the request anyway
            {
                e = new AggregateException(e, release);
            }
        }
        job.Done.TrySetException(e);
    }

    /// <summary>
    /// Stops the loop after the step in progress; requests still queued or running fail with
    /// <see cref="ObjectDisposedException"/> (a stalled stream reader does not hold it up).
    /// </summary>
    public void Dispose()
    {
        Volatile.Write(ref _stopping, true);
        _incoming.Writer.TryComplete();
        _loop.Join();
    }

    private bool _stopping;
}
