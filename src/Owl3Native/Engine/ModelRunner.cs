using Owl3Native.Core.Backend;
using Owl3Native.Core.Tensors;
using Owl3Native.Engine.Sampling;
using Owl3Native.Models;
using Owl3Native.Models.Owl3;

namespace Owl3Native.Engine;

/// <summary>One sequence's work in a step: the tokens to feed (a prefill chunk, or one decode token).</summary>
public readonly record struct StepInput(SequenceState Sequence, int[] Tokens);

/// <summary>
/// Runs forward steps over the paged KV cache: admits sequences (encoding their images and computing visual K/V
/// once), grows their block tables, feeds any mix of prefill chunks and decode tokens of several sequences in one
/// batch (no padding), and frees their blocks. Chunked prefill uses absolute positions, so it equals a full pass.
/// </summary>
public sealed class ModelRunner : IDisposable
{
    private readonly Owl3Model _model;
    private readonly KvCacheStorage? _storage;
    private readonly DeviceTextForward? _device;
    private readonly HashSet<Cuda.Model.DeviceVisual> _deviceVisuals = new(ReferenceEqualityComparer.Instance);
    private readonly IProgress<EngineProgress>? _progress;
    private int _nextId;

    /// <summary>
    /// Creates a runner with a cache of <paramref name="numBlocks"/> blocks of <paramref name="blockSize"/> tokens and an
    /// image-embedding cache of <paramref name="imageCacheBytes"/> bytes (0: every request encodes its crops).
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="numBlocks">KV-cache blocks.</param>
    /// <param name="blockSize">Tokens per block.</param>
    /// <param name="imageCacheBytes">Bytes of the image-embedding cache (0: off).</param>
    /// <param name="progress">Receives <see cref="EngineStage.EncodingImages"/> reports; with a sink, crops are encoded
    /// one at a time so the report moves per crop.</param>
    public ModelRunner(Owl3Model model, int numBlocks, int blockSize = 16, long imageCacheBytes = 0, IProgress<EngineProgress>? progress = null)
    {
        _model = model;
        _progress = progress;
        ImageCache = new ImageEmbeddingCache(imageCacheBytes);
        var c = model.Config;
        _storage = model.Backend.CreateKvCache(c.Layers, numBlocks, blockSize, c.KvHeads, c.HeadDim);
        Allocator = new BlockAllocator(numBlocks, blockSize);
    }

    /// <summary>
    /// Creates a runner whose language model and KV cache are on the GPU (<paramref name="device"/>, owned and disposed
    /// by the runner): its blocks are the device cache's, and it encodes images on the device too (<paramref name="model"/> serves traces and the config).
    /// </summary>
    /// <exception cref="ArgumentException">The device model is not this checkpoint's (the device is disposed: the runner owned it).</exception>
    public ModelRunner(Owl3Model model, DeviceTextForward device, long imageCacheBytes = 0, IProgress<EngineProgress>? progress = null)
    {
        if (device.Vocab != model.Config.Vocab)
        {
            device.Dispose();
            throw new ArgumentException($"the device model has {device.Vocab} logits, the checkpoint {model.Config.Vocab}");
        }
        _model = model;
        _device = device;
        _progress = progress;
        ImageCache = new ImageEmbeddingCache(imageCacheBytes);
        Allocator = new BlockAllocator(device.NumBlocks, device.BlockSize);
    }

    /// <summary>The GPU side when the language model runs there (null: everything on the model's backend).</summary>
    public DeviceTextForward? Device => _device;

    /// <summary>The model.</summary>
    public Owl3Model Model => _model;

    /// <summary>The cache storage (tests poison unused slots through it).</summary>
    internal KvCacheStorage Storage => _storage ?? throw new InvalidOperationException("the KV cache is on the device");

    /// <summary>Projected embeddings of recently seen crops (hit/miss counters for metrics and tests).</summary>
    public ImageEmbeddingCache ImageCache { get; }

    /// <summary>The block allocator (counters for metrics and tests).</summary>
    public BlockAllocator Allocator { get; }

    /// <summary>
    /// Admits a sequence. <paramref name="pixels"/> `[crops, 3, S, S]` (or null) are encoded now and turned into visual
    /// K/V for every hyper layer; <paramref name="markerStarts"/> gives each crop's marker start s_j.
    /// </summary>
    public SequenceState Admit(Tensor? pixels, int[] markerStarts, ITrace? trace = null)
    {
        int crops = pixels?.Dim(0) ?? 0;
        if (crops != markerStarts.Length)
            throw new ArgumentException($"{markerStarts.Length} image marker(s) but {crops} crop(s) of pixels");
        for (int j = 0; j < markerStarts.Length; j++)
            if (markerStarts[j] < 0 || j > 0 && markerStarts[j] <= markerStarts[j - 1])
                throw new ArgumentException($"image marker starts must be non-negative and increasing; got [{string.Join(", ", markerStarts)}]");
        var visual = new VisualKv?[_model.Config.Layers];
        string[] keys = crops > 0 ? ImageEmbeddingCache.CropKeys(pixels!) : []; // hashed once: cache lookup and prefix checks
        if (crops > 0)
        {
            // A traced run (golden verification) records every vision tensor, so it always encodes.
            if (_device is not null && trace is not null) throw new NotSupportedException("a traced run (golden verification) runs on the CPU");
            var embeds = trace is null ? ImageCache.Encode(pixels!, _model.Config.Vision.Patches, Encode, keys) : _model.EncodeImages(pixels!, trace);
            if (_device is not null) return NewSequence(visual, markerStarts, Visualise(embeds, markerStarts), keys);
            visual = _model.PrepareVisual(embeds, markerStarts, trace);
        }
        return NewSequence(visual, markerStarts, null, keys);
    }

    private SequenceState NewSequence(VisualKv?[] visual, int[] markerStarts, Cuda.Model.DeviceVisual? deviceVisual, string[] keys) =>
        new(new SequenceId(Interlocked.Increment(ref _nextId)), visual, markerStarts) { CropKeys = keys, DeviceVisual = deviceVisual };

    /// <summary>The device's visual K/V of a request, tracked until its sequence is released (or the runner disposed).</summary>
    private Cuda.Model.DeviceVisual Visualise(Tensor embeds, int[] markerStarts)
    {
        var v = _device!.PrepareVisual(embeds, markerStarts);
        lock (_deviceVisuals) _deviceVisuals.Add(v);
        return v;
    }

    /// <summary>Encodes crops; with a progress sink, one crop at a time (each crop is its own SigLIP sequence).</summary>
    private Tensor Encode(Tensor pixels)
    {
        if (_device is { EncodesImages: true })
        {
            // On the device in passes of many crops; progress as whole requests (a pass is milliseconds).
            _progress?.Report(new EngineProgress(EngineStage.EncodingImages, 0, pixels.Dim(0)));
            var embeds = _device.EncodeImages(pixels);
            _progress?.Report(new EngineProgress(EngineStage.EncodingImages, pixels.Dim(0), pixels.Dim(0)));
            return embeds;
        }
        if (_progress is null) return _model.EncodeImages(pixels);
        int crops = pixels.Dim(0), per = pixels.Length / crops;
        var dims = pixels.Dims.ToArray();
        dims[0] = 1;
        Tensor? result = null;
        _progress.Report(new EngineProgress(EngineStage.EncodingImages, 0, crops));
        for (int c = 0; c < crops; c++)
        {
            var one = new Tensor(pixels.Data.AsSpan(c * per, per).ToArray(), dims);
            var e = _model.EncodeImages(one);
            result ??= new Tensor(crops * e.Rows, e.Cols);
            e.Data.CopyTo(result.Data.AsSpan(c * e.Length, e.Length));
            _progress.Report(new EngineProgress(EngineStage.EncodingImages, c + 1, crops));
        }
        return result!;
    }

    /// <summary>Admits a sequence from precomputed image embeddings `[crops·patches, hidden]`.</summary>
    public SequenceState AdmitEmbeds(Tensor imageEmbeds, int[] markerStarts, ITrace? trace = null)
    {
        if (_device is null) return NewSequence(_model.PrepareVisual(imageEmbeds, markerStarts, trace), markerStarts, null, []);
        if (trace is not null) throw new NotSupportedException("a traced run (golden verification) runs on the CPU");
        if (markerStarts.Length == 0 && imageEmbeds.Length > 0) throw new ArgumentException($"{imageEmbeds.Rows} image feature rows but no image marker");
        if (markerStarts.Any(m => m < 0)) throw new ArgumentException($"image marker starts must be non-negative; got [{string.Join(", ", markerStarts)}]");
        return NewSequence(new VisualKv?[_model.Config.Layers], markerStarts, markerStarts.Length > 0 ? Visualise(imageEmbeds, markerStarts) : null, []);
    }

    /// <summary>
    /// Feeds each input's tokens and returns logits: all fed rows (<paramref name="allLogits"/>) or the last row of
    /// each input, in input order. Blocks are reserved for the whole step before anything runs, so a step that does
    /// not fit throws <see cref="KvCacheExhaustedException"/> and changes nothing.
    /// </summary>
    public Tensor Step(IReadOnlyList<StepInput> inputs, bool allLogits = false, ITrace? trace = null)
    {
        if (_device is not null)
        {
            if (allLogits || trace is not null) throw new NotSupportedException("every row's logits and traces (golden verification) are CPU-only");
            return RunOnDevice(inputs, (ids, seqs) => _device.Step(ids, seqs));
        }
        var reserved = Reserve(inputs);
        var sequences = new List<AttentionSequence>(inputs.Count);
        var ids = new List<int>();
        foreach (var input in inputs)
        {
            var s = input.Sequence;
            sequences.Add(new AttentionSequence(ids.Count, input.Tokens.Length, s.CachedLength, s.Blocks.Select(b => b.Value).ToArray(), s.Visual));
            ids.AddRange(input.Tokens);
        }
        Tensor hidden;
        try
        {
            hidden = _model.Forward(ids.ToArray(), new AttentionBatch(sequences, _storage!), trace);
        }
        catch
        {
            GiveBack(reserved);
            throw;
        }
        Advance(inputs);
        if (allLogits) return _model.Logits(hidden);
        var last = new Tensor(inputs.Count, hidden.Cols);
        for (int i = 0; i < inputs.Count; i++)
            hidden.Row(sequences[i].TokenStart + sequences[i].TokenCount - 1).CopyTo(last.Row(i));
        return _model.Logits(last);
    }

    /// <summary>
    /// Feeds each input's tokens as <see cref="Step"/> does and chooses the next token of each input whose
    /// <paramref name="sampling"/> entry is set (null: none, e.g. a prefill chunk before the prompt's last), with the CPU
    /// <see cref="Sampler"/>'s rules over the sequence's tokens so far (this step's included). On the device the token is
    /// chosen there and only the ids come back (the same tokens for the same logits). −1 where nothing was asked.
    /// </summary>
    /// <exception cref="InvalidOperationException">Every logit of a sampled row was −inf or NaN.</exception>
    public int[] StepSample(IReadOnlyList<StepInput> inputs, IReadOnlyList<SampleRequest?> sampling)
    {
        if (sampling.Count != inputs.Count) throw new ArgumentException($"{sampling.Count} sampling entries for {inputs.Count} inputs");
        var tokens = new int[inputs.Count];
        Array.Fill(tokens, -1);
        if (_device is null)
        {
            var logits = Step(inputs);
            for (int i = 0; i < inputs.Count; i++)
                if (sampling[i] is { } r)
                    tokens[i] = Sampler.Sample(logits.Row(i), inputs[i].Sequence.Tokens.ToArray(), r.Params, r.Stream, r.Step);
            return tokens;
        }
        var rows = new Cuda.Model.DeviceSampleRow?[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
            if (sampling[i] is { } r)
            {
                var p = r.Params;
                // The history is only read for a repetition penalty: the sequence's tokens and this step's.
                int[] history = p.RepetitionPenalty == 1f ? [] : [.. inputs[i].Sequence.Tokens, .. inputs[i].Tokens];
                rows[i] = new Cuda.Model.DeviceSampleRow(p.Temperature, p.TopK, p.TopP, p.RepetitionPenalty, history, p.Seed, r.Stream, r.Step);
            }
        var chosen = RunOnDevice(inputs, (ids, seqs) => _device.StepSample(ids, seqs, rows));
        for (int i = 0; i < inputs.Count; i++)
            if (sampling[i] is not null)
                tokens[i] = chosen[i] >= 0 ? chosen[i] : throw Sampler.NoTokenLeft("on the device");
        return tokens;
    }

    /// <summary>
    /// A device step over <paramref name="inputs"/>: blocks reserved for the whole step first (a step that does not fit
    /// changes nothing), the step run, then the sequences advanced; on failure the reserved blocks are given back.
    /// </summary>
    private T RunOnDevice<T>(IReadOnlyList<StepInput> inputs, Func<int[], Cuda.Model.DeviceSeq[], T> run)
    {
        var reserved = Reserve(inputs);
        T result;
        try
        {
            var ids = inputs.SelectMany(i => i.Tokens).ToArray();
            result = run(ids, [.. inputs.Select(input => new Cuda.Model.DeviceSeq(input.Sequence.CachedLength, input.Tokens.Length,
                [.. input.Sequence.Blocks.Select(b => b.Value)], input.Sequence.DeviceVisual))]);
        }
        catch
        {
            GiveBack(reserved);
            throw;
        }
        Advance(inputs);
        return result;
    }

    private void GiveBack(List<(SequenceState, BlockId[])> reserved)
    {
        foreach (var (seq, blocks) in reserved)
        {
            seq.Blocks.RemoveRange(seq.Blocks.Count - blocks.Length, blocks.Length);
            Allocator.Free(blocks);
        }
    }

    private static void Advance(IReadOnlyList<StepInput> inputs)
    {
        foreach (var input in inputs)
        {
            input.Sequence.Tokens.AddRange(input.Tokens);
            input.Sequence.CachedLength += input.Tokens.Length;
        }
    }

    private List<(SequenceState, BlockId[])> Reserve(IReadOnlyList<StepInput> inputs)
    {
        var needs = new List<(SequenceState Seq, int Blocks)>();
        foreach (var input in inputs)
        {
            var s = input.Sequence;
            if (s.Released) throw new InvalidOperationException($"sequence {s.Id.Value} was released");
            if (input.Tokens.Length == 0) throw new ArgumentException($"sequence {s.Id.Value}: a step needs at least one token");
            if (needs.Any(n => n.Seq == s)) throw new ArgumentException($"sequence {s.Id.Value} appears twice in one step");
            int needed = (s.CachedLength + input.Tokens.Length + Allocator.BlockSize - 1) / Allocator.BlockSize - s.Blocks.Count;
            needs.Add((s, Math.Max(0, needed)));
        }
        int total = needs.Sum(n => n.Blocks);
        if (total > Allocator.FreeBlocks) throw new KvCacheExhaustedException(total, Allocator.FreeBlocks, Allocator.BlockSize);
        var reserved = new List<(SequenceState, BlockId[])>();
        foreach (var (seq, count) in needs)
        {
            var blocks = Allocator.Allocate(count);
            seq.Blocks.AddRange(blocks);
            reserved.Add((seq, blocks));
        }
        return reserved;
    }

    /// <summary>Frees a sequence's blocks. Idempotent.</summary>
    public void Release(SequenceState sequence)
    {
        if (sequence.Released) return;
        sequence.Released = true;
        Allocator.Free(sequence.Blocks);
        sequence.Blocks.Clear();
        FreeDeviceVisual(sequence);
    }

    /// <summary>Frees a sequence's visual K/V on the device (a kept cache no longer runs; nothing on the CPU).</summary>
    internal void FreeDeviceVisual(SequenceState sequence)
    {
        if (sequence.DeviceVisual is not { } v) return;
        sequence.DeviceVisual = null;
        lock (_deviceVisuals) _deviceVisuals.Remove(v);
        v.Dispose();
    }

    /// <summary>
    /// Moves the first <paramref name="tokens"/> cached tokens of <paramref name="from"/> (a released-to-be, finished
    /// sequence) into the fresh sequence <paramref name="to"/>: the blocks that hold them change owner, the rest of
    /// <paramref name="from"/>'s blocks are freed, and <paramref name="from"/> is released.
    /// </summary>
    /// <returns>The tokens adopted: <paramref name="tokens"/>, or fewer when an image differs before that point.</returns>
    public int Adopt(SequenceState from, SequenceState to, int tokens)
    {
        if (from.Released || to.Released) throw new InvalidOperationException("a released sequence cannot pass on its cache");
        if (to.CachedLength != 0 || to.Blocks.Count != 0) throw new InvalidOperationException("only a fresh sequence adopts a prefix");
        if (tokens < 0 || tokens > from.CachedLength) throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} of {from.CachedLength} cached tokens");
        tokens = Math.Min(tokens, SameImagesUntil(from, to));
        int keep = (tokens + Allocator.BlockSize - 1) / Allocator.BlockSize;
        // `to` writes its next tokens into a partly adopted block: never into one another sequence shares.
        if (tokens % Allocator.BlockSize != 0 && Allocator.Holders(from.Blocks[keep - 1]) > 1) tokens = --keep * Allocator.BlockSize;
        to.Blocks.AddRange(from.Blocks.Take(keep));
        to.Tokens.AddRange(from.Tokens.Take(tokens));
        to.CachedLength = tokens;
        Allocator.Free(from.Blocks.Skip(keep).ToArray());
        from.Blocks.Clear();
        from.Released = true;
        FreeDeviceVisual(from);
        return tokens;
    }

    /// <summary>
    /// Lets the fresh sequence <paramref name="to"/> start from the first <paramref name="tokens"/> cached tokens of
    /// <paramref name="from"/> while <paramref name="from"/> keeps them too: the whole blocks among them are shared
    /// (held by both; full blocks are never written again), the tokens of a partly covered block are not shared and will
    /// be prefilled. <paramref name="from"/> is untouched.
    /// </summary>
    /// <returns>The tokens shared: <paramref name="tokens"/> rounded down to whole blocks, or fewer when an image differs.</returns>
    public int Share(SequenceState from, SequenceState to, int tokens)
    {
        if (from.Released || to.Released) throw new InvalidOperationException("a released sequence cannot share its cache");
        if (to.CachedLength != 0 || to.Blocks.Count != 0) throw new InvalidOperationException("only a fresh sequence shares a prefix");
        if (tokens < 0 || tokens > from.CachedLength) throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} of {from.CachedLength} cached tokens");
        int blocks = Math.Min(tokens, SameImagesUntil(from, to)) / Allocator.BlockSize;
        var shared = from.Blocks.Take(blocks).ToArray();
        Allocator.Retain(shared);
        to.Blocks.AddRange(shared);
        to.Tokens.AddRange(from.Tokens.Take(blocks * Allocator.BlockSize));
        to.CachedLength = blocks * Allocator.BlockSize;
        return to.CachedLength;
    }

    /// <summary>
    /// How far <paramref name="from"/>'s K/V can serve <paramref name="to"/> as far as images go: up to the marker of
    /// the first crop whose pixels or position differ (matching tokens do not mean matching pictures).
    /// </summary>
    internal static int SameImagesUntil(SequenceState from, SequenceState to)
    {
        int n = Math.Min(from.MarkerStarts.Length, to.MarkerStarts.Length);
        for (int j = 0; j < n; j++)
            if (from.MarkerStarts[j] != to.MarkerStarts[j] || j >= from.CropKeys.Length || j >= to.CropKeys.Length || from.CropKeys[j] != to.CropKeys[j])
                return Math.Min(from.MarkerStarts[j], to.MarkerStarts[j]);
        // One side has more crops: the first extra marker bounds the shared part.
        if (from.MarkerStarts.Length > n) return from.MarkerStarts[n];
        if (to.MarkerStarts.Length > n) return to.MarkerStarts[n];
        return int.MaxValue;
    }

    /// <summary>Frees the cache storage (on the device: the requests' visual K/V, then the device model).</summary>
    public void Dispose()
    {
        _storage?.Dispose();
        if (_device is null) return;
        lock (_deviceVisuals)
        {
            foreach (var v in _deviceVisuals) v.Dispose();
            _deviceVisuals.Clear();
        }
        _device.Dispose();
    }
}
