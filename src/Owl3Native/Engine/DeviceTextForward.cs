using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Model;
using Owl3Native.Cuda.Runtime;
using Owl3Native.Diagnostics;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Owl3;

namespace Owl3Native.Engine;

/// <summary>
/// A checkpoint on the GPU, as the engine's <see cref="ModelRunner"/> drives it: the vision tower and projector encode a
/// request's crops (<see cref="EncodeImages"/>), the paged K/V cache of every layer lives on the device (the runner's
/// <see cref="BlockAllocator"/> hands out its block ids, as for the CPU cache), each request's visual K/V are made once
/// on the device from its image features, and a step either returns the fp32 logits of each sequence's last new token
/// (<see cref="Step"/>) or chooses its next token on the device and returns only the ids (<see cref="StepSample"/>).
/// </summary>
/// <remarks>
/// A step larger than <see cref="MaxStepTokens"/> tokens (the scheduler may pack many prefill chunks) runs as several
/// device steps, each sequence's tokens in order (chunked prefill equals a full pass). The scratch grows to the largest
/// step seen, up to that bound. Image features come back to the host (the engine's image cache keeps them) and go up
/// again as visual K/V: 5 MB a crop at 7B, small against the tower's work. Decode steps replay CUDA graphs (one per
/// <see cref="DecodeGraphKey"/>, their bookkeeping in a <see cref="DecodeArena"/>); prefill and mixed steps launch
/// kernel by kernel.
/// </remarks>
public sealed class DeviceTextForward : IDisposable
{
    /// <summary>Default of the most tokens one device step carries (the scratch is sized by it).</summary>
    public const int DefaultMaxStepTokens = 4096;

    /// <summary>Crops a vision pass takes (the reference's vision_batch_size); the tower's scratch is sized by it.</summary>
    public const int VisionCropsPerPass = 16;

    /// <summary>Most sequences a decode step replayed from a CUDA graph may have (larger ones are launched kernel by kernel).</summary>
    public const int GraphSeqs = 256;

    /// <summary>Decode graphs kept (least recently used dropped first): one per sequence count, table width and split plan.</summary>
    public const int MaxGraphs = 64;

    /// <summary>Set to 1, decode steps are never captured into CUDA graphs (every kernel launched from the host).</summary>
    public const string NoGraphsVariable = "OWL3_NO_GRAPHS";

    private readonly CudaContext _context;
    private readonly bool _ownsContext;
    private readonly KernelCache _cache;
    private readonly DeviceLayerKernels _kernels;
    private readonly DeviceQwen2Text _model;
    private readonly DeviceSiglipTower? _tower;     // null: vision sizes the device kernels cannot take (images on the CPU)
    private readonly VisionWorkspace? _visionWs;
    private readonly CudaStream _stream;
    private readonly DeviceSampler _sampler;
    private readonly DecodeArena _arena;
    private readonly Dictionary<DecodeGraphKey, (CudaGraph Graph, long Used)> _graphs = [];
    private long _clock;
    private int _disposed;
    private readonly int _markerOffset, _tokensPerCrop;
    private TextWorkspace? _workspace;
    private DeviceBuffer<int>? _ids;
    private int _wsTokens, _wsSeqs;

    /// <summary>Most tokens one device step carries; a larger engine step runs as several.</summary>
    public int MaxStepTokens { get; private init; } = DefaultMaxStepTokens;

    private DeviceTextForward(CudaContext context, bool ownsContext, KernelCache cache, DeviceLayerKernels kernels, DeviceQwen2Text model,
        DeviceSiglipTower? tower, VisionWorkspace? visionWs, DecodeArena arena, CudaStream stream, int markerOffset, int tokensPerCrop)
    {
        _arena = arena;
        (_context, _ownsContext, _cache, _kernels, _model, _stream) = (context, ownsContext, cache, kernels, model, stream);
        (_tower, _visionWs) = (tower, visionWs);
        _sampler = new DeviceSampler(context);
        (_markerOffset, _tokensPerCrop) = (markerOffset, tokensPerCrop);
    }

    /// <summary>The device.</summary>
    public CudaContext Context => _context;

    /// <summary>
    /// Decode steps replay CUDA graphs (one launch for the whole forward; captured the first time a key is seen, after
    /// that step ran kernel by kernel). Off when <see cref="NoGraphsVariable"/> is 1, or after a capture failed.
    /// </summary>
    public bool UseGraphs { get; set; } = Environment.GetEnvironmentVariable(NoGraphsVariable) != "1";

    /// <summary>Why graphs were turned off after a failed capture (null: they were not).</summary>
    public string? GraphFailure { get; private set; }

    /// <summary>Decode steps replayed from a graph, and graphs captured, so far.</summary>
    public (long Replays, long Captures) GraphCounts { get; private set; }

    /// <summary>KV-cache blocks per layer on the device.</summary>
    public int NumBlocks { get; private init; }

    /// <summary>Tokens per KV-cache block.</summary>
    public int BlockSize => _model.BlockSize;

    /// <summary>Logits per row.</summary>
    public int Vocab => _model.Vocab;

    /// <summary>
    /// Loads <paramref name="checkpoint"/>'s language model onto <paramref name="context"/> (opened here when null, and
    /// then owned) with a paged cache of <paramref name="numBlocks"/> blocks of <paramref name="blockSize"/> tokens per
    /// layer; <paramref name="numBlocks"/> ≤ 0 sizes it to <paramref name="memoryFraction"/> of the device memory left
    /// once the weights are there (less a reserve for the step scratch). Kernels are compiled into
    /// <paramref name="kernelDirectory"/> (null: the user's cache, see <see cref="KernelCache"/>); steps carry at most
    /// <paramref name="maxStepTokens"/> tokens (a check sets it low to exercise the split).
    /// </summary>
    /// <exception cref="GpuUnavailableException">No usable GPU (no driver, no device, an architecture before sm_80), or no
    /// NVRTC or cuBLASLt to run the kernels and projections with.</exception>
    /// <exception cref="Core.CheckpointException">A language-model tensor is missing.</exception>
    /// <exception cref="CudaException">Out of device memory, or another driver error (nothing is kept).</exception>
    public static DeviceTextForward Load(Owl3Checkpoint checkpoint, int numBlocks, int blockSize, double memoryFraction = 0.9, CudaContext? context = null,
        string? kernelDirectory = null, int maxStepTokens = DefaultMaxStepTokens)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxStepTokens, 1);
        bool owns = context is null;
        context ??= CudaContext.Open();
        // The kernels compile on first use and the projections need cuBLASLt: a machine without either is refused now,
        // not at the first request (a server would start and then fail every one).
        foreach (var library in new[] { CudaLibrary.Nvrtc, CudaLibrary.CublasLt })
        {
            var probe = NativeLibraryResolver.Probe(library);
            if (probe.Found) continue;
            if (owns) context.Dispose();
            throw new GpuUnavailableException($"{library} not found (tried {string.Join(", ", probe.Tried)})");
        }
        var owned = new List<IDisposable>();
        try
        {
            var cache = new KernelCache(context, kernelDirectory);
            owned.Add(cache);
            // Every kernel file the model runs, compiled (several at once) or read from the disk cache and loaded now: the
            // first request pays no NVRTC compile. (diagnostics.cu holds the benchmarks' probes only.)
            cache.Warm(KernelSources.Files.Select(f => f.Name).Where(n => n != "diagnostics.cu"));
            var kernels = new DeviceLayerKernels(cache, context);
            owned.Add(kernels);
            // Read from the memory-mapped checkpoint layer by layer during the upload: the host never holds the model.
            var w = TextWeights.Of(checkpoint);
            var cfg = checkpoint.Config;
            // The tower goes on the device unless its sizes are ones the kernels cannot take (no released checkpoint):
            // then the engine encodes images on the CPU, and the language model still runs here.
            VisionWeights? vision;
            try
            {
                vision = VisionWeights.Of(checkpoint);
            }
            catch (ArgumentException)
            {
                vision = null;
            }
            long visionBytes = vision is null ? 0 : 2 * vision.Shape.WeightElements + VisionWorkspace.BytesFor(vision.Shape, VisionCropsPerPass);
            if (numBlocks <= 0) numBlocks = BlocksFor(context, w, blockSize, memoryFraction, visionBytes);
            DeviceSiglipTower? tower = null;
            VisionWorkspace? visionWs = null;
            if (vision is not null)
            {
                tower = new DeviceSiglipTower(context, vision);
                owned.Add(tower);
                visionWs = new VisionWorkspace(context, vision.Shape, VisionCropsPerPass, kernels.Attention.DevicePrefillVariant(vision.Shape.HeadDim));
                owned.Add(visionWs);
            }
            var model = new DeviceQwen2Text(context, w, numBlocks, blockSize);
            owned.Add(model);
            var arena = new DecodeArena(context, GraphSeqs, (cfg.MaxPositionEmbeddings + blockSize - 1) / blockSize, cfg.HyperLayerIndices);
            owned.Add(arena);
            var stream = new CudaStream(context);
            owned.Add(stream);
            return new DeviceTextForward(context, owns, cache, kernels, model, tower, visionWs, arena, stream, HyperRules.For(checkpoint.Variant).MarkerOffset, cfg.Vision.Patches)
            {
                NumBlocks = numBlocks,
                MaxStepTokens = maxStepTokens,
            };
        }
        catch
        {
            for (int i = owned.Count - 1; i >= 0; i--) owned[i].Dispose();
            if (owns) context.Dispose();
            throw;
        }
    }

    /// <summary>
    /// KV blocks that fit in <paramref name="fraction"/> of the device memory free now, less the weights about to be
    /// uploaded (bf16) and a reserve of 1 GiB plus 5 % of the device for the step scratch, cuBLASLt's workspace and the
    /// requests' visual K/V.
    /// </summary>
    internal static int BlocksFor(CudaContext context, ITextModelWeights w, int blockSize, double fraction, long otherBytes = 0)
    {
        var (free, total) = context.MemoryInfo();
        return BlocksFor(free, total, w, blockSize, fraction, otherBytes);
    }

    /// <summary>
    /// <see cref="BlocksFor(CudaContext, ITextModelWeights, int, double, long)"/> for a device with <paramref name="free"/>
    /// of <paramref name="total"/> bytes free; <paramref name="otherBytes"/>: what else is uploaded (the vision tower and its scratch).
    /// </summary>
    internal static int BlocksFor(long free, long total, ITextModelWeights w, int blockSize, double fraction, long otherBytes = 0)
    {
        long padding = w.TiedHead ? 1 : 2; // the embedding and the LM head are padded to a multiple of 8 rows
        long weights = 2L * (w.Elements + padding * ((w.Vocab + 7) / 8 * 8 - w.Vocab) * w.Shape.Hidden) + otherBytes;
        long reserve = (1L << 30) + total / 20;
        long perBlock = 2L * w.LayerCount * blockSize * w.Shape.KvHeads * w.Shape.HeadDim * 2; // K and V, bf16, every layer
        long blocks = (long)((free - weights - reserve) * fraction) / perBlock;
        if (blocks < 1)
            throw new CudaException("sizing the KV cache", "CUDA_ERROR_OUT_OF_MEMORY", $"the device has {free >> 20} MiB free: the weights ({weights >> 20} MiB) and the step reserve ({reserve >> 20} MiB) leave no room for a KV block of {perBlock >> 10} KiB");
        return (int)Math.Min(blocks, int.MaxValue);
    }

    /// <summary>
    /// The image features `[crops·patches, hidden]` of pixels `[crops, 3, S, S]`: the vision tower and projector on the
    /// device, in passes of <see cref="VisionCropsPerPass"/> crops (fp32 values of the bf16 result).
    /// </summary>
    /// <exception cref="ArgumentException">The pixels are not `[crops, 3, S, S]` at the checkpoint's image size.</exception>
    /// <exception cref="InvalidOperationException">The tower is not on the device (<see cref="EncodesImages"/> is false).</exception>
    public Tensor EncodeImages(Tensor pixels, CancellationToken cancellation = default)
    {
        if (_tower is null || _visionWs is null) throw new InvalidOperationException("the vision tower is not on the device (its sizes are not ones the kernels take): encode on the CPU");
        lock (_stream)
        {
            _context.MakeCurrent();
            return _tower.Encode(_kernels, _stream, _visionWs, pixels, cancellation);
        }
    }

    /// <summary>The vision tower runs on the device (false only for vision sizes the kernels cannot take: images are then encoded on the CPU).</summary>
    public bool EncodesImages => _tower is not null;

    /// <summary>
    /// One request's visual K/V for every hyper layer, from its projected image features `[crops·patches, hidden]` and
    /// each crop's marker start s_j (the variant's marker offset is applied here).
    /// </summary>
    public DeviceVisual PrepareVisual(Tensor imageEmbeds, int[] markerStarts)
    {
        float[] values = imageEmbeds.Data.Length == imageEmbeds.Length ? imageEmbeds.Data : imageEmbeds.Data.AsSpan(0, imageEmbeds.Length).ToArray();
        lock (_stream)
        {
            _context.MakeCurrent(); // the scheduler's thread: cuBLASLt and the copies use the calling thread's context
            return _model.PrepareVisual(_kernels, _stream, values, _tokensPerCrop, [.. markerStarts.Select(m => m + _markerOffset)]);
        }
    }

    /// <summary>
    /// Feeds <paramref name="ids"/> (the sequences' new tokens, concatenated in <paramref name="seqs"/> order) and returns
    /// the logits of each sequence's last new token, `[seqs, vocab]`. The caller has reserved the blocks.
    /// </summary>
    /// <exception cref="ArgumentException">A token id outside the vocabulary, or ids that do not add up to the sequences' new tokens.</exception>
    public Tensor Step(int[] ids, IReadOnlyList<DeviceSeq> seqs)
    {
        var logits = new Tensor(seqs.Count, Vocab);
        Run(ids, seqs, (piece, last, ws) =>
        {
            var rows = new float[piece.Length * Vocab];
            ws.DownloadLogits(rows);
            for (int i = 0; i < piece.Length; i++)
                if (last[i]) rows.AsSpan(i * Vocab, Vocab).CopyTo(logits.Row(piece[i].Seq));
        });
        return logits;
    }

    /// <summary>
    /// Feeds <paramref name="ids"/> as <see cref="Step"/> does and chooses the next token of each sequence whose
    /// <paramref name="sample"/> entry is set, on the device (sample_f32: the CPU Sampler's tokens for the same logits);
    /// only the ids come back. −1: no request for that sequence, or every logit was −inf or NaN.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="Step"/>; or a history id outside the vocabulary.</exception>
    public int[] StepSample(int[] ids, IReadOnlyList<DeviceSeq> seqs, IReadOnlyList<DeviceSampleRow?> sample)
    {
        if (sample.Count != seqs.Count) throw new ArgumentException($"{sample.Count} sampling rows for {seqs.Count} sequences");
        var tokens = new int[seqs.Count];
        Array.Fill(tokens, -1);
        Run(ids, seqs, (piece, last, ws) =>
        {
            var rows = piece.Select((p, i) => last[i] && sample[p.Seq] is { } r ? r : DeviceSampleRow.Unused).ToArray();
            if (rows.All(r => ReferenceEquals(r, DeviceSampleRow.Unused))) return; // a prefill piece nobody samples from
            // The padded vocabulary's columns hold −inf (the LM head's bias): they never change a draw.
            var chosen = _sampler.Sample(_kernels.Elementwise, _stream, ws.Logits, ws.PaddedVocab, rows);
            for (int i = 0; i < piece.Length; i++)
                if (last[i] && sample[piece[i].Seq] is not null) tokens[piece[i].Seq] = chosen[i];
        });
        return tokens;
    }

    /// <summary>
    /// Runs the step in device steps of at most <see cref="MaxStepTokens"/> tokens, calling <paramref name="after"/> with
    /// each device step's pieces, which of them is its sequence's last, and the workspace holding their logits rows
    /// (the stream synchronised).
    /// </summary>
    private void Run(int[] ids, IReadOnlyList<DeviceSeq> seqs, Action<Piece[], bool[], TextWorkspace> after)
    {
        if (ids.Length != seqs.Sum(s => s.New)) throw new ArgumentException($"{ids.Length} token ids for {seqs.Sum(s => s.New)} new tokens");
        foreach (int id in ids)
            if ((uint)id >= (uint)Vocab) throw new ArgumentException($"token id {id} is outside the vocabulary [0, {Vocab})");
        foreach (var s in seqs)
            foreach (int b in s.Blocks)
                if ((uint)b >= (uint)NumBlocks) throw new ArgumentException($"block {b} is outside the device cache of {NumBlocks} blocks");
        lock (_stream)
        {
            _context.MakeCurrent();
            // Pieces of at most MaxStepTokens tokens; a sequence's tokens go in order, its last piece gives its logits.
            var pieces = Pack(seqs, MaxStepTokens);
            var starts = new int[seqs.Count]; // each sequence's first id in `ids`
            for (int i = 1; i < seqs.Count; i++) starts[i] = starts[i - 1] + seqs[i - 1].New;
            foreach (var piece in pieces)
            {
                var stepSeqs = piece.Select(p => seqs[p.Seq] with { Cached = seqs[p.Seq].Cached + p.Start, New = p.Count }).ToArray();
                int tokens = stepSeqs.Sum(s => s.New);
                var pieceIds = new int[tokens];
                for (int i = 0, at = 0; i < piece.Length; at += piece[i].Count, i++)
                    Array.Copy(ids, starts[piece[i].Seq] + piece[i].Start, pieceIds, at, piece[i].Count);
                var ws = Workspace(tokens, stepSeqs.Length);
                bool[] last = [.. piece.Select(p => p.Start + p.Count == seqs[p.Seq].New)];
                if (UseGraphs && stepSeqs.All(q => q.New == 1) && stepSeqs.Length <= _arena.Seqs
                    && DecodeArena.TableWidth(stepSeqs.Max(q => q.Blocks.Length)) <= _arena.MaxBlocks)
                {
                    var decode = new DeviceStep(_arena, _stream, _kernels.Attention, stepSeqs, pieceIds, BlockSize, _model.Shape.KvHeads, _model.Shape.HeadDim);
                    RunGraph(decode, ws);
                    after(piece, last, ws);
                    continue;
                }
                _ids!.CopyFrom(pieceIds); // synchronous; DeviceStep's uploads end with a context synchronise as well
                using var step = new DeviceStep(_context, _kernels.Attention, stepSeqs, BlockSize, _model.Shape.KvHeads, _model.Shape.HeadDim);
                try
                {
                    _model.Step(_kernels, _stream, step, ws, _ids.Pointer);
                }
                catch
                {
                    // A layer threw part way: its queued kernels still read the step's buffers; keep the layer's error.
                    try { _stream.Synchronize(); } catch (CudaException) { }
                    throw;
                }
                _stream.Synchronize();
                after(piece, last, ws);
            }
        }
    }

    /// <summary>
    /// A decode step written into the arena: replayed from its key's graph, or — the first time the key is seen — run
    /// kernel by kernel (compiling, planning, giving this step's result) and then captured for the next ones.
    /// </summary>
    private void RunGraph(DeviceStep step, TextWorkspace ws)
    {
        var key = step.GraphKey;
        try
        {
            if (_graphs.TryGetValue(key, out var entry))
            {
                _graphs[key] = (entry.Graph, ++_clock);
                entry.Graph.Launch(_stream);
                GraphCounts = (GraphCounts.Replays + 1, GraphCounts.Captures);
            }
            else
            {
                _model.Step(_kernels, _stream, step, ws, _arena.Ids);
                _stream.Synchronize();
                Capture(key, step, ws);
            }
        }
        catch
        {
            try { _stream.Synchronize(); } catch (CudaException) { } // the arena is rewritten by the next step
            throw;
        }
        _stream.Synchronize();
    }

    private void Capture(DecodeGraphKey key, DeviceStep step, TextWorkspace ws)
    {
        CudaGraph graph;
        try
        {
            graph = _stream.Capture(() => _model.Step(_kernels, _stream, step, ws, _arena.Ids), threadLocal: true);
        }
        catch (CudaException e)
        {
            // The step itself already ran; later steps go kernel by kernel.
            (UseGraphs, GraphFailure) = (false, $"capturing a decode step failed: {e.Message}");
            return;
        }
        if (_graphs.Count >= MaxGraphs)
        {
            var oldest = _graphs.MinBy(g => g.Value.Used);
            oldest.Value.Graph.Dispose();
            _graphs.Remove(oldest.Key);
        }
        _graphs[key] = (graph, ++_clock);
        GraphCounts = (GraphCounts.Replays, GraphCounts.Captures + 1);
    }

    private void DropGraphs()
    {
        foreach (var (graph, _) in _graphs.Values) graph.Dispose();
        _graphs.Clear();
    }

    /// <summary>A piece of a step: tokens [Start, Start + Count) of sequence Seq's new tokens.</summary>
    internal readonly record struct Piece(int Seq, int Start, int Count);

    /// <summary>
    /// Splits the sequences' new tokens into device steps of at most <paramref name="budget"/> tokens: sequences whole
    /// where they fit, a longer one in consecutive pieces (each piece of a sequence in a later step than the one before).
    /// </summary>
    internal static Piece[][] Pack(IReadOnlyList<DeviceSeq> seqs, int budget)
    {
        var steps = new List<Piece[]>();
        var current = new List<Piece>();
        int used = 0;
        for (int s = 0; s < seqs.Count; s++)
        {
            int start = 0, n = seqs[s].New;
            while (start < n)
            {
                if (used == budget) { steps.Add([.. current]); current.Clear(); used = 0; }
                int take = Math.Min(n - start, budget - used);
                current.Add(new Piece(s, start, take));
                used += take;
                start += take;
            }
        }
        if (current.Count > 0) steps.Add([.. current]);
        return [.. steps];
    }

    /// <summary>The step scratch, grown (never shrunk) to <paramref name="tokens"/> tokens and <paramref name="seqs"/> sequences.</summary>
    private TextWorkspace Workspace(int tokens, int seqs)
    {
        if (_workspace is not null && tokens <= _wsTokens && seqs <= _wsSeqs) return _workspace;
        int t = Math.Min(MaxStepTokens, Math.Max(tokens, Math.Max(_wsTokens, 256)));
        int n = Math.Max(seqs, Math.Max(_wsSeqs, 8));
        DropGraphs(); // they hold the old scratch's addresses
        _workspace?.Dispose();
        _ids?.Dispose();
        (_workspace, _ids, _wsTokens, _wsSeqs) = (null, null, 0, 0);
        _workspace = new TextWorkspace(_context, _model.Shape, Vocab, t, n, crossAttention: !_model.FusedHyper);
        _ids = new DeviceBuffer<int>(_context, t);
        (_wsTokens, _wsSeqs) = (t, n);
        return _workspace;
    }

    /// <summary>Frees the device model, caches and scratch (and the context, when this opened it).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        lock (_stream)
        {
            // Nothing may still run on what is freed below (a context already in an error state, or gone, frees what it can).
            try { _stream.Synchronize(); } catch (Exception e) when (e is CudaException or ObjectDisposedException) { }
            DropGraphs();
            _workspace?.Dispose();
            _ids?.Dispose();
            _sampler.Dispose();
            _arena.Dispose();
            _stream.Dispose();
            _model.Dispose();
            _visionWs?.Dispose();
            _tower?.Dispose();
            _kernels.Dispose();
            _cache.Dispose();
        }
        if (_ownsContext) _context.Dispose();
    }
}
