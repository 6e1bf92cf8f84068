using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Kernels;

namespace Owl3Native.Cuda.Tests.Attention;

/// <summary>Deliberate defects of the tiling models: each must push a model past the error bound of the tests.</summary>
[Flags]
public enum TilingMutation
{
    /// <summary>The faithful model.</summary>
    None = 0,
    /// <summary>The online softmax forgets to rescale its running (o, l) when the max grows (corr = 1).</summary>
    SkipOnlineRescale = 1,
    /// <summary>Merging partial states (decode slots, warps, splits) sums them without rescaling to the common max.</summary>
    SkipMergeRescale = 2,
    /// <summary>Prefill streams no visual tiles; decode leaves the visual keys out of the virtual key list.</summary>
    DropVisualTiles = 4,
}

/// <summary>The scalar helpers of kernels/common.cuh, bit for bit where C# can say so.</summary>
internal static class KernelMath
{
    /// <summary>f32_to_bf16 then back: round to nearest even, NaN stays NaN.</summary>
    public static float Bf16(float x) => BFloat16.ToSingle(BFloat16.FromSingle(x));

    /// <summary>CUDA fmaxf: a NaN operand yields the other one (MathF.Max would propagate it).</summary>
    public static float Fmaxf(float a, float b) => float.IsNaN(a) ? b : float.IsNaN(b) ? a : Math.Max(a, b);

    /// <summary>exp2f (exp2(−inf) = 0).</summary>
    public static float Exp2f(float x) => float.Exp2(x);

    /// <summary>softmax_base: a running max still at −inf (nothing visible yet) counts as 0.</summary>
    public static float SoftmaxBase(float m) => float.IsNegativeInfinity(m) ? 0f : m;

    /// <summary>softmax_rescale: factor of an old state with max <paramref name="mOld"/> into <paramref name="mNew"/>; 0 for an empty state.</summary>
    public static float SoftmaxRescale(float mOld, float mNew) => float.IsNegativeInfinity(mOld) ? 0f : Exp2f(mOld - SoftmaxBase(mNew));

    /// <summary>log2(e) / √D in fp32, as the launchers pass it.</summary>
    public static float ScaleLog2(int headDim) => (float)(1.0 / Math.Sqrt(headDim) * 1.4426950408889634);
}

/// <summary>
/// The inputs of attention_prefill_d*_bf16, field for field as PrefillParams (kernels/attention_prefill.cu); tensors
/// are fp32 arrays holding bf16 values, pointers that may be null are nullable arrays, a zero vis_k address is a null
/// slab.
/// </summary>
public sealed record PrefillModelParams
{
    /// <summary>[rows, q_stride]; head h of a row at column h·D.</summary>
    public required float[] Q { get; init; }
    /// <summary>Paged cache [numBlocks, blockSize, kvHeads, D], or dense rows of stride KvStride.</summary>
    public required float[] K { get; init; }
    /// <summary>Same layout as <see cref="K"/>.</summary>
    public required float[] V { get; init; }
    /// <summary>[seqs, MaxBlocks] physical block of each logical block; null = dense rows.</summary>
    public int[]? BlockTables { get; init; }
    /// <summary>[seqs + 1] cumulative query rows.</summary>
    public required int[] SeqQStart { get; init; }
    /// <summary>[seqs] dense mode: first key row of each sequence.</summary>
    public int[]? SeqKStart { get; init; }
    /// <summary>[seqs] absolute position of each sequence's first query row (its cached length).</summary>
    public required int[] SeqPos { get; init; }
    /// <summary>[rows] visible visual keys per query row (null = none).</summary>
    public int[]? VisLens { get; init; }
    /// <summary>[seqs] visual key slab [kvHeads, VisTokens[s], D] of each sequence (null entry = none).</summary>
    public float[]?[]? VisK { get; init; }
    /// <summary>Visual value slabs, as <see cref="VisK"/>.</summary>
    public float[]?[]? VisV { get; init; }
    /// <summary>[seqs] visual tokens per KV head.</summary>
    public int[]? VisTokens { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int HeadDim { get; init; }
    public int BlockSize { get; init; } = 1;
    public int MaxBlocks { get; init; }
    /// <summary>0 none (cross-attention), 1 causal, 2 every key of the sequence.</summary>
    public required int TextMode { get; init; }
    public required int QStride { get; init; }
    public required int OStride { get; init; }
    public int KvStride { get; init; }
    public required float ScaleLog2 { get; init; }
}

/// <summary>
/// A scalar model of kernels/attention_prefill.cu, CTA by CTA: the host's tile list
/// (<see cref="AttentionKernels.PrefillTiles"/>) of BR query rows of one head; key tiles of BC rows
/// (both from <see cref="AttentionKernels.PrefillShape"/> of the instantiation's padded dim, or from an experimental
/// variant: attention_prefill_sm90.cu runs the same algorithm on 128 × 128 tiles), visual tiles first up to the CTA's
/// largest visible prefix, then text tiles up to the CTA's largest text range; rows of a tile past its valid count are
/// zero and never read; per-row masks; running maxima on the raw scores q·k (fp32), P = exp2(s·scale_log2 − m·scale_log2) as one FMA; online softmax with the
/// softmax_base / softmax_rescale rules; the row sum l from the fp32 P, the P·V product from P rounded to bf16; output
/// O·(1/l) rounded to bf16 (zeros when l = 0). The order of fp32 sums inside one mma is not modelled (it is the
/// hardware's), everything else is the kernel's.
/// </summary>
public static class PrefillTilingModel
{
    /// <summary>
    /// Runs every CTA of the launch (grid heads × tiles) and returns O [rows, OStride]. Elements no CTA writes stay NaN
    /// (the GPU check poisons its output the same way); a CTA writing a row another CTA wrote throws.
    /// <paramref name="roundOutput"/> false keeps the fp32 values the kernel rounds in its last instruction (a sharper check).
    /// </summary>
    public static float[] Run(PrefillModelParams p, TilingMutation mutation = TilingMutation.None, bool roundOutput = true, PrefillVariant? variant = null)
    {
        if (p.Heads % p.KvHeads != 0) throw new ArgumentException($"{p.Heads} query heads are not a multiple of {p.KvHeads} KV heads");
        int seqs = p.SeqQStart.Length - 1, rows = p.SeqQStart[seqs];
        var o = new float[rows * p.OStride];
        Array.Fill(o, float.NaN);
        var written = new bool[rows * p.Heads];
        int dp = AttentionKernels.PrefillDim(p.HeadDim);
        var (bc, br) = variant is null ? AttentionKernels.PrefillShape(dp) : (variant.KeyTile, variant.Rows);
        if (variant is not null && variant.Dim < dp) throw new ArgumentException($"{variant.Kernel} serves head dims up to {variant.Dim}, not {p.HeadDim}");
        int[] tiles = AttentionKernels.PrefillTiles(p.SeqQStart, br);
        var cta = new Cta(p, bc, br, mutation, roundOutput);
        for (int tile = 0; tile < tiles.Length / 2; tile++)
            for (int h = 0; h < p.Heads; h++)
                cta.Run(h, tiles[2 * tile], tiles[2 * tile + 1], o, written);
        return o;
    }

    /// <summary>One CTA's registers and shared memory, reused across CTAs.</summary>
    private sealed class Cta(PrefillModelParams p, int bc, int BlockRows, TilingMutation mutation, bool roundOutput)
    {
        private readonly int _d = p.HeadDim;
        private readonly float[] _q = new float[BlockRows * p.HeadDim];
        private readonly float[] _k = new float[bc * p.HeadDim];
        private readonly float[] _v = new float[bc * p.HeadDim];
        private readonly float[] _o = new float[BlockRows * p.HeadDim];
        private readonly float[] _m = new float[BlockRows], _l = new float[BlockRows];
        private readonly int[] _vis = new int[BlockRows], _text = new int[BlockRows];
        private readonly float[] _s = new float[bc];

        public void Run(int h, int s, int q0, float[] output, bool[] written)
        {
            int d = _d, kvh = h / (p.Heads / p.KvHeads);
            int row0 = p.SeqQStart[s], qLen = p.SeqQStart[s + 1] - row0;
            int rows = Math.Min(BlockRows, qLen - q0), pos0 = p.SeqPos[s];
            bool hasVisual = p.VisLens is not null && p.VisK is not null && p.VisK[s] is not null;

            // Per-row visibility, then the CTA's key ranges (the atomicMax over every thread's two rows).
            int visMax = 0, textMax = 0;
            for (int r = 0; r < BlockRows; r++)
            {
                bool valid = r < rows;
                _vis[r] = valid && hasVisual ? p.VisLens![row0 + q0 + r] : 0;
                _text[r] = !valid || p.TextMode == 0 ? 0 : p.TextMode == 1 ? pos0 + q0 + r + 1 : pos0 + qLen;
                visMax = Math.Max(visMax, _vis[r]);
                textMax = Math.Max(textMax, _text[r]);
            }
            if (mutation.HasFlag(TilingMutation.DropVisualTiles)) visMax = 0;
            int visTiles = (visMax + bc - 1) / bc, textTiles = (textMax + bc - 1) / bc, nTiles = visTiles + textTiles;
            float[]? visK = visMax > 0 ? p.VisK![s] : null, visV = visMax > 0 ? p.VisV![s] : null;
            int visStride = visMax > 0 ? p.VisTokens![s] : 0;
            int kStart = p.BlockTables is null ? p.SeqKStart![s] : 0;

            // Q tile: rows past the sequence are zero (they are fully masked and write nothing; the model skips them).
            for (int r = 0; r < rows; r++) p.Q.AsSpan((row0 + q0 + r) * p.QStride + h * d, d).CopyTo(_q.AsSpan(r * d, d));
            Array.Clear(_o);
            Array.Fill(_m, float.NegativeInfinity);
            Array.Clear(_l);

            for (int i = 0; i < nTiles; i++)
            {
                bool visual = i < visTiles;
                int key0 = visual ? i * bc : (i - visTiles) * bc;
                int valid = visual ? Math.Min(bc, visMax - key0) : Math.Min(bc, textMax - key0);
                if (visual)
                {
                    LoadTile(_k, valid, r => (visK!, (kvh * visStride + key0 + r) * d));
                    LoadTile(_v, valid, r => (visV!, (kvh * visStride + key0 + r) * d));
                }
                else
                {
                    LoadTile(_k, valid, r => (p.K, TextRow(s, kvh, kStart, key0 + r)));
                    LoadTile(_v, valid, r => (p.V, TextRow(s, kvh, kStart, key0 + r)));
                }

                for (int r = 0; r < rows; r++)
                {
                    // S = Q·K(i)ᵀ (fp32 accumulation), mask, scale to the exp2 domain, tile max.
                    var qr = _q.AsSpan(r * d, d);
                    int limit = visual ? _vis[r] : _text[r];
                    float mNew = _m[r];
                    for (int c = 0; c < bc; c++)
                    {
                        float dot = 0f;
                        if (c < valid)
                        {
                            var kc = _k.AsSpan(c * d, d);
                            for (int e = 0; e < d; e++) dot += qr[e] * kc[e];
                        }
                        // The kernel keeps maxima on the raw scores and folds the scale into one FFMA per element.
                        float v = key0 + c < limit ? dot : float.NegativeInfinity;
                        _s[c] = v;
                        mNew = KernelMath.Fmaxf(mNew, v);
                    }
                    float corr = mutation.HasFlag(TilingMutation.SkipOnlineRescale) || float.IsNegativeInfinity(_m[r]) ? (float.IsNegativeInfinity(_m[r]) ? 0f : 1f)
                        : KernelMath.Exp2f((_m[r] - mNew) * p.ScaleLog2);
                    _m[r] = mNew;
                    float rowSum = 0f, b = KernelMath.SoftmaxBase(mNew) * p.ScaleLog2;
                    for (int c = 0; c < bc; c++)
                    {
                        float pr = KernelMath.Exp2f(MathF.FusedMultiplyAdd(_s[c], p.ScaleLog2, -b)); // masked: exp2(−inf) = 0
                        _s[c] = pr;
                        rowSum += pr;
                    }
                    _l[r] = _l[r] * corr + rowSum;
                    var orow = _o.AsSpan(r * d, d);
                    for (int e = 0; e < d; e++) orow[e] *= corr;
                    // O += bf16(P) · V(i); rows of V past `valid` are zero in shared memory (and P is 0 there).
                    for (int c = 0; c < valid; c++)
                    {
                        float pb = KernelMath.Bf16(_s[c]);
                        var vc = _v.AsSpan(c * d, d);
                        for (int e = 0; e < d; e++) orow[e] += pb * vc[e];
                    }
                }
            }

            for (int r = 0; r < rows; r++)
            {
                int row = row0 + q0 + r;
                if (written[row * p.Heads + h]) throw new InvalidOperationException($"row {row} head {h} written by two CTAs");
                written[row * p.Heads + h] = true;
                float inv = _l[r] > 0f ? 1f / _l[r] : 0f;
                for (int e = 0; e < d; e++) output[row * p.OStride + h * d + e] = Round(_o[r * d + e] * inv);
            }
        }

        private float Round(float x) => roundOutput ? KernelMath.Bf16(x) : x;

        /// <summary>Element offset of text key j's row for KV head kvh: through the block table, or a dense row.</summary>
        private int TextRow(int s, int kvh, int kStart, int j)
        {
            if (p.BlockTables is null) return (kStart + j) * p.KvStride + kvh * _d;
            int block = p.BlockTables[s * p.MaxBlocks + j / p.BlockSize];
            return ((block * p.BlockSize + j % p.BlockSize) * p.KvHeads + kvh) * _d;
        }

        /// <summary>load_tile: rows below <paramref name="valid"/> from memory, the rest zero (never read).</summary>
        private void LoadTile(float[] dst, int valid, Func<int, (float[] Src, int Offset)> rowOf)
        {
            Array.Clear(dst);
            for (int r = 0; r < valid; r++)
            {
                var (src, off) = rowOf(r);
                src.AsSpan(off, _d).CopyTo(dst.AsSpan(r * _d, _d));
            }
        }
    }
}
