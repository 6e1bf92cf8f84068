using Owl3Native.Cuda.Kernels;

namespace Owl3Native.Cuda.Tests.Attention;

/// <summary>
/// The inputs of attention_decode_paged_bf16 / attention_decode_combine_bf16, field for field as DecodeParams
/// (kernels/attention_decode_paged.cu); tensors are fp32 arrays holding bf16 values.
/// </summary>
public sealed record DecodeModelParams
{
    /// <summary>[seqs, q_stride]; head h at column h·D.</summary>
    public required float[] Q { get; init; }
    /// <summary>[numBlocks, blockSize, kvHeads, D].</summary>
    public required float[] KCache { get; init; }
    public required float[] VCache { get; init; }
    /// <summary>[seqs, MaxBlocks].</summary>
    public required int[] BlockTables { get; init; }
    /// <summary>[seqs] text keys (the current token included); 0 = cross-attention.</summary>
    public required int[] TextLens { get; init; }
    /// <summary>[seqs] visible visual keys (null = none anywhere).</summary>
    public int[]? VisLens { get; init; }
    /// <summary>[seqs] visual key slabs [kvHeads, VisTokens[s], D] (null entry = none).</summary>
    public float[]?[]? VisK { get; init; }
    public float[]?[]? VisV { get; init; }
    public int[]? VisTokens { get; init; }
    public required int Seqs { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int BlockSize { get; init; }
    public required int MaxBlocks { get; init; }
    public required int Splits { get; init; }
    public required int SplitKeys { get; init; }
    public required int QStride { get; init; }
    public required int OStride { get; init; }
    public required float ScaleLog2 { get; init; }
}

/// <summary>What the two decode kernels leave in memory: the bf16 output and (splits &gt; 1) the fp32 partials.</summary>
public sealed record DecodeModelResult(float[] Output, float[] PartO, float[] PartMl);

/// <summary>
/// A scalar model of the split-K decode (kernels/attention_decode_paged.cu). CTA (kvh, s, z) covers virtual keys
/// [z·split_keys, min(total, (z+1)·split_keys)) of the list [visual 0..vis_len ; text 0..text_len) (text rows through
/// the block table). Inside a CTA, the kernel's lanes: D/8 lanes per key row rounded up to a power of two (lpk), 32/lpk
/// row slots per warp, 4 warps; slot (w, sl) reads keys begin + w·slots + sl + n·(4·slots) in order of n, each lane a
/// partial dot of its 8 dims against the query pre-scaled by scale_log2, reduced by the xor butterfly; every slot
/// keeps its own online state (m, l, acc) with P in fp32 (no bf16 rounding in decode). Slots merge by the butterfly
/// over the slot bits, warps through shared memory (in warp order), each rescaled to the common max by softmax_rescale.
/// One split writes bf16 O = of / lf (0 when lf = 0); several write (o, m, l) partials, merged by the combine kernel.
/// </summary>
public static class DecodeTilingModel
{
    /// <summary>DECODE_WARPS.</summary>
    public const int Warps = 4;

    /// <summary>DECODE_MAX_GROUP: query heads per KV head the kernel serves.</summary>
    public const int MaxGroup = 8;

    /// <summary>
    /// Both kernels (the combine only when Splits &gt; 1). Unwritten elements stay NaN. <paramref name="roundOutput"/>
    /// false keeps the fp32 output values the kernels round in their last instruction (a sharper check).
    /// </summary>
    public static DecodeModelResult Run(DecodeModelParams p, TilingMutation mutation = TilingMutation.None, bool roundOutput = true)
    {
        int d = p.HeadDim, group = p.Heads / p.KvHeads;
        AttentionKernels.PrefillDim(d); // the launcher's head-dim check: a multiple of 8 up to 256
        if (p.Heads % p.KvHeads != 0 || group > MaxGroup) throw new ArgumentException($"{p.Heads} heads over {p.KvHeads} KV heads");
        var o = new float[p.Seqs * p.OStride];
        var partO = new float[p.Seqs * p.Heads * p.Splits * d];
        var partMl = new float[p.Seqs * p.Heads * p.Splits * 2];
        Array.Fill(o, float.NaN);
        Array.Fill(partO, float.NaN);
        Array.Fill(partMl, float.NaN);
        for (int z = 0; z < p.Splits; z++)
            for (int s = 0; s < p.Seqs; s++)
                for (int kvh = 0; kvh < p.KvHeads; kvh++)
                    SplitCta(p, kvh, s, z, o, partO, partMl, mutation, roundOutput);
        if (p.Splits > 1)
            for (int s = 0; s < p.Seqs; s++)
                for (int h = 0; h < p.Heads; h++)
                    Combine(p, h, s, o, partO, partMl, mutation, roundOutput);
        return new DecodeModelResult(o, partO, partMl);
    }

    /// <summary>Lanes per key row (D/8 rounded up to a power of two).</summary>
    public static int LanesPerKey(int headDim)
    {
        int lpk = 1;
        while (lpk * 8 < headDim) lpk <<= 1;
        return lpk;
    }

    private static void SplitCta(DecodeModelParams p, int kvh, int s, int z, float[] o, float[] partO, float[] partMl, TilingMutation mutation, bool roundOutput)
    {
        int d = p.HeadDim, group = p.Heads / p.KvHeads;
        bool hasVisual = p.VisLens is not null && p.VisK is not null && p.VisK[s] is not null
            && !mutation.HasFlag(TilingMutation.DropVisualTiles);
        int visLen = hasVisual ? p.VisLens![s] : 0;
        int total = visLen + p.TextLens[s];
        int begin = z * p.SplitKeys, end = Math.Min(total, begin + p.SplitKeys);
        float[]? visK = visLen > 0 ? p.VisK![s] : null, visV = visLen > 0 ? p.VisV![s] : null;
        int visTokens = visLen > 0 ? p.VisTokens![s] : 0;

        // q_s: the group's queries, pre-scaled into the exp2 domain (fp32).
        var qs = new float[group * d];
        for (int i = 0; i < group * d; i++)
            qs[i] = p.Q[s * p.QStride + (kvh * group + i / d) * d + i % d] * p.ScaleLog2;

        int lpk = LanesPerKey(d), slots = 32 / lpk, step = Warps * slots;
        // Per (warp, slot, head of the group): the slot's online state. acc holds the dims of all lanes of the slot.
        var m = new float[Warps, slots, group];
        var l = new float[Warps, slots, group];
        var acc = new float[Warps, slots, group, d];
        var partial = new float[lpk];
        for (int w = 0; w < Warps; w++)
            for (int sl = 0; sl < slots; sl++)
                for (int g = 0; g < group; g++) m[w, sl, g] = float.NegativeInfinity;

        for (int w = 0; w < Warps; w++)
            for (int sl = 0; sl < slots; sl++)
                for (int j = begin + w * slots + sl; j < end; j += step)
                {
                    var (kArr, kOff) = Row(p, p.KCache, visK, s, kvh, visLen, visTokens, j);
                    var (vArr, vOff) = Row(p, p.VCache, visV, s, kvh, visLen, visTokens, j);
                    for (int g = 0; g < group; g++)
                    {
                        // Each lane's 8-term dot (lanes past D contribute 0), then the xor butterfly over the row's lanes.
                        for (int lane = 0; lane < lpk; lane++)
                        {
                            float dotLane = 0f;
                            if (lane * 8 < d)
                            {
                                dotLane = qs[g * d + lane * 8] * kArr[kOff + lane * 8];
                                for (int e = 1; e < 8; e++) dotLane += qs[g * d + lane * 8 + e] * kArr[kOff + lane * 8 + e];
                            }
                            partial[lane] = dotLane;
                        }
                        float dot = Butterfly(partial, lpk, lpk >> 1, descending: true);
                        float mNew = KernelMath.Fmaxf(m[w, sl, g], dot);
                        float corr = mutation.HasFlag(TilingMutation.SkipOnlineRescale) ? 1f : KernelMath.SoftmaxRescale(m[w, sl, g], mNew);
                        float pr = KernelMath.Exp2f(dot - mNew);
                        l[w, sl, g] = l[w, sl, g] * corr + pr;
                        for (int e = 0; e < d; e++) acc[w, sl, g, e] = acc[w, sl, g, e] * corr + pr * vArr[vOff + e];
                        m[w, sl, g] = mNew;
                    }
                }

        bool skipMerge = mutation.HasFlag(TilingMutation.SkipMergeRescale);
        var vals = new float[slots];
        for (int g = 0; g < group; g++)
        {
            // Slots of a warp: butterfly over the slot bits (lane offsets lpk, 2·lpk, …), each state rescaled to the warp max.
            var mS = new float[Warps];
            var lS = new float[Warps];
            var accS = new float[Warps, d];
            for (int w = 0; w < Warps; w++)
            {
                float mw = float.NegativeInfinity;
                for (int sl = 0; sl < slots; sl++) mw = KernelMath.Fmaxf(mw, m[w, sl, g]);
                var c = new float[slots];
                for (int sl = 0; sl < slots; sl++) c[sl] = skipMerge ? 1f : KernelMath.SoftmaxRescale(m[w, sl, g], mw);
                for (int sl = 0; sl < slots; sl++) vals[sl] = l[w, sl, g] * c[sl];
                lS[w] = Butterfly(vals, slots, 1, descending: false);
                for (int e = 0; e < d; e++)
                {
                    for (int sl = 0; sl < slots; sl++) vals[sl] = acc[w, sl, g, e] * c[sl];
                    accS[w, e] = Butterfly(vals, slots, 1, descending: false);
                }
                mS[w] = mw;
            }
            // Warps through shared memory, in warp order.
            float mf = float.NegativeInfinity;
            for (int w = 0; w < Warps; w++) mf = KernelMath.Fmaxf(mf, mS[w]);
            float lf = 0f;
            for (int w = 0; w < Warps; w++) lf += lS[w] * (skipMerge ? 1f : KernelMath.SoftmaxRescale(mS[w], mf));
            int h = kvh * group + g;
            long part = ((long)s * p.Heads + h) * p.Splits + z;
            for (int e = 0; e < d; e++)
            {
                float of = 0f;
                for (int w = 0; w < Warps; w++) of += accS[w, e] * (skipMerge ? 1f : KernelMath.SoftmaxRescale(mS[w], mf));
                if (p.Splits == 1)
                    o[s * p.OStride + h * d + e] = Round(lf > 0f ? of / lf : 0f, roundOutput);
                else
                    partO[part * d + e] = of;
            }
            if (p.Splits > 1)
            {
                partMl[part * 2] = mf;
                partMl[part * 2 + 1] = lf;
            }
        }
    }

    /// <summary>attention_decode_combine_bf16: every split's (o, m, l) rescaled to the largest m, summed in split order.</summary>
    private static void Combine(DecodeModelParams p, int h, int s, float[] o, float[] partO, float[] partMl, TilingMutation mutation, bool roundOutput)
    {
        int d = p.HeadDim;
        long row = (long)s * p.Heads + h;
        bool skipMerge = mutation.HasFlag(TilingMutation.SkipMergeRescale);
        float mf = float.NegativeInfinity;
        for (int z = 0; z < p.Splits; z++) mf = KernelMath.Fmaxf(mf, partMl[(row * p.Splits + z) * 2]);
        float lf = 0f;
        for (int z = 0; z < p.Splits; z++)
            lf += partMl[(row * p.Splits + z) * 2 + 1] * (skipMerge ? 1f : KernelMath.SoftmaxRescale(partMl[(row * p.Splits + z) * 2], mf));
        for (int e = 0; e < d; e++)
        {
            float of = 0f;
            for (int z = 0; z < p.Splits; z++)
                of += partO[(row * p.Splits + z) * d + e] * (skipMerge ? 1f : KernelMath.SoftmaxRescale(partMl[(row * p.Splits + z) * 2], mf));
            o[s * p.OStride + h * d + e] = Round(lf > 0f ? of / lf : 0f, roundOutput);
        }
    }

    private static float Round(float x, bool roundOutput) => roundOutput ? KernelMath.Bf16(x) : x;

    /// <summary>decode_row: virtual key j's row for KV head kvh (visual rows first, then paged text rows).</summary>
    private static (float[] Array, int Offset) Row(DecodeModelParams p, float[] cache, float[]? vis, int s, int kvh, int visLen, int visTokens, int j)
    {
        if (j < visLen) return (vis!, (kvh * visTokens + j) * p.HeadDim);
        int t = j - visLen;
        int block = p.BlockTables[s * p.MaxBlocks + t / p.BlockSize];
        return (cache, ((block * p.BlockSize + t % p.BlockSize) * p.KvHeads + kvh) * p.HeadDim);
    }

    /// <summary>
    /// The __shfl_xor_sync sum of <paramref name="n"/> lanes' values, as lane 0 ends it: offsets from
    /// <paramref name="first"/> down to 1 (the dot of a row) or from 1 up to n/2 (the slot merge).
    /// </summary>
    private static float Butterfly(float[] values, int n, int first, bool descending)
    {
        var v = values.AsSpan(0, n).ToArray();
        var next = new float[n];
        for (int off = first; descending ? off > 0 : off < n; off = descending ? off >> 1 : off << 1)
        {
            for (int i = 0; i < n; i++) next[i] = v[i] + v[i ^ off];
            (v, next) = (next, v);
        }
        return v[0];
    }
}
