using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Model;

/// <summary>
/// The vision side's sizes: SigLIP's tower (config.json's vision_config), the layers that run (all but the last: the model
/// takes hidden_states[−2]), and the projector to the language model's width (spec/MODEL.md §2.1–2.2).
/// </summary>
/// <param name="Hidden">SigLIP width (1152).</param>
/// <param name="Heads">Attention heads (16; head dim 72).</param>
/// <param name="Intermediate">MLP width (4304).</param>
/// <param name="Layers">Encoder layers that run (26 of the 27).</param>
/// <param name="PatchSize">Patch side in pixels (14).</param>
/// <param name="ImageSize">Crop side in pixels (378 or 384; the last 6 rows and columns of 384 are never read).</param>
/// <param name="Eps">LayerNorm epsilon.</param>
/// <param name="OutHidden">The language model's width the projector writes.</param>
/// <param name="MlpProjector">Linear → GELU (erf) → Linear (241101); false: one Linear (240728/241014).</param>
public sealed record SiglipShape(int Hidden, int Heads, int Intermediate, int Layers, int PatchSize, int ImageSize, float Eps, int OutHidden, bool MlpProjector)
{
    /// <summary>Channels of a crop.</summary>
    public const int Channels = 3;

    /// <summary>Elements per head.</summary>
    public int HeadDim => Hidden / Heads;

    /// <summary>Patches per side: ⌊(S − P)/P⌋ + 1.</summary>
    public int PatchesPerSide => (ImageSize - PatchSize) / PatchSize + 1;

    /// <summary>Patches (tokens) per crop.</summary>
    public int Patches => PatchesPerSide * PatchesPerSide;

    /// <summary>Inputs of the patch embedding as a GEMM: 3·P·P (588).</summary>
    public int PatchInputs => Channels * PatchSize * PatchSize;

    /// <summary><see cref="PatchInputs"/> rounded up to 8 (592): the bf16 GEMM's rows are 16-byte aligned; the extra columns are zero.</summary>
    public int PaddedPatchInputs => (PatchInputs + 7) / 8 * 8;

    /// <summary>bf16 elements of the tower's weights that run and of the projector (what the device holds).</summary>
    public long WeightElements
    {
        get
        {
            long h = Hidden, i = Intermediate, o = OutHidden;
            long layer = 4 * h + 4 * h * h + 4 * h + 2 * h * i + i + h;
            return h * PaddedPatchInputs + h + (long)Patches * h + Layers * layer + o * h + o + (MlpProjector ? o * o + o : 0);
        }
    }

    /// <exception cref="ArgumentException">Sizes the kernels cannot take.</exception>
    public void Validate()
    {
        if (Heads < 1 || Hidden % Heads != 0) throw new ArgumentException($"SigLIP width {Hidden} is not a multiple of {Heads} heads");
        if (Hidden % 8 != 0 || Intermediate % 8 != 0 || OutHidden % 8 != 0 || HeadDim % 8 != 0 || HeadDim > 256)
            throw new ArgumentException($"SigLIP width {Hidden}, MLP {Intermediate}, projector width {OutHidden} and head dim {HeadDim} must be multiples of 8 (head dim ≤ 256)");
        if (Layers < 0 || PatchSize < 1 || ImageSize < PatchSize) throw new ArgumentException($"{Layers} layers, patch {PatchSize}, image {ImageSize}");
    }
}

/// <summary>One SigLIP encoder layer's weights as bf16 bits; q|k|v stacked into one `[3·hidden, hidden]` projection.</summary>
public sealed record SiglipLayerBits(ushort[] Norm1Weight, ushort[] Norm1Bias, ushort[] Qkv, ushort[] QkvBias, ushort[] Out, ushort[] OutBias,
    ushort[] Norm2Weight, ushort[] Norm2Bias, ushort[] Fc1, ushort[] Fc1Bias, ushort[] Fc2, ushort[] Fc2Bias);

/// <summary>The projector's bf16 bits: the first Linear `[outHidden, hidden]`, and for the MLP form the second `[outHidden, outHidden]`.</summary>
public sealed record ProjectorBits(ushort[] W0, ushort[] B0, ushort[]? W2 = null, ushort[]? B2 = null);

/// <summary>The vision tower's and projector's weights as <see cref="DeviceSiglipTower"/> uploads them, piece by piece (see <see cref="ITextModelWeights"/>).</summary>
public interface IVisionTowerWeights
{
    /// <summary>The sizes.</summary>
    SiglipShape Shape { get; }

    /// <summary>patch_embedding as a GEMM weight `[hidden, PaddedPatchInputs]` ((channel, ky, kx) order, zero columns past 3·P·P).</summary>
    ushort[] PatchWeight();

    /// <summary>patch_embedding.bias `[hidden]`.</summary>
    ushort[] PatchBias();

    /// <summary>position_embedding `[patches, hidden]`.</summary>
    ushort[] Positions();

    /// <summary>Encoder layer <paramref name="index"/> (&lt; <see cref="SiglipShape.Layers"/>).</summary>
    SiglipLayerBits Layer(int index);

    /// <summary>vision2text_model.</summary>
    ProjectorBits Projector();
}

/// <summary>
/// SigLIP-so400m and the projector on the device (spec/MODEL.md §2.1–2.2), bf16 weights and activations: patches (cut on
/// the host, <see cref="PackPatches"/>) → patch GEMM + bias → + position embeddings → per layer: LayerNorm → q|k|v
/// projection → bidirectional attention within each crop (the prefill kernel in dense, non-causal mode, head dim 72 on
/// its 80-wide instantiation) → out_proj → residual add fused with LayerNorm 2 → fc1 → GELU (tanh) → fc2 → residual add
/// fused with the next layer's LayerNorm 1 → projector (Linear, or Linear → GELU (erf) → Linear) → image_embeds.
/// </summary>
public sealed class DeviceSiglipTower : IDisposable
{
    private sealed record LayerBuffers(DeviceBuffer<ushort> Norm1W, DeviceBuffer<ushort> Norm1B, DeviceBuffer<ushort> Qkv, DeviceBuffer<ushort> QkvBias,
        DeviceBuffer<ushort> Out, DeviceBuffer<ushort> OutBias, DeviceBuffer<ushort> Norm2W, DeviceBuffer<ushort> Norm2B,
        DeviceBuffer<ushort> Fc1, DeviceBuffer<ushort> Fc1Bias, DeviceBuffer<ushort> Fc2, DeviceBuffer<ushort> Fc2Bias);

    private readonly List<IDisposable> _owned = [];
    private readonly DeviceBuffer<ushort> _patchW, _patchB, _positions, _p0, _pb0;
    private readonly DeviceBuffer<ushort>? _p2, _pb2;
    private readonly LayerBuffers[] _layers;

    /// <summary>Uploads <paramref name="weights"/> piece by piece (the host holds one layer's bits at a time).</summary>
    /// <exception cref="ArgumentException">A weight's size differs from the shape's.</exception>
    public DeviceSiglipTower(CudaContext context, IVisionTowerWeights weights)
    {
        var sh = weights.Shape;
        sh.Validate();
        Shape = sh;
        int h = sh.Hidden, inter = sh.Intermediate, o = sh.OutHidden;
        try
        {
            _patchW = Up(context, weights.PatchWeight(), (long)h * sh.PaddedPatchInputs, "patch_embedding.weight");
            _patchB = Up(context, weights.PatchBias(), h, "patch_embedding.bias");
            _positions = Up(context, weights.Positions(), (long)sh.Patches * h, "position_embedding.weight");
            _layers = new LayerBuffers[sh.Layers];
            for (int l = 0; l < sh.Layers; l++)
            {
                var b = weights.Layer(l);
                string n = $"encoder.layers.{l}.";
                _layers[l] = new LayerBuffers(Up(context, b.Norm1Weight, h, n + "layer_norm1.weight"), Up(context, b.Norm1Bias, h, n + "layer_norm1.bias"),
                    Up(context, b.Qkv, 3L * h * h, n + "self_attn.{q,k,v}_proj.weight"), Up(context, b.QkvBias, 3L * h, n + "self_attn.{q,k,v}_proj.bias"),
                    Up(context, b.Out, (long)h * h, n + "self_attn.out_proj.weight"), Up(context, b.OutBias, h, n + "self_attn.out_proj.bias"),
                    Up(context, b.Norm2Weight, h, n + "layer_norm2.weight"), Up(context, b.Norm2Bias, h, n + "layer_norm2.bias"),
                    Up(context, b.Fc1, (long)inter * h, n + "mlp.fc1.weight"), Up(context, b.Fc1Bias, inter, n + "mlp.fc1.bias"),
                    Up(context, b.Fc2, (long)h * inter, n + "mlp.fc2.weight"), Up(context, b.Fc2Bias, h, n + "mlp.fc2.bias"));
            }
            var p = weights.Projector();
            if ((p.W2 is not null) != sh.MlpProjector || (p.W2 is null) != (p.B2 is null))
                throw new ArgumentException($"vision2text_model: {(sh.MlpProjector ? "the MLP form needs .0 and .2" : "the Linear form has one weight and bias")}");
            _p0 = Up(context, p.W0, (long)o * h, "vision2text_model(.0).weight");
            _pb0 = Up(context, p.B0, o, "vision2text_model(.0).bias");
            if (p.W2 is not null) (_p2, _pb2) = (Up(context, p.W2, (long)o * o, "vision2text_model.2.weight"), Up(context, p.B2!, o, "vision2text_model.2.bias"));
            context.Synchronize(); // the uploads ran on the legacy stream
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The sizes.</summary>
    public SiglipShape Shape { get; }

    /// <summary>
    /// image_embeds `[crops·patches, outHidden]` (bf16, at <paramref name="output"/>) of the crops whose packed patches are
    /// at <paramref name="patches"/> (`[crops·patches, PaddedPatchInputs]` bf16, <see cref="PackPatches"/>), on
    /// <paramref name="s"/>. At most <see cref="VisionWorkspace.Crops"/> crops.
    /// </summary>
    public void Forward(DeviceLayerKernels k, CudaStream s, VisionWorkspace ws, ulong patches, int crops, ulong output)
    {
        var sh = Shape;
        if (ws.Shape != sh) throw new ArgumentException("a workspace for other sizes");
        if (crops < 0 || crops > ws.Crops) throw new ArgumentException($"{crops} crops on a workspace for {ws.Crops}");
        if (crops == 0) return;
        int rows = crops * sh.Patches, h = sh.Hidden;
        // Patch embedding, then the positions: one table row per patch, the same for every crop (a bias of a crop's width).
        k.Blas.LinearBias(s, patches, _patchW.Pointer, _patchB.Pointer, ws.X, rows, sh.PaddedPatchInputs, h);
        k.Elementwise.BiasAdd(s, new ActivationParams { X = ws.X, Bias = _positions.Pointer, Y = ws.X, Rows = crops, Cols = sh.Patches * h });
        if (_layers.Length > 0)
            k.Norm.LayerNorm(s, Norm(ws.X, 0, _layers[0].Norm1W, _layers[0].Norm1B, ws.H, rows, sh));
        var attention = ws.Attention;
        for (int l = 0; l < _layers.Length; l++)
        {
            var w = _layers[l];
            k.Blas.LinearBias(s, ws.H, w.Qkv.Pointer, w.QkvBias.Pointer, ws.Qkv, rows, h, 3 * h);
            k.Attention.Prefill(s, new PrefillParams
            {
                Q = ws.Qkv, K = ws.Qkv + (ulong)h * 2, V = ws.Qkv + (ulong)h * 4, O = ws.Attn,
                SeqQStart = ws.SeqStarts, SeqKStart = ws.SeqStarts, SeqPos = ws.Zeros, Tiles = ws.Tiles(crops),
                Heads = sh.Heads, KvHeads = sh.Heads, HeadDim = sh.HeadDim, BlockSize = 1, TextMode = 2,
                QStride = 3 * h, KvStride = 3 * h, OStride = h,
                ScaleLog2 = (float)(1.0 / Math.Sqrt(sh.HeadDim) * 1.4426950408889634),
            }, ws.TileCount(crops), attention);
            k.Blas.LinearBias(s, ws.Attn, w.Out.Pointer, w.OutBias.Pointer, ws.T, rows, h, h);
            k.Norm.LayerNormResidual(s, Norm(ws.T, ws.X, w.Norm2W, w.Norm2B, ws.H, rows, sh));
            k.Blas.LinearBias(s, ws.H, w.Fc1.Pointer, w.Fc1Bias.Pointer, ws.F, rows, h, sh.Intermediate);
            k.Elementwise.GeluTanh(s, new ActivationParams { X = ws.F, Y = ws.F, Rows = rows, Cols = sh.Intermediate });
            k.Blas.LinearBias(s, ws.F, w.Fc2.Pointer, w.Fc2Bias.Pointer, ws.T, rows, sh.Intermediate, h);
            if (l + 1 < _layers.Length)
                k.Norm.LayerNormResidual(s, Norm(ws.T, ws.X, _layers[l + 1].Norm1W, _layers[l + 1].Norm1B, ws.H, rows, sh));
            else // the last layer that runs: its output is the selected hidden state (no norm after it)
                k.Elementwise.BiasAdd(s, new ActivationParams { X = ws.X, Bias = ws.T, Y = ws.X, Rows = 1, Cols = rows * h });
        }
        if (_p2 is null)
            k.Blas.LinearBias(s, ws.X, _p0.Pointer, _pb0.Pointer, output, rows, h, sh.OutHidden);
        else
        {
            k.Blas.LinearBias(s, ws.X, _p0.Pointer, _pb0.Pointer, ws.F, rows, h, sh.OutHidden);
            k.Elementwise.GeluErf(s, new ActivationParams { X = ws.F, Y = ws.F, Rows = rows, Cols = sh.OutHidden });
            k.Blas.LinearBias(s, ws.F, _p2.Pointer, _pb2!.Pointer, output, rows, sh.OutHidden, sh.OutHidden);
        }
    }

    /// <summary>
    /// image_embeds `[crops·patches, outHidden]` (fp32 values of the bf16 result) of pixels `[crops, 3, S, S]`, in passes of
    /// at most <see cref="VisionWorkspace.Crops"/> crops on <paramref name="s"/> (each crop is its own attention
    /// sequence, so passes do not change the result).
    /// </summary>
    /// <exception cref="ArgumentException">The pixels are not `[crops, 3, S, S]` with this shape's S.</exception>
    public Tensor Encode(DeviceLayerKernels k, CudaStream s, VisionWorkspace ws, Tensor pixels, CancellationToken cancellation = default)
    {
        var sh = Shape;
        var packed = PackPatches(pixels, sh);
        int crops = pixels.Dim(0), rowsPerCrop = sh.Patches;
        var result = new Tensor(crops * rowsPerCrop, sh.OutHidden);
        var bits = new ushort[(long)Math.Min(crops, ws.Crops) * rowsPerCrop * sh.OutHidden];
        for (int first = 0; first < crops; first += ws.Crops)
        {
            cancellation.ThrowIfCancellationRequested();
            int n = Math.Min(ws.Crops, crops - first);
            ws.UploadPatches(packed.AsSpan(first * rowsPerCrop * sh.PaddedPatchInputs, n * rowsPerCrop * sh.PaddedPatchInputs));
            try
            {
                Forward(k, s, ws, ws.Patches, n, ws.Output);
            }
            catch
            {
                // A launch threw part way: let what was queued finish before the next pass overwrites it, keeping the launch's error.
                try { s.Synchronize(); } catch (CudaException) { }
                throw;
            }
            s.Synchronize();
            var part = bits.AsSpan(0, n * rowsPerCrop * sh.OutHidden);
            ws.DownloadOutput(part);
            BFloat16.ToSingle(part, result.Data.AsSpan(first * rowsPerCrop * sh.OutHidden, part.Length));
        }
        return result;
    }

    /// <summary>
    /// The crops' patches as the patch GEMM reads them: pixels `[crops, 3, S, S]` (fp32) → bf16 `[crops·patches,
    /// PaddedPatchInputs]`, patch p = row·side + col, each row the 3×P×P block in (channel, ky, kx) order, then zeros
    /// (the reference casts the pixels to the model dtype before the convolution; pixels past the last whole patch are never read).
    /// </summary>
    /// <exception cref="ArgumentException">The pixels are not `[crops, 3, S, S]` with this shape's S.</exception>
    public static ushort[] PackPatches(Tensor pixels, SiglipShape shape)
    {
        int s = shape.ImageSize, p = shape.PatchSize, side = shape.PatchesPerSide, cols = shape.PaddedPatchInputs;
        if (pixels.Rank != 4 || pixels.Dim(1) != SiglipShape.Channels || pixels.Dim(2) != s || pixels.Dim(3) != s)
            throw new ArgumentException($"pixels must be [crops, 3, {s}, {s}], got {pixels}");
        int crops = pixels.Dim(0), patches = shape.Patches;
        var bits = new ushort[(long)crops * patches * cols];
        var data = pixels.Data;
        for (int n = 0; n < crops; n++)
            for (int py = 0; py < side; py++)
                for (int px = 0; px < side; px++)
                {
                    var row = bits.AsSpan(((n * patches) + py * side + px) * cols, cols);
                    for (int c = 0; c < SiglipShape.Channels; c++)
                        for (int ky = 0; ky < p; ky++)
                            BFloat16.FromSingle(data.AsSpan(((n * 3 + c) * s + py * p + ky) * s + px * p, p), row.Slice((c * p + ky) * p, p));
                }
        return bits;
    }

    /// <summary>Frees the weights.</summary>
    public void Dispose()
    {
        foreach (var b in _owned) b.Dispose();
        _owned.Clear();
    }

    private static NormParams Norm(ulong x, ulong residual, DeviceBuffer<ushort> w, DeviceBuffer<ushort> b, ulong y, int rows, SiglipShape sh) => new()
    {
        X = x, Residual = residual, Weight = w.Pointer, Bias = b.Pointer, Y = y, Rows = rows, Hidden = sh.Hidden, Eps = sh.Eps,
    };

    private DeviceBuffer<ushort> Up(CudaContext context, ushort[] bits, long count, string name)
    {
        if (bits.LongLength != count) throw new ArgumentException($"{name}: {bits.LongLength} values, the vision shape needs {count}");
        var b = DeviceUpload.Of<ushort>(context, bits);
        _owned.Add(b);
        return b;
    }
}

/// <summary>
/// The vision tower's scratch for up to <see cref="Crops"/> crops a pass: the residual stream, the normed rows, q|k|v, the
/// attention output, a sublayer output, the MLP (and projector) intermediate, and each crop's attention sequence.
/// </summary>
public sealed class VisionWorkspace : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly Dictionary<int, (DeviceBuffer<int> Tiles, int Count)> _tiles = [];
    private readonly CudaContext _context;
    private readonly DeviceBuffer<ushort> _patches, _output;

    /// <summary>
    /// Scratch for passes of up to <paramref name="crops"/> crops of <paramref name="shape"/>, attention by
    /// <paramref name="attention"/> (an instantiation whose padded head dim covers the shape's).
    /// </summary>
    public VisionWorkspace(CudaContext context, SiglipShape shape, int crops, PrefillVariant attention)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(crops, 1);
        // Elementwise launches take a pass's values as one int row (the last residual add): keep every buffer's count in range.
        long widest = (long)crops * shape.Patches * Math.Max(Math.Max(3 * shape.Hidden, shape.Intermediate), Math.Max(shape.OutHidden, shape.PaddedPatchInputs));
        if (widest > int.MaxValue) throw new ArgumentException($"{crops} crops a pass: {widest} values in one buffer, more than a launch indexes (int)");
        if (attention.Dim < AttentionKernels.PrefillDim(shape.HeadDim)) throw new ArgumentException($"{attention.Kernel} serves head dims up to {attention.Dim}, not {shape.HeadDim}");
        (_context, Shape, Crops, Attention) = (context, shape, crops, attention);
        long rows = (long)crops * shape.Patches;
        try
        {
            X = Bf16(rows * shape.Hidden);
            H = Bf16(rows * shape.Hidden);
            Qkv = Bf16(rows * 3 * shape.Hidden);
            Attn = Bf16(rows * shape.Hidden);
            T = Bf16(rows * shape.Hidden);
            F = Bf16(rows * Math.Max(shape.Intermediate, shape.OutHidden));
            _patches = new DeviceBuffer<ushort>(context, rows * shape.PaddedPatchInputs);
            _owned.Add(_patches);
            _output = new DeviceBuffer<ushort>(context, rows * shape.OutHidden);
            _owned.Add(_output);
            var starts = new DeviceBuffer<int>(context, crops + 1);
            _owned.Add(starts);
            starts.CopyFrom(Enumerable.Range(0, crops + 1).Select(c => c * shape.Patches).ToArray());
            SeqStarts = starts.Pointer;
            var zeros = new DeviceBuffer<int>(context, crops);
            _owned.Add(zeros);
            zeros.FillBytes(0);
            Zeros = zeros.Pointer;
            context.Synchronize(); // the copies and the memset ran on the legacy stream; the tower runs on a non-blocking one
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Device bytes of a workspace for <paramref name="crops"/> crops a pass of <paramref name="shape"/> (the attention CTA lists aside).</summary>
    public static long BytesFor(SiglipShape shape, int crops)
    {
        long rows = (long)crops * shape.Patches;
        long bf16 = rows * (shape.Hidden * 4L + 3L * shape.Hidden + Math.Max(shape.Intermediate, shape.OutHidden) + shape.PaddedPatchInputs + shape.OutHidden);
        return 2 * bf16 + 4L * (2 * crops + 1);
    }

    /// <summary>The sizes.</summary>
    public SiglipShape Shape { get; }
    /// <summary>Most crops a pass takes.</summary>
    public int Crops { get; }
    /// <summary>The attention kernel.</summary>
    public PrefillVariant Attention { get; }
    /// <summary>The residual stream `[rows, hidden]`.</summary>
    public ulong X { get; }
    /// <summary>Normed rows `[rows, hidden]`.</summary>
    public ulong H { get; }
    /// <summary>q|k|v `[rows, 3·hidden]`.</summary>
    public ulong Qkv { get; }
    /// <summary>Attention output `[rows, hidden]`.</summary>
    public ulong Attn { get; }
    /// <summary>A sublayer's output `[rows, hidden]`.</summary>
    public ulong T { get; }
    /// <summary>The MLP's (and the projector's) intermediate `[rows, max(intermediate, outHidden)]`.</summary>
    public ulong F { get; }
    /// <summary>Packed patches `[rows, PaddedPatchInputs]` (<see cref="UploadPatches"/>).</summary>
    public ulong Patches => _patches.Pointer;
    /// <summary>image_embeds `[rows, outHidden]`.</summary>
    public ulong Output => _output.Pointer;

    /// <summary>Copies packed patches (<see cref="DeviceSiglipTower.PackPatches"/>) to <see cref="Patches"/> and waits until the device has them.</summary>
    public void UploadPatches(ReadOnlySpan<ushort> bits)
    {
        _patches.CopyFrom(bits);
        _context.Synchronize(); // a pageable copy returns once staged; the tower's stream does not wait for the legacy one
    }

    /// <summary>The first <paramref name="destination"/>.Length values of <see cref="Output"/> (synchronise the tower's stream first).</summary>
    public void DownloadOutput(Span<ushort> destination) => _output.CopyTo(destination);
    /// <summary>int32 `[crops + 1]`: crop c's first row, c·patches (query and key starts: each crop is its own sequence).</summary>
    public ulong SeqStarts { get; }
    /// <summary>int32 zeros `[crops]` (no cached tokens).</summary>
    public ulong Zeros { get; }

    /// <summary>The attention CTA list for a pass of <paramref name="crops"/> crops (made once per count).</summary>
    public ulong Tiles(int crops) => TilesFor(crops).Tiles.Pointer;

    /// <summary>CTAs per head of a pass of <paramref name="crops"/> crops.</summary>
    public int TileCount(int crops) => TilesFor(crops).Count;

    private (DeviceBuffer<int> Tiles, int Count) TilesFor(int crops)
    {
        lock (_tiles)
        {
            if (_tiles.TryGetValue(crops, out var t)) return t;
            var list = AttentionKernels.PrefillTiles(Enumerable.Range(0, crops + 1).Select(c => c * Shape.Patches).ToArray(), Attention.Rows);
            var buffer = DeviceUpload.Of<int>(_context, list);
            _owned.Add(buffer);
            _context.Synchronize(); // before a kernel on another stream reads it
            return _tiles[crops] = (buffer, list.Length / 2);
        }
    }

    /// <summary>Frees the scratch.</summary>
    public void Dispose()
    {
        lock (_tiles)
        {
            foreach (var b in _owned) b.Dispose();
            _owned.Clear();
        }
    }

    private ulong Bf16(long n)
    {
        var b = new DeviceBuffer<ushort>(_context, Math.Max(1, n));
        _owned.Add(b);
        return b.Pointer;
    }
}
