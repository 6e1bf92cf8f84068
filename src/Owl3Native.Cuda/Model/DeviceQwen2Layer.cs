using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Blas;
using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Model;

/// <summary>The sizes of a Qwen2 decoder layer (config.json's text model).</summary>
public sealed record Qwen2LayerShape(int Hidden, int Heads, int KvHeads, int HeadDim, int Intermediate, float RmsEps, double RopeTheta)
{
    /// <summary>Width of the query projection (heads · headDim).</summary>
    public int QWidth => Heads * HeadDim;

    /// <summary>Width of one of the key / value projections (kvHeads · headDim).</summary>
    public int KvWidth => KvHeads * HeadDim;

    /// <summary>q | k | v side by side: the row stride of the stacked projection's output.</summary>
    public int QkvWidth => QWidth + 2 * KvWidth;

    /// <summary>The 1B checkpoints' text model (Qwen2-0.5B sizes, 24 layers; spec/CHECKPOINTS.md).</summary>
    public static Qwen2LayerShape OneB { get; } = new(896, 14, 2, 64, 4864, 1e-6f, 1_000_000);

    /// <summary>The 2B checkpoints' text model (Qwen2-1.5B sizes, 28 layers; expected values in spec/CHECKPOINTS.md).</summary>
    public static Qwen2LayerShape TwoB { get; } = new(1536, 12, 2, 128, 8960, 1e-6f, 1_000_000);

    /// <summary>The 7B checkpoints' text model (Qwen2-7B sizes, 28 layers).</summary>
    public static Qwen2LayerShape SevenB { get; } = new(3584, 28, 4, 128, 18944, 1e-6f, 1_000_000);

    /// <exception cref="ArgumentException">A size the kernels cannot take (widths not multiples of 8, GQA not integral).</exception>
    public void Validate()
    {
        if (Hidden % 8 != 0 || Intermediate % 8 != 0 || HeadDim % 8 != 0 || HeadDim > 256)
            throw new ArgumentException($"hidden {Hidden}, intermediate {Intermediate} and head dim {HeadDim} must be multiples of 8 (head dim ≤ 256)");
        if (Heads % KvHeads != 0) throw new ArgumentException($"{Heads} query heads are not a multiple of {KvHeads} KV heads");
    }
}

/// <summary>
/// One Qwen2 decoder layer's weights on the host, fp32 values already rounded to bf16 (checkpoint names in comments):
/// projections `[out, in]` row-major as stored.
/// </summary>
public sealed record Qwen2LayerWeights(
    float[] InputNorm,              // input_layernorm.weight [hidden]
    float[] Q, float[] QBias,       // self_attn.q_proj [heads·D, hidden], [heads·D]
    float[] K, float[] KBias,       // self_attn.k_proj [kvHeads·D, hidden]
    float[] V, float[] VBias,       // self_attn.v_proj
    float[] O,                      // self_attn.o_proj [hidden, heads·D], no bias
    float[] PostNorm,               // post_attention_layernorm.weight [hidden]
    float[] Gate, float[] Up,       // mlp.gate_proj / up_proj [intermediate, hidden]
    float[] Down,                   // mlp.down_proj [hidden, intermediate]
    float[]? VKv = null,            // hyper layers: self_attn.v_kv_proj [2·kvHeads·D, hidden] (head-major [K | V]), else null
    float[]? VKvBias = null,        // self_attn.v_kv_proj.bias [2·kvHeads·D]
    float[]? GateProj = null,       // 240728 hyper layers: self_attn.gate_proj.0 [D, D] (one per-head gate for all heads)
    float[]? GateProjBias = null,   // self_attn.gate_proj.0.bias [D]
    float[]? StaticGate = null)     // 241014 hyper layers: self_attn.gate [hidden] (pre-sigmoid)
{
    /// <summary>K and V stacked into one `[2·kvHeads·D, hidden]` projection (one GEMM; its output rows are [k | v]).</summary>
    public static float[] Stack(float[] a, float[] b) => [.. a, .. b];

    /// <summary>The weights as the device holds them: bf16 bits, k|v and gate|up stacked (convert once, upload to many layers).</summary>
    /// <exception cref="ArgumentException">A weight's element count differs from <paramref name="shape"/>'s.</exception>
    public Qwen2LayerBits ToBits(Qwen2LayerShape shape)
    {
        int h = shape.Hidden, qw = shape.QWidth, kvw = shape.KvWidth, inter = shape.Intermediate;
        Expect(InputNorm, h, "input_layernorm"); Expect(PostNorm, h, "post_attention_layernorm");
        Expect(Q, (long)qw * h, "q_proj"); Expect(QBias, qw, "q_proj.bias");
        Expect(K, (long)kvw * h, "k_proj"); Expect(KBias, kvw, "k_proj.bias");
        Expect(V, (long)kvw * h, "v_proj"); Expect(VBias, kvw, "v_proj.bias");
        Expect(O, (long)h * qw, "o_proj");
        Expect(Gate, (long)inter * h, "gate_proj"); Expect(Up, (long)inter * h, "up_proj"); Expect(Down, (long)h * inter, "down_proj");
        if ((VKv is null) != (VKvBias is null)) throw new ArgumentException("v_kv_proj needs its weight and its bias");
        if (VKv is not null) { Expect(VKv, 2L * kvw * h, "v_kv_proj"); Expect(VKvBias!, 2 * kvw, "v_kv_proj.bias"); }
        if ((GateProj is null) != (GateProjBias is null)) throw new ArgumentException("gate_proj.0 needs its weight and its bias");
        if (GateProj is not null && StaticGate is not null) throw new ArgumentException("a layer has one gate: gate_proj.0 (240728) or gate (241014), not both");
        if ((GateProj is not null || StaticGate is not null) && VKv is null) throw new ArgumentException("a gate without v_kv_proj: only hyper layers have one");
        if (GateProj is not null) { Expect(GateProj, (long)shape.HeadDim * shape.HeadDim, "gate_proj.0"); Expect(GateProjBias!, shape.HeadDim, "gate_proj.0.bias"); }
        if (StaticGate is not null) Expect(StaticGate, qw, "gate");
        static ushort[]? Maybe(float[]? v) => v is null ? null : Bits(v);
        return new Qwen2LayerBits(Bits(InputNorm), Bits(Q), Bits(QBias), Bits(Stack(K, V)), Bits(Stack(KBias, VBias)), Bits(O),
            Bits(PostNorm), Bits(Stack(Gate, Up)), Bits(Down), Maybe(VKv), Maybe(VKvBias), Maybe(GateProj), Maybe(GateProjBias), Maybe(StaticGate));
    }

    /// <summary>fp32 values rounded to bf16 bits.</summary>
    public static ushort[] Bits(float[] values)
    {
        var bits = new ushort[values.Length];
        BFloat16.FromSingle(values, bits);
        return bits;
    }

    private static void Expect(float[] values, long count, string name)
    {
        if (values.LongLength != count) throw new ArgumentException($"{name}: {values.LongLength} values, the layer's shape needs {count}");
    }
}

/// <summary>A layer's weights as bf16 bits, k|v and gate|up stacked (<see cref="Qwen2LayerWeights.ToBits"/>).</summary>
public sealed record Qwen2LayerBits(ushort[] InputNorm, ushort[] Q, ushort[] QBias, ushort[] Kv, ushort[] KvBias, ushort[] O, ushort[] PostNorm, ushort[] GateUp, ushort[] Down,
    ushort[]? VKv = null, ushort[]? VKvBias = null, ushort[]? GateProj = null, ushort[]? GateProjBias = null, ushort[]? StaticGate = null);

/// <summary>
/// A Qwen2 decoder layer (a text layer; no hyper side) composed of our kernels and cuBLASLt, weights and activations in
/// bf16 on the device: RMSNorm → one stacked q|k|v projection (bias epilogue) → one K/V write that rotates the keys into
/// the paged cache and the queries in place → paged attention (prefill: the device's default prefill kernel; decode: split-K tensor-core decode)
/// → o_proj → residual add fused with the post-attention RMSNorm → stacked gate|up projection → SwiGLU → down_proj →
/// residual add fused with the next RMSNorm. The first piece of the device forward; its check and timing are in
/// <see cref="Checks.LayerConformance"/>.
/// </summary>
public sealed class DeviceQwen2Layer : IDisposable
{
    private readonly Qwen2LayerShape _shape;
    private readonly DeviceBuffer<ushort> _inputNorm, _qkv, _qkvBias, _o, _postNorm, _gateUp, _down, _zeros;
    private readonly DeviceBuffer<ushort>? _vkv, _vkvBias; // hyper layers: the image side's projection
    private readonly DeviceBuffer<ushort>? _gateProj, _gateProjBias, _staticGate; // 240728 / 241014 hyper layers: the gate

    /// <summary>Uploads <paramref name="w"/> (checked against <paramref name="shape"/>).</summary>
    /// <exception cref="ArgumentException">A weight's element count differs from the shape's.</exception>
    public DeviceQwen2Layer(CudaContext context, Qwen2LayerShape shape, Qwen2LayerWeights w) : this(context, shape, w.ToBits(shape)) { }

    /// <summary>Uploads weights already converted (<see cref="Qwen2LayerWeights.ToBits"/> for this shape).</summary>
    /// <exception cref="ArgumentException">A weight's element count differs from the shape's.</exception>
    public DeviceQwen2Layer(CudaContext context, Qwen2LayerShape shape, Qwen2LayerBits w)
    {
        shape.Validate();
        _shape = shape;
        int h = shape.Hidden, qw = shape.QWidth, kvw = shape.KvWidth, inter = shape.Intermediate;
        if (w.Q.LongLength != (long)qw * h || w.Kv.LongLength != 2L * kvw * h || w.GateUp.LongLength != 2L * inter * h || w.Down.LongLength != (long)h * inter
            || w.O.LongLength != (long)h * qw || w.InputNorm.Length != h || w.PostNorm.Length != h || w.QBias.Length != qw || w.KvBias.Length != 2 * kvw
            || (w.VKv is not null && (w.VKv.LongLength != 2L * kvw * h || w.VKvBias is null || w.VKvBias.Length != 2 * kvw))
            || (w.GateProj is not null && (w.GateProj.Length != shape.HeadDim * shape.HeadDim || w.GateProjBias is null || w.GateProjBias.Length != shape.HeadDim))
            || (w.StaticGate is not null && w.StaticGate.Length != qw))
            throw new ArgumentException($"layer weights of other sizes than {shape}");
        var owned = new List<IDisposable>(); // freed again if an allocation fails part way (out of device memory)
        DeviceBuffer<ushort> Keep(DeviceBuffer<ushort> b) { owned.Add(b); return b; }
        try
        {
            _inputNorm = Keep(Up(context, w.InputNorm)); _postNorm = Keep(Up(context, w.PostNorm));
            // q | k | v stacked: the step's three projections are one GEMM (rows [q | k | v], stride QkvWidth).
            _qkv = Keep(DeviceUpload.Concat<ushort>(context, w.Q, w.Kv)); _qkvBias = Keep(DeviceUpload.Concat<ushort>(context, w.QBias, w.KvBias));
            _o = Keep(Up(context, w.O));
            _gateUp = Keep(Up(context, w.GateUp));
            _down = Keep(Up(context, w.Down));
            if (w.VKv is not null) (_vkv, _vkvBias) = (Keep(Up(context, w.VKv)), Keep(Up(context, w.VKvBias!)));
            if (w.GateProj is not null) (_gateProj, _gateProjBias) = (Keep(Up(context, w.GateProj)), Keep(Up(context, w.GateProjBias!)));
            if (w.StaticGate is not null) _staticGate = Keep(Up(context, w.StaticGate));
            _zeros = Keep(new DeviceBuffer<ushort>(context, Math.Max(2L * inter, h))); // the bias of the unbiased projections
            _zeros.FillBytes(0);
            context.Synchronize(); // the uploads and the memset ran on the legacy stream; the layer's kernels run on others
        }
        catch
        {
            foreach (var b in owned) b.Dispose();
            throw;
        }
    }

    /// <summary>The layer's sizes.</summary>
    public Qwen2LayerShape Shape => _shape;

    /// <summary>Device address of the input RMSNorm's weight (a previous layer fuses its last residual add with it).</summary>
    public ulong InputNormWeight => _inputNorm.Pointer;

    /// <summary>A hyper layer: it has the image side's v_kv_proj (spec/MODEL.md §4.1).</summary>
    public bool IsHyper => _vkv is not null;

    /// <summary>
    /// A hyper layer of 240728/241014: it attends to images by a separate cross-attention mixed into the context through
    /// its gate (spec/MODEL.md §4.2), not in the fused softmax of 241101.
    /// </summary>
    public bool IsCross => _gateProj is not null || _staticGate is not null;

    /// <summary>
    /// This hyper layer's visual K/V for one request (241101, spec/MODEL.md §4.1): the image features
    /// <paramref name="imageEmbeds"/> `[imageTokens, hidden]` through the layer's own input RMSNorm and v_kv_proj, split per
    /// KV head into keys (rotated at their crop's position: MI-RoPE) and values, `[kvHeads, imageTokens, D]` each.
    /// <paramref name="cropPositions"/>: int32 `[crops]`; scratch: `[imageTokens, hidden]` and `[imageTokens, 2·kvHeads·D]` bf16.
    /// </summary>
    public void PrepareVisual(DeviceLayerKernels k, CudaStream s, ulong imageEmbeds, int imageTokens, int tokensPerCrop, ulong cropPositions,
        ulong scratchH, ulong scratchKv, ulong keys, ulong values)
    {
        if (_vkv is null) throw new InvalidOperationException("not a hyper layer: no v_kv_proj");
        if (tokensPerCrop < 1 || imageTokens % tokensPerCrop != 0) throw new ArgumentException($"{imageTokens} image tokens are not whole crops of {tokensPerCrop}");
        var sh = _shape;
        if (imageTokens == 0) return;
        k.Norm.RmsNorm(s, new NormParams { X = imageEmbeds, Weight = _inputNorm.Pointer, Y = scratchH, Rows = imageTokens, Hidden = sh.Hidden, Eps = sh.RmsEps });
        k.Blas.LinearBias(s, scratchH, _vkv.Pointer, _vkvBias!.Pointer, scratchKv, imageTokens, sh.Hidden, 2 * sh.KvWidth);
        k.Elementwise.MiRope(s, new RopeParams
        {
            X = scratchKv, Keys = keys, Values = values, Positions = cropPositions, Tokens = imageTokens, Heads = sh.KvHeads, HeadDim = sh.HeadDim,
            TokensPerCrop = tokensPerCrop, Theta = (float)sh.RopeTheta,
        });
    }

    /// <summary>
    /// x ← layer(x) for the step's tokens (rows of <paramref name="x"/>, bf16 `[tokens, hidden]`), writing their K/V into
    /// <paramref name="cache"/>. The last residual add is fused with the RMSNorm of weight <paramref name="nextNorm"/> (the
    /// next layer's input norm, or the final norm), whose output goes to <paramref name="nextNormOut"/> `[tokens, hidden]`.
    /// With <paramref name="inputNormed"/>, `ws.H` already holds this layer's input norm of x (the previous layer wrote its
    /// fused next-norm output there) and the layer does not compute it again.
    /// </summary>
    /// <remarks>
    /// A hyper layer (<see cref="IsHyper"/>) whose step carries images for layer <paramref name="layer"/> (its index in
    /// the model; −1: none) attends to those visual keys, each row seeing the crops visible from its position: in front of
    /// the text keys in one softmax (241101's fused form, spec/MODEL.md §4.3), or — a layer with a gate
    /// (<see cref="IsCross"/>, 240728/241014, §4.2) — by a separate cross-attention mixed into the context through the
    /// gate. Other layers and steps without images attend to text only.
    /// </remarks>
    public void Forward(DeviceLayerKernels k, CudaStream s, DeviceStep step, DeviceKvCache cache, LayerWorkspace ws, ulong x, ulong nextNorm, ulong nextNormOut,
        bool inputNormed = false, int layer = -1)
    {
        var sh = _shape;
        int t = step.Tokens, h = sh.Hidden, qw = sh.QWidth, kvw = sh.KvWidth, inter = sh.Intermediate;
        if (t == 0) return;
        if (t > ws.Tokens) throw new ArgumentException($"a step of {t} tokens on a workspace for {ws.Tokens}");
        if (ws.Shape != sh) throw new ArgumentException($"a workspace sized for {ws.Shape}, a layer of {sh}");
        if (cache.KvHeads != sh.KvHeads || cache.HeadDim != sh.HeadDim) throw new ArgumentException($"a cache of {cache.KvHeads} × {cache.HeadDim} for a layer of {sh.KvHeads} × {sh.HeadDim}");
        float scaleLog2 = (float)(1.4426950408889634 / Math.Sqrt(sh.HeadDim));
        var (imgK, imgV) = IsHyper && layer >= 0 ? step.VisualFor(layer) : (0ul, 0ul);
        bool cross = imgK != 0 && IsCross;
        if (cross && ws.Cross == 0) throw new ArgumentException("a gated cross-attention layer with images on a workspace made without cross-attention scratch");
        // The fused form puts the visual keys in front of the text keys; the cross form attends to them separately below.
        var (visK, visV) = cross ? (0ul, 0ul) : (imgK, imgV);
        ulong visLens = visK != 0 ? step.VisLens : 0, visTokens = visK != 0 ? step.VisTokens : 0;
        int splits = step.Splits, splitKeys = step.SplitKeys;
        bool clustered = step.ClusterSplits;
        if (visK != 0) (splits, splitKeys, clustered) = (step.VisualSplits, step.VisualSplitKeys, step.VisualClusterSplits);
        int mostSplits = Math.Max(splits, cross ? step.CrossSplits : 1), d = step.DecodeSeqs;
        // Partials are indexed ((seq · heads + head) · splits + split): what must fit is sequences × splits.
        if (d > 0 && mostSplits > 1 && ((long)d * mostSplits > (long)ws.DecodeSeqs * ws.MaxSplits || mostSplits > AttentionKernels.MaxDecodeSplits))
            throw new ArgumentException($"a decode step of {d} sequences × {mostSplits} splits on a workspace for {ws.DecodeSeqs} × {ws.MaxSplits} split partials");

        if (!inputNormed) k.Norm.RmsNorm(s, new NormParams { X = x, Weight = _inputNorm.Pointer, Y = ws.H, Rows = t, Hidden = h, Eps = sh.RmsEps });
        int qkvw = sh.QkvWidth; // the row stride of Q, K and V: one GEMM wrote them side by side
        // A decode step of few rows may run its projections on gemv_bf16 (opt-in, OWL3_GEMV=1): each weight row read once
        // for all rows, and the gate|up projection writes the SwiGLU itself (no SwiGLU launch).
        bool gemv = t <= GemvKernels.MaxRows && k.Gemv.Enabled;
        void Project(ulong xIn, int xStride, DeviceBuffer<ushort> w, ulong bias, ulong y, int inF, int outF)
        {
            if (gemv)
                k.Gemv.Gemv(s, new GemvParams { X = xIn, W = w.Pointer, Bias = bias == _zeros.Pointer ? 0 : bias, Y = y, M = t, N = outF, K = inF, XStride = xStride, YStride = outF });
            else
                k.Blas.LinearBias(s, xIn, w.Pointer, bias, y, t, inF, outF);
        }
        Project(ws.H, h, _qkv, _qkvBias.Pointer, ws.Q, h, qkvw);
        // The keys rotated into the cache and the queries rotated in place: one launch (rope_bf16's arithmetic for both).
        k.Attention.KvWrite(s, new KvWriteParams
        {
            K = ws.Kv, V = ws.Kv + (ulong)kvw * 2, KCache = cache.K, VCache = cache.V, Slots = step.Slots, Positions = step.Positions,
            Q = ws.Q, QHeads = sh.Heads, QStride = qkvw,
            Tokens = t, KvHeads = sh.KvHeads, HeadDim = sh.HeadDim, KStride = qkvw, VStride = qkvw, Rope = 1, Theta = (float)sh.RopeTheta,
        });
        // The decode part (rows 0 .. d − 1, one per sequence), then the prefill part: its per-sequence arrays start at
        // sequence d (row starts and visible visual keys per row stay absolute).
        // A decode grid of at most one wave starts under the K/V write's tail (programmatic launch, where the device has
        // it): measured up to 11 % faster at batch 1 and 15–24 % slower at batch 64, where early CTAs take the SMs the
        // previous kernel still streams on (bench/results/gpu/2026-11-26-h200-attention-s3.md). The lengths, tables and
        // visual K/V it reads early were written before the step.
        bool programmatic = (long)d * sh.KvHeads * splits <= s.Context.Multiprocessors;
        if (d > 0)
            k.Attention.Decode(s, new DecodeParams
            {
                Q = ws.Q, O = ws.Context, KCache = cache.K, VCache = cache.V, BlockTables = step.BlockTables, TextLens = step.TextLens,
                VisLens = visLens, VisK = visK, VisV = visV, VisTokens = visTokens, PartO = ws.PartO, PartMl = ws.PartMl, Seqs = d, Heads = sh.Heads, KvHeads = sh.KvHeads, HeadDim = sh.HeadDim,
                BlockSize = cache.BlockSize, MaxBlocks = step.MaxBlocks, Splits = splits, SplitKeys = splitKeys,
                QStride = sh.QkvWidth, OStride = qw, ScaleLog2 = scaleLog2,
            }, clustered ? DecodeKernel.TensorCoreCluster : DecodeKernel.TensorCore, programmatic, step.DecodeStages);
        if (d < step.Seqs)
            k.Attention.Prefill(s, new PrefillParams
            {
                Q = ws.Q, O = ws.Context, K = cache.K, V = cache.V, BlockTables = Skip(step.BlockTables, d * step.MaxBlocks), SeqQStart = Skip(step.SeqQStart, d),
                SeqPos = Skip(step.SeqPos, d), Tiles = step.PrefillTiles, VisLens = visLens, VisK = Skip(visK, d, 8), VisV = Skip(visV, d, 8), VisTokens = Skip(visTokens, d),
                Heads = sh.Heads, KvHeads = sh.KvHeads, HeadDim = sh.HeadDim,
                BlockSize = cache.BlockSize, MaxBlocks = step.MaxBlocks, TextMode = 1, QStride = sh.QkvWidth, OStride = qw, ScaleLog2 = scaleLog2,
            }, step.PrefillTileCount, step.PrefillVariant);
        if (cross) CrossAttention(k, s, step, cache, ws, imgK, imgV, scaleLog2);
        Project(ws.Context, qw, _o, _zeros.Pointer, ws.A, qw, h);
        k.Norm.RmsNormResidual(s, new NormParams { X = ws.A, Residual = x, Weight = _postNorm.Pointer, Y = ws.H, Rows = t, Hidden = h, Eps = sh.RmsEps });
        if (gemv)
            k.Gemv.Gemv(s, new GemvParams { X = ws.H, W = _gateUp.Pointer, Y = ws.Mlp, M = t, N = 2 * inter, K = h, XStride = h, YStride = inter, Swiglu = 1 });
        else
        {
            Project(ws.H, h, _gateUp, _zeros.Pointer, ws.GateUp, h, 2 * inter);
            k.Elementwise.SwiGlu(s, new ActivationParams { X = ws.GateUp, Y = ws.Mlp, Rows = t, Cols = inter });
        }
        Project(ws.Mlp, inter, _down, _zeros.Pointer, ws.A, inter, h);
        k.Norm.RmsNormResidual(s, new NormParams { X = ws.A, Residual = x, Weight = nextNorm, Y = nextNormOut, Rows = t, Hidden = h, Eps = sh.RmsEps });
    }

    /// <summary>
    /// 240728/241014: cross-attention of the rotated queries over the visible visual keys only (rows that see no crop get
    /// zeros), then context ← context + σ(gate)·(cross − context) on rows that see a crop, the gate per head from the
    /// context through gate_proj.0 (240728) or a static vector (241014) (spec/MODEL.md §4.2).
    /// </summary>
    private void CrossAttention(DeviceLayerKernels k, CudaStream s, DeviceStep step, DeviceKvCache cache, LayerWorkspace ws, ulong imgK, ulong imgV, float scaleLog2)
    {
        var sh = _shape;
        int t = step.Tokens, qw = sh.QWidth;
        int d = step.DecodeSeqs;
        if (d > 0)
            k.Attention.Decode(s, new DecodeParams
            {
                Q = ws.Q, O = ws.Cross, KCache = cache.K, VCache = cache.V, BlockTables = step.BlockTables, TextLens = step.ZeroLens,
                VisLens = step.VisLens, VisK = imgK, VisV = imgV, VisTokens = step.VisTokens, PartO = ws.PartO, PartMl = ws.PartMl,
                Seqs = d, Heads = sh.Heads, KvHeads = sh.KvHeads, HeadDim = sh.HeadDim, BlockSize = cache.BlockSize, MaxBlocks = step.MaxBlocks,
                Splits = step.CrossSplits, SplitKeys = step.CrossSplitKeys, QStride = sh.QkvWidth, OStride = qw, ScaleLog2 = scaleLog2,
            }, step.CrossClusterSplits ? DecodeKernel.TensorCoreCluster : DecodeKernel.TensorCore, stages: step.DecodeStages);
        if (d < step.Seqs)
            k.Attention.Prefill(s, new PrefillParams
            {
                Q = ws.Q, O = ws.Cross, K = cache.K, V = cache.V, BlockTables = Skip(step.BlockTables, d * step.MaxBlocks), SeqQStart = Skip(step.SeqQStart, d),
                SeqPos = Skip(step.SeqPos, d), Tiles = step.PrefillTiles, VisLens = step.VisLens, VisK = Skip(imgK, d, 8), VisV = Skip(imgV, d, 8),
                VisTokens = Skip(step.VisTokens, d), Heads = sh.Heads,
                KvHeads = sh.KvHeads, HeadDim = sh.HeadDim, BlockSize = cache.BlockSize, MaxBlocks = step.MaxBlocks, TextMode = 0,
                QStride = sh.QkvWidth, OStride = qw, ScaleLog2 = scaleLog2,
            }, step.PrefillTileCount, step.PrefillVariant);
        ulong gate;
        int gateRows;
        if (_gateProj is not null)
        {
            // One [D, D] gate for every head: the context seen as [tokens·heads, D] rows.
            k.Blas.LinearBias(s, ws.Context, _gateProj.Pointer, _gateProjBias!.Pointer, ws.Gate, t * sh.Heads, sh.HeadDim, sh.HeadDim);
            (gate, gateRows) = (ws.Gate, t);
        }
        else (gate, gateRows) = (_staticGate!.Pointer, 1);
        // VisLens doubles as the visible-crop flag per row (the mix leaves rows that see nothing alone).
        k.Attention.GateMix(s, new GateMixParams { Context = ws.Context, Cross = ws.Cross, Gate = gate, Visible = step.VisLens, Rows = t, Cols = qw, GateRows = gateRows });
    }

    /// <summary>The address of element <paramref name="count"/> of a device array of <paramref name="size"/>-byte elements (0 stays 0: no array).</summary>
    private static ulong Skip(ulong array, long count, int size = sizeof(int)) => array == 0 ? 0 : array + (ulong)(count * size);

    /// <summary>Frees the device weights.</summary>
    public void Dispose()
    {
        foreach (var b in new[] { _inputNorm, _qkv, _qkvBias, _o, _postNorm, _gateUp, _down, _zeros, _vkv, _vkvBias, _gateProj, _gateProjBias, _staticGate }) b?.Dispose();
    }

    private static DeviceBuffer<ushort> Up(CudaContext context, ushort[] bits) => DeviceUpload.Of<ushort>(context, bits);
}

/// <summary>The kernel families and the GEMM handle a device layer launches (one set per context).</summary>
public sealed class DeviceLayerKernels(KernelCache cache, CudaContext context) : IDisposable
{
    /// <summary>RMSNorm (+ residual).</summary>
    public NormKernels Norm { get; } = new(cache);
    /// <summary>RoPE, SwiGLU.</summary>
    public ElementwiseKernels Elementwise { get; } = new(cache, context);
    /// <summary>Attention and K/V writes.</summary>
    public AttentionKernels Attention { get; } = new(cache);
    /// <summary>The projections (bf16 GEMM, bias epilogue).</summary>
    public CublasLtMatmul Blas { get; } = new(context);
    /// <summary>The projections of steps of at most 8 rows without cuBLASLt (opt-in: <see cref="GemvKernels.Enabled"/>).</summary>
    public GemvKernels Gemv { get; } = new(cache);

    /// <summary>Destroys the cuBLASLt handle.</summary>
    public void Dispose() => Blas.Dispose();
}

/// <summary>A layer's paged K/V cache on the device: `[numBlocks, blockSize, kvHeads, headDim]` bf16, keys and values.</summary>
public sealed class DeviceKvCache : IDisposable
{
    private readonly DeviceBuffer<ushort> _k, _v;

    /// <summary>Allocates both caches (neither is kept if the second does not fit).</summary>
    public DeviceKvCache(CudaContext context, int numBlocks, int blockSize, int kvHeads, int headDim)
    {
        (NumBlocks, BlockSize, KvHeads, HeadDim) = (numBlocks, blockSize, kvHeads, headDim);
        long n = (long)numBlocks * blockSize * kvHeads * headDim;
        _k = new DeviceBuffer<ushort>(context, n);
        try
        {
            _v = new DeviceBuffer<ushort>(context, n);
        }
        catch
        {
            _k.Dispose();
            throw;
        }
    }

    /// <summary>Device address of the key cache.</summary>
    public ulong K => _k.Pointer;
    /// <summary>Device address of the value cache.</summary>
    public ulong V => _v.Pointer;
    /// <summary>Blocks.</summary>
    public int NumBlocks { get; }
    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }
    /// <summary>Key/value heads.</summary>
    public int KvHeads { get; }
    /// <summary>Elements per head.</summary>
    public int HeadDim { get; }

    /// <summary>Frees both caches.</summary>
    public void Dispose()
    {
        _k.Dispose();
        _v.Dispose();
    }
}

/// <summary>A layer's activation scratch for up to <see cref="Tokens"/> tokens (bf16), plus the decode's split partials.</summary>
public sealed class LayerWorkspace : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    /// <summary>
    /// Allocates scratch for steps of up to <paramref name="tokens"/> tokens, and split partials for decode steps of up to
    /// <paramref name="decodeSeqs"/> sequences (default: min(tokens, 64)) and <paramref name="maxSplits"/> splits — or any
    /// decode step whose sequences × splits is at most their product (a batch of 256 splits far less than 256 ways).
    /// </summary>
    /// <param name="context">The device.</param>
    /// <param name="shape">The layer sizes.</param>
    /// <param name="tokens">Most tokens a step may have.</param>
    /// <param name="decodeSeqs">Sequences of a split decode step (with <paramref name="maxSplits"/>: the partials' budget).</param>
    /// <param name="maxSplits">Splits of a decode step.</param>
    /// <param name="crossAttention">Scratch for 240728/241014's gated cross-attention (<see cref="Cross"/>, <see cref="Gate"/>);
    /// false for models without it (241101, plain Qwen2): those buffers are then 0.</param>
    public LayerWorkspace(CudaContext context, Qwen2LayerShape shape, int tokens, int? decodeSeqs = null, int maxSplits = AttentionKernels.MaxDecodeSplits,
        bool crossAttention = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1);
        Shape = shape;
        DecodeSeqs = decodeSeqs ?? Math.Min(tokens, 64);
        MaxSplits = maxSplits;
        Tokens = tokens;
        ulong Bf16(long n) { var b = new DeviceBuffer<ushort>(context, Math.Max(1, n)); _owned.Add(b); return b.Pointer; }
        ulong F32(long n) { var b = new DeviceBuffer<float>(context, Math.Max(1, n)); _owned.Add(b); return b.Pointer; }
        try
        {
            H = Bf16((long)tokens * shape.Hidden);
            Q = Bf16((long)tokens * shape.QkvWidth);
            Kv = Q + (ulong)shape.QWidth * 2;
            Context = Bf16((long)tokens * shape.QWidth);
            A = Bf16((long)tokens * shape.Hidden);
            GateUp = Bf16((long)tokens * 2 * shape.Intermediate);
            Mlp = Bf16((long)tokens * shape.Intermediate);
            if (crossAttention)
            {
                Cross = Bf16((long)tokens * shape.QWidth);
                Gate = Bf16((long)tokens * shape.QWidth);
            }
            PartO = F32((long)DecodeSeqs * shape.Heads * maxSplits * shape.HeadDim);
            PartMl = F32((long)DecodeSeqs * shape.Heads * maxSplits * 2);
        }
        catch
        {
            Dispose(); // out of device memory part way: nothing kept
            throw;
        }
    }

    /// <summary>The layer sizes the scratch is for.</summary>
    public Qwen2LayerShape Shape { get; }
    /// <summary>Most tokens a step may have.</summary>
    public int Tokens { get; }
    /// <summary>Most sequences a split decode step may have.</summary>
    public int DecodeSeqs { get; }
    /// <summary>Most splits a decode step may plan.</summary>
    public int MaxSplits { get; }
    /// <summary>Normalised activations `[tokens, hidden]`.</summary>
    public ulong H { get; }
    /// <summary>Queries | keys | values `[tokens, QkvWidth]` (the stacked projection's output): the queries, row stride QkvWidth.</summary>
    public ulong Q { get; }
    /// <summary>The keys | values of the same rows (Q + heads·D elements), row stride QkvWidth.</summary>
    public ulong Kv { get; }
    /// <summary>Attention output `[tokens, heads·D]`.</summary>
    public ulong Context { get; }
    /// <summary>o_proj / down_proj output `[tokens, hidden]`.</summary>
    public ulong A { get; }
    /// <summary>gate | up `[tokens, 2·intermediate]`.</summary>
    public ulong GateUp { get; }
    /// <summary>SwiGLU output `[tokens, intermediate]`.</summary>
    public ulong Mlp { get; }
    /// <summary>240728/241014: the cross-attention output `[tokens, heads·D]` (0 when the workspace has no cross-attention scratch).</summary>
    public ulong Cross { get; }
    /// <summary>240728: the per-head gate before the sigmoid `[tokens, heads·D]`.</summary>
    public ulong Gate { get; }
    /// <summary>Decode split partial outputs (fp32).</summary>
    public ulong PartO { get; }
    /// <summary>Decode split (max, sum) pairs (fp32).</summary>
    public ulong PartMl { get; }

    /// <summary>Frees the scratch.</summary>
    public void Dispose()
    {
        foreach (var b in _owned) b.Dispose();
    }
}
