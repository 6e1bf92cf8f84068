using Owl3Native.Core.Cpu;
using Owl3Native.Engine;
using Owl3Native.Engine.Sampling;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Owl3;
using Owl3Native.Processing;
using Owl3Native.Processing.Text;

namespace Owl3Native;

/// <summary>Options of <see cref="Owl3Engine.Load"/>.</summary>
/// <param name="Device">`auto` (the CPU: the device path has not yet run on a GPU, so auto does not pick it), `cpu`, or
/// `cuda` (the vision tower, the language model and its paged KV cache on the GPU, tokens chosen there).</param>
/// <param name="Threads">CPU threads (0: all cores).</param>
/// <param name="KvBlocks">KV-cache blocks of <paramref name="BlockSize"/> tokens.</param>
/// <param name="BlockSize">Tokens per KV-cache block.</param>
/// <param name="ImageCacheBytes">Bytes of projected image embeddings kept for reuse across requests (a chat about one
/// picture, repeated eval images); 0 disables the cache.</param>
/// <param name="MaxBatch">Most sequences generated at once by continuous batching; further requests queue in order.</param>
/// <param name="PrefillChunk">Most prompt tokens of one sequence per step (long prompts are prefilled over several
/// steps, interleaved with the other sequences' decode tokens).</param>
/// <param name="KvMemoryFraction">When &gt; 0 (at most 1): size the KV cache to this fraction of the memory available to
/// the process (with `cuda`: of the device memory the weights leave) instead of <paramref name="KvBlocks"/>.</param>
/// <param name="Progress">Receives loading, video-decoding and image-encoding progress (null: none). Reports arrive on
/// the thread doing the work.</param>
/// <param name="PrefixCache">Automatic prefix caching for stateless calls (<c>Generate</c>/<c>GenerateAsync</c>; chat
/// sessions keep their own cache): the KV caches of up to this many finished requests are kept, and requests whose
/// prompts start with one of them (at least 32 tokens) share its whole KV blocks instead of prefilling them —
/// concurrent requests too. Kept caches give way first when KV blocks run short. 0 (the default) turns it off;
/// <c>owl3 serve</c> turns it on.</param>
public sealed record EngineOptions(string Device = "auto", int Threads = 0, int KvBlocks = 4096, int BlockSize = 16, long ImageCacheBytes = 256L << 20,
    int MaxBatch = 256, int PrefillChunk = 512, double KvMemoryFraction = 0, IProgress<EngineProgress>? Progress = null, int PrefixCache = 0);

/// <summary>Automatic prefix caching so far: requests that adopted a kept cache, prompt tokens not prefilled, caches kept now.</summary>
public sealed record PrefixCacheStats(long Hits, long ReusedTokens, int Entries);

/// <summary>How to generate; null fields take the checkpoint's generation_config.json.</summary>
public sealed record GenerationSettings(
    int? MaxNewTokens = null, float? Temperature = null, int? TopK = null, float? TopP = null, float? RepetitionPenalty = null,
    ulong Seed = 0, IReadOnlyList<string>? Stop = null, bool Cut = true, int MaxFrames = Processing.Video.FrameSampler.DefaultMaxFrames);

/// <summary>One streamed piece of a generation: new text (may be empty while a UTF-8 character is incomplete) and its token.</summary>
/// <param name="Text">Text completed by this token.</param>
/// <param name="TokenId">The token (a terminator that ends the sequence is reported too, with empty text).</param>
/// <param name="Final">The last update carries the finish reason and usage.</param>
public sealed record GenerationUpdate(string Text, int TokenId, GenerationOutput? Final = null);

/// <summary>What one generation produced.</summary>
public sealed record GenerationOutput(string Text, IReadOnlyList<int> TokenIds, FinishReason FinishReason, int PromptTokens, double PrefillMs, double DecodeMs)
{
    /// <summary>Prompt tokens whose K/V were reused from an earlier turn or request instead of prefilled (chat sessions, prefix cache).</summary>
    public int CachedPromptTokens { get; init; }

    /// <summary>The sequence's KV cache kept for the next turn (chat sessions only).</summary>
    internal Engine.KvPrefix? Kept { get; init; }
}

/// <summary>
/// The front door: a checkpoint folder loaded on a backend (the CPU today), with its processor. Generates blocking
/// (<c>Generate</c>) or streamed (<c>GenerateAsync</c>); concurrent calls are batched continuously by one
/// scheduler; <see cref="StartChat"/> keeps a conversation; <c>Owl3ChatClient</c> wraps it as an <c>IChatClient</c>.
/// </summary>
public sealed class Owl3Engine : IDisposable
{
    private readonly Owl3Checkpoint _checkpoint;
    private readonly ModelRunner _runner;
    private readonly IProgress<EngineProgress>? _progress;
    private readonly Scheduler _scheduler;
    private readonly PrefixPool? _prefixes;

    /// <summary>Shortest shared prompt prefix worth adopting another request's cache for.</summary>
    private const int PrefixCacheMinTokens = 32;

    private Owl3Engine(Owl3Checkpoint checkpoint, Owl3Model model, Owl3Processor processor, EngineOptions options, DeviceTextForward? device = null)
    {
        _checkpoint = checkpoint;
        Model = model;
        Processor = processor;
        _runner = device is null
            ? new ModelRunner(model, options.KvBlocks, options.BlockSize, options.ImageCacheBytes, options.Progress)
            : new ModelRunner(model, device, options.ImageCacheBytes, options.Progress);
        _progress = options.Progress;
        _scheduler = new Scheduler(_runner, options.PrefillChunk, options.MaxBatch);
        if (options.PrefixCache > 0) _prefixes = new PrefixPool(_scheduler, options.PrefixCache, PrefixCacheMinTokens);
        Terminators = Engine.Terminators.Resolve(checkpoint);
    }

    /// <summary>Where the model runs: `cpu`, or `cuda` (vision tower and language model on the GPU).</summary>
    public string Device => _runner.Device is null ? "cpu" : "cuda";

    /// <summary>The runner (tests check that cancelled sequences give their blocks back).</summary>
    internal ModelRunner Runner => _runner;

    /// <summary>The loaded model (weights memory-mapped from the checkpoint) on the CPU backend; with `cuda` the vision tower and the language model run on the GPU instead (<see cref="ModelRunner.Device"/>).</summary>
    public Owl3Model Model { get; }
    /// <summary>The checkpoint's input pipeline: tokenizer, chat template and image/video preprocessing.</summary>
    public Owl3Processor Processor { get; }
    /// <summary>Token ids that end a generation: generation_config.json's <c>eos_token_id</c>, else <c>&lt;|im_end|&gt;</c> and <c>&lt;|endoftext|&gt;</c> from the tokenizer files (see <see cref="Engine.Terminators"/>).</summary>
    public IReadOnlyCollection<int> Terminators { get; }
    /// <summary>The opened checkpoint folder (config, manifest and weight files); owned and disposed by the engine.</summary>
    public Owl3Checkpoint Checkpoint => _checkpoint;

    /// <summary><see cref="Load"/> on a worker thread: for UI and server hosts that must not block while a checkpoint opens.</summary>
    public static Task<Owl3Engine> LoadAsync(string path, EngineOptions? options = null, CancellationToken cancellation = default) =>
        Task.Run(() => Load(path, options), cancellation);

    /// <summary>KV blocks: <see cref="EngineOptions.KvBlocks"/>, or the share of available memory <see cref="EngineOptions.KvMemoryFraction"/> asks for.</summary>
    private static int KvBlocksFor(Core.Config.Owl3Config config, EngineOptions options)
    {
        if (options.KvMemoryFraction <= 0) return options.KvBlocks;
        long perBlock = 2L * config.Layers * options.BlockSize * config.KvHeads * config.HeadDim * sizeof(float); // K and V, fp32 on the CPU
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        long blocks = (long)(available * options.KvMemoryFraction) / perBlock;
        long maxPerArray = Array.MaxLength / ((long)options.BlockSize * config.KvHeads * config.HeadDim); // one float[] per layer
        if (blocks < 1) throw new ArgumentOutOfRangeException("options.KvMemoryFraction", options.KvMemoryFraction, $"{options.KvMemoryFraction:P1} of {available >> 20} MiB holds no KV block of {perBlock >> 10} KiB");
        return (int)Math.Min(blocks, maxPerArray);
    }

    /// <summary>Opens, validates and loads a checkpoint folder (weights stay memory-mapped).</summary>
    /// <exception cref="Core.CheckpointException">The folder cannot be loaded.</exception>
    /// <exception cref="Cuda.Runtime.GpuUnavailableException">`cuda` was asked for and there is no usable GPU (the message says why).</exception>
    /// <exception cref="Cuda.Runtime.DeviceOutOfMemoryException">`cuda`: the model or its KV cache does not fit in device memory
    /// (a <see cref="Cuda.Runtime.CudaException"/> with CUDA_ERROR_OUT_OF_MEMORY when the memory-sized cache has no room).</exception>
    public static Owl3Engine Load(string path, EngineOptions? options = null)
    {
        options ??= new EngineOptions();
        if (options.Device is not ("auto" or "cpu" or "cuda")) throw new ArgumentException($"device must be auto, cpu or cuda, not '{options.Device}'");
        // Options are checked before anything is opened, so a bad value never leaves a half-built engine behind.
        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads, "options.Threads");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.KvBlocks, 1, "options.KvBlocks");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BlockSize, 1, "options.BlockSize");
        ArgumentOutOfRangeException.ThrowIfNegative(options.ImageCacheBytes, "options.ImageCacheBytes");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatch, 1, "options.MaxBatch");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PrefillChunk, 1, "options.PrefillChunk");
        ArgumentOutOfRangeException.ThrowIfNegative(options.PrefixCache, "options.PrefixCache");
        if (!(options.KvMemoryFraction is >= 0 and <= 1)) throw new ArgumentOutOfRangeException("options.KvMemoryFraction", options.KvMemoryFraction, "must be in [0, 1]");
        var progress = options.Progress;
        progress?.Report(new EngineProgress(EngineStage.Loading, 0, 3, Path.GetFileName(Path.TrimEndingDirectorySeparator(path))));
        var checkpoint = Owl3Checkpoint.Open(path);
        progress?.Report(new EngineProgress(EngineStage.Loading, 1, 3, Path.GetFileName(Path.TrimEndingDirectorySeparator(path))));
        DeviceTextForward? device = null;
        try
        {
            var model = new Owl3Model(checkpoint, new CpuBackend(options.Threads));
            var processor = Owl3Processor.For(checkpoint); // before any upload: a missing tokenizer file fails fast
            progress?.Report(new EngineProgress(EngineStage.Loading, 2, 3));
            // cuda: the vision tower, the language model, its KV cache and the sampler on the GPU.
            if (options.Device == "cuda")
                device = DeviceTextForward.Load(checkpoint, options.KvMemoryFraction > 0 ? 0 : options.KvBlocks, options.BlockSize,
                    options.KvMemoryFraction > 0 ? options.KvMemoryFraction : 0.9);
            var engine = device is null
                ? new Owl3Engine(checkpoint, model, processor, options with { KvBlocks = KvBlocksFor(model.Config, options) })
                : new Owl3Engine(checkpoint, model, processor, options, device);
            try
            {
                progress?.Report(new EngineProgress(EngineStage.Loading, 3, 3));
            }
            catch
            {
                engine.Dispose(); // its scheduler thread is running; it owns the device and the checkpoint from here
                throw;
            }
            return engine;
        }
        catch
        {
            device?.Dispose();
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>One chat completion: messages (end with the user turn), media per placeholder in text order.</summary>
    public GenerationOutput Generate(IReadOnlyList<PromptMessage> messages, IReadOnlyList<MediaSource> media, GenerationSettings? settings = null,
        Action<string>? onText = null, CancellationToken cancellation = default) => Generate(messages, media, settings, onText, cancellation, null);

    private GenerationOutput Generate(IReadOnlyList<PromptMessage> messages, IReadOnlyList<MediaSource> media, GenerationSettings? settings,
        Action<string>? onText, CancellationToken cancellation, Action<int>? onToken, Func<bool>? ready = null, Engine.KvPrefix? reuse = null, bool keep = false)
    {
        settings ??= new GenerationSettings();
        var withPrompt = messages.Append(new PromptMessage(PromptRole.Assistant, "")).ToArray();
        var request = Processor.Process(withPrompt, media, new ProcessorOptions(settings.Cut, settings.MaxFrames) { Progress = _progress }, cancellation);
        var g = _checkpoint.GenerationConfig;
        float temperature = settings.Temperature ?? (g.DoSample ? (float)g.Temperature : 0f);
        var sampling = new SamplingParams(temperature, settings.TopK ?? (g.DoSample ? g.TopK : 0), settings.TopP ?? (g.DoSample ? (float)g.TopP : 1f),
            settings.RepetitionPenalty ?? (float)g.RepetitionPenalty, settings.Seed);
        var tokenizer = Processor.Tokenizer;
        var options = new GenerationOptions(settings.MaxNewTokens ?? g.MaxNewTokens ?? 512, sampling, Terminators,
            settings.Stop, settings.Stop is { Count: > 0 } ? ids => tokenizer.Decode(ids) : null);
        var detok = new StreamingDetokenizer(tokenizer);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        double prefillMs = 0;
        // A stateless call under the prefix cache starts from the best kept cache (shared, not taken) and keeps its own.
        bool pooled = _prefixes is not null && reuse is null && !keep;
        if (pooled) (reuse, keep) = (_prefixes!.Find(request.InputIds), true);
        // Concurrent calls are batched together by the scheduler: each step advances every running sequence.
        var r = _scheduler.Submit(new GenerationRequest(request.InputIds, request.Pixels, request.MarkerStarts, options) { Reuse = reuse, Keep = keep, ShareReuse = pooled }, t =>
        {
            if (t.Step == 0) prefillMs = sw.Elapsed.TotalMilliseconds;
            if (!Terminators.Contains(t.Token) && onText is not null) onText(detok.Append(t.Token));
            onToken?.Invoke(t.Token);
        }, cancellation, ready).GetAwaiter().GetResult();
        if (pooled)
        {
            _prefixes!.Record(r.ReusedTokens);
            if (r.Kept is { } kept) _prefixes.Add(kept, [.. request.InputIds, .. r.Tokens], r.ReusedTokens > 0 ? reuse : null);
        }
        if (onText is not null) onText(detok.Flush());
        var text = tokenizer.Decode(r.Tokens.Where(id => !Terminators.Contains(id)));
        if (settings.Stop is { Count: > 0 } stops && r.Reason == FinishReason.Stop)
            foreach (var s in stops)
                if (s.Length > 0 && text.IndexOf(s, StringComparison.Ordinal) is int at and >= 0) text = text[..at];
        return new GenerationOutput(text, r.Tokens, r.Reason, r.PromptTokens, prefillMs, sw.Elapsed.TotalMilliseconds - prefillMs)
            { CachedPromptTokens = r.ReusedTokens, Kept = pooled ? null : r.Kept };
    }

    /// <summary>
    /// Streams a generation: text deltas as tokens are produced, then a final update with the finish reason and usage.
    /// Cancelling <paramref name="cancellation"/> stops the sequence and frees its KV-cache blocks; the enumeration then
    /// ends with a <see cref="FinishReason.Cancelled"/> final update.
    /// </summary>
    public IAsyncEnumerable<GenerationUpdate> GenerateAsync(IReadOnlyList<PromptMessage> messages, IReadOnlyList<MediaSource> media,
        GenerationSettings? settings = null, CancellationToken cancellation = default) => GenerateAsync(messages, media, settings, null, false, cancellation);

    /// <summary>As the public overload, starting from a kept KV prefix and/or keeping this sequence's cache (chat sessions).</summary>
    internal async IAsyncEnumerable<GenerationUpdate> GenerateAsync(IReadOnlyList<PromptMessage> messages, IReadOnlyList<MediaSource> media,
        GenerationSettings? settings, Engine.KvPrefix? reuse, bool keep, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation = default)
    {
        // The scheduler never blocks on a reader (that would stall every sequence of the batch): updates go to an
        // unbounded channel, and the sequence skips steps while more than 8 updates are unread, so a cancel acts within a
        // few tokens. `stopReading` is set when the reader leaves early (break/dispose): it cancels the generation too.
        var channel = System.Threading.Channels.Channel.CreateUnbounded<GenerationUpdate>(); // (single-reader channels cannot count)
        using var stopReading = new CancellationTokenSource();
        using var generation = CancellationTokenSource.CreateLinkedTokenSource(cancellation, stopReading.Token);
        var detok = new StreamingDetokenizer(Processor.Tokenizer);
        void Write(GenerationUpdate u) => channel.Writer.TryWrite(u);
        var worker = Task.Run(() =>
        {
            try
            {
                var output = Generate(messages, media, settings, null, generation.Token,
                    token => Write(new GenerationUpdate(Terminators.Contains(token) ? "" : detok.Append(token), token)),
                    ready: () => channel.Reader.Count < 8, reuse, keep);
                Write(new GenerationUpdate(detok.Flush(), -1, output));
                channel.Writer.Complete();
            }
            catch (Exception e)
            {
                channel.Writer.Complete(e);
            }
        }, CancellationToken.None);
        try
        {
            await foreach (var update in channel.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
                yield return update;
        }
        finally
        {
            stopReading.Cancel();
            await worker.ConfigureAwait(false);
            // A final update the reader never took: its kept cache has no owner, so it goes back now.
            while (channel.Reader.TryRead(out var unread))
                if (unread.Final?.Kept is { } kept) _scheduler.Release(kept);
        }
    }

    /// <summary>Starts a conversation that keeps its history and decoded media between turns.</summary>
    public Owl3Chat StartChat(string? system = null) => new(this, system);

    /// <summary>The continuous-batching scheduler (queue depth and running sequences for metrics).</summary>
    public Scheduler Scheduler => _scheduler;

    /// <summary>Automatic prefix caching so far; null when <see cref="EngineOptions.PrefixCache"/> is 0.</summary>
    public PrefixCacheStats? PrefixCache
    {
        get
        {
            if (_prefixes is null) return null;
            var (hits, reused) = _prefixes.Stats;
            return new(hits, reused, _prefixes.Count);
        }
    }

    /// <summary>Stops the scheduler (queued and running requests fail with <see cref="ObjectDisposedException"/>), frees the KV cache and unmaps the weights.</summary>
    public void Dispose()
    {
        _prefixes?.Dispose();
        _scheduler.Dispose();
        _runner.Dispose();
        _checkpoint.Dispose();
    }
}
