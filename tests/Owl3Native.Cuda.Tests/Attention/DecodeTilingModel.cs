using Owl3Native.Cuda.Kernels;

namespace Owl3Native.Cuda.Tests.Attention;

/// <summary>
/// The inputs of attention_decode_paged_bf16 / attention_decode_tc_d*_bf16 / attention_decode_combine_bf16, field for
/// field as DecodeParams (kernels/attention_decode_paged.cu); tensors are fp32 arrays holding bf16 values.
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
/// Scalar models of the split-K decode (kernels/attention_decode_paged.cu, attention_decode_cluster.cu), one per kernel of
/// <see cref="DecodeKernel"/>. Both kernels share the launch: CTA (kvh, s, z) covers virtual keys
/// [z·split_keys, min(total, (z+1)·split_keys)) of the list [visual 0..vis_len ; text 0..text_len) (visual rows from
/// the slab [kvHeads, vis_tokens, D], text rows through the block table), serves every query head of its GQA group
/// and writes bf16 O = of / lf (0 when lf = 0) when splits == 1, otherwise (o, m, l) partials merged by
/// attention_decode_combine_bf16.
///
/// attention_decode_paged_bf16 (CUDA cores): D/8 lanes per key row rounded up to a power of two (lpk), 32/lpk row slots
/// per warp, 4 warps; slot (w, sl) reads keys begin + w·slots + sl + n·(4·slots) in order of n, each lane a partial dot
/// of its 8 dims against the query pre-scaled by scale_log2, reduced by the xor butterfly; every slot keeps its own
/// online state (m, l, acc) with P in fp32 (no bf16 rounding). Slots merge by the butterfly over the slot bits, warps
/// through shared memory (in warp order), each rescaled to the common max by softmax_rescale.
///
/// attention_decode_tc_d{DP}_bf16 (tensor cores): tiles of 64 virtual keys from the split's begin (decode_tc_load
/// zero-fills keys ≥ end and dims ≥ D, so they are never read); warp w owns keys 16w..16w+15 of each tile; the rows of
/// its m16 tile are the group's query heads (rows past the group are zero queries whose results are never written, so
/// the model leaves them out). Per warp and row: S = Q·Kᵀ as DP/16 mma k-steps into an fp32 accumulator, times
/// scale_log2; keys ≥ end masked to −inf; online softmax (softmax_base / softmax_rescale); the row sum from the fp32 P
/// in the lanes' order (each lane of the quad sums its keys 2c, 2c+1, 8+2c, 9+2c, then the xor-1 / xor-2 shuffles);
/// O rescaled by corr, then O += bf16(P)·V (pack_bf16x2: round to nearest even) as one mma per 8 dims. An mma is
/// modelled as exact products summed and added to the accumulator with one fp32 rounding: the order and truncation
/// inside the tensor core are the hardware's, not the kernel's. The four warps merge through shared memory as the
/// CUDA-core kernel's warps do. FMA contraction by the compiler is modelled in neither kernel. The 3-stage instantiations
/// (attention_decode_tc_s3_d*, attention_decode_cluster_s3_d*) compute the same tiles in the same order — a deeper ring
/// of loads is a schedule, not arithmetic — so this model is theirs too.
///
/// attention_decode_cluster_d{DP}_bf16 (attention_decode_cluster.cu): the tensor-core CTAs, each keeping its (o, m, l)
/// (even with one split), merged per (sequence, KV head) by decode_combine_cluster — the arithmetic and order of
/// decode_combine_group, which the fused combine of the tensor-core kernel also runs.
/// </summary>
public static class DecodeTilingModel
{
    /// <summary>DECODE_WARPS.</summary>
    public const int Warps = 4;

    /// <summary>DECODE_MAX_GROUP: query heads per KV head the CUDA-core kernel serves.</summary>
    public const int MaxGroup = 8;

    /// <summary>Query heads per KV head the tensor-core kernel serves: the rows of one m16 tile.</summary>
    public const int TensorCoreMaxGroup = 16;

    /// <summary>DECODE_TC_KEYS: virtual keys per tensor-core tile, 16 per warp.</summary>
    public const int TensorCoreKeys = 64;

    /// <summary>The largest GQA group <paramref name="kernel"/> serves (the launcher's check).</summary>
    public static int MaxGroupOf(DecodeKernel kernel) => kernel == DecodeKernel.CudaCore ? MaxGroup : TensorCoreMaxGroup;

    /// <summary>
    /// The launch of <paramref name="kernel"/>, then the combine when Splits &gt; 1. Unwritten elements stay NaN.
    /// <paramref name="roundOutput"/> false keeps the fp32 output values the kernels round in their last instruction
    /// (a sharper check).
    /// </summary>
    /// <exception cref="ArgumentException">The head dim or the GQA group is one the launcher refuses for this kernel.</exception>
    /// <remarks>
    /// <paramref name="fusedCombineOrder"/> models the tensor-core kernel with split counters: the CTAs finish in the
    /// order this seed shuffles them, each takes a ticket of its (sequence, KV head) counter, and the one whose ticket is
    /// the last merges the group's heads at once (partials still NaN there would reach the output); the counters must
    /// end at zero. <paramref name="counters"/> receives them.
    /// </remarks>
    public static DecodeModelResult Run(DecodeModelParams p, DecodeKernel kernel, TilingMutation mutation = TilingMutation.None, bool roundOutput = true,
        int? fusedCombineOrder = null, int[]? counters = null)
    {
        int d = p.HeadDim, group = p.Heads / p.KvHeads;
        AttentionKernels.PrefillDim(d); // the launcher's head-dim check: a multiple of 8 up to 256
        if (p.Heads % p.KvHeads != 0 || group > MaxGroupOf(kernel))
            throw new ArgumentException($"{kernel} decode serves GQA groups of at most {MaxGroupOf(kernel)}; got {p.Heads} heads over {p.KvHeads} KV heads");
        var o = new float[p.Seqs * p.OStride];
        var partO = new float[p.Seqs * p.Heads * p.Splits * d];
        var partMl = new float[p.Seqs * p.Heads * p.Splits * 2];
        Array.Fill(o, float.NaN);
        Array.Fill(partO, float.NaN);
        Array.Fill(partMl, float.NaN);
        if (kernel == DecodeKernel.TensorCoreCluster)
        {
            // attention_decode_cluster_d*_bf16: the tensor-core CTAs' partials stay in each CTA's shared memory (never in
            // partO/partMl, which stay NaN), then the cluster of (s, kvh) merges them as decode_combine_group does.
            if (p.Splits > AttentionKernels.MaxClusterSplits) throw new ArgumentException($"{p.Splits} splits > {AttentionKernels.MaxClusterSplits}, the largest cluster");
            var clusterO = new float[partO.Length];
            var clusterMl = new float[partMl.Length];
            Array.Fill(clusterO, float.NaN);
            Array.Fill(clusterMl, float.NaN);
            for (int s = 0; s < p.Seqs; s++)
                for (int kvh = 0; kvh < p.KvHeads; kvh++)
                {
                    for (int z = 0; z < p.Splits; z++) TensorCoreCta(p, kvh, s, z, o, clusterO, clusterMl, mutation, roundOutput, toPartials: true);
                    CombineGroup(p, s, kvh, o, clusterO, clusterMl, mutation, roundOutput);
                }
            return new DecodeModelResult(o, partO, partMl);
        }
        if (fusedCombineOrder is { } order && p.Splits > 1)
        {
            if (kernel != DecodeKernel.TensorCore) throw new ArgumentException("only the tensor-core kernel merges its own splits");
            counters ??= new int[p.Seqs * p.KvHeads];
            var ctas = (from z in Enumerable.Range(0, p.Splits) from s in Enumerable.Range(0, p.Seqs) from kvh in Enumerable.Range(0, p.KvHeads) select (z, s, kvh)).ToArray();
            new Random(order).Shuffle(ctas);
            foreach (var (z, s, kvh) in ctas)
            {
                TensorCoreCta(p, kvh, s, z, o, partO, partMl, mutation, roundOutput);
                int c = s * p.KvHeads + kvh;
                bool last = counters[c]++ == p.Splits - 1; // atomicAdd returns the old value
                if (!last) continue;
                counters[c] = 0;
                CombineGroup(p, s, kvh, o, partO, partMl, mutation, roundOutput);
            }
            return new DecodeModelResult(o, partO, partMl);
        }
        for (int z = 0; z < p.Splits; z++)
            for (int s = 0; s < p.Seqs; s++)
                for (int kvh = 0; kvh < p.KvHeads; kvh++)
                    if (kernel == DecodeKernel.TensorCore) TensorCoreCta(p, kvh, s, z, o, partO, partMl, mutation, roundOutput);
                    else SplitCta(p, kvh, s, z, o, partO, partMl, mutation, roundOutput);
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

    /// <summary>
    /// One CTA of attention_decode_tc_d{DP}_bf16 (decode_tc&lt;DP&gt;): the same key range as <see cref="SplitCta"/>,
    /// 64-key tiles, warp w on keys 16w..16w+15 of each, the group's heads as the rows of the warp's m16 tile.
    /// </summary>
    private static void TensorCoreCta(DecodeModelParams p, int kvh, int s, int z, float[] o, float[] partO, float[] partMl, TilingMutation mutation, bool roundOutput,
        bool toPartials = false)
    {
        // toPartials: the cluster form, which keeps (o, m, l) for the merge even with one split.
        bool partial = toPartials || p.Splits > 1;
        const int WarpKeys = TensorCoreKeys / Warps; // 16: one mma n-pair (S) / k-step (P·V) per warp
        int d = p.HeadDim, dp = AttentionKernels.PrefillDim(d), group = p.Heads / p.KvHeads;
        bool hasVisual = p.VisLens is not null && p.VisK is not null && p.VisK[s] is not null
            && !mutation.HasFlag(TilingMutation.DropVisualTiles);
        int visLen = hasVisual ? p.VisLens![s] : 0;
        int total = visLen + p.TextLens[s];
        int begin = z * p.SplitKeys, end = Math.Min(total, begin + p.SplitKeys);
        float[]? visK = visLen > 0 ? p.VisK![s] : null, visV = visLen > 0 ? p.VisV![s] : null;
        int visTokens = visLen > 0 ? p.VisTokens![s] : 0;
        int nTiles = end > begin ? (end - begin + TensorCoreKeys - 1) / TensorCoreKeys : 0;

        // qa: the group's queries as bf16 A fragments (not pre-scaled), columns ≥ D zero.
        var q = new float[group * dp];
        for (int r = 0; r < group; r++)
            p.Q.AsSpan(s * p.QStride + (kvh * group + r) * d, d).CopyTo(q.AsSpan(r * dp, d));

        var kTile = new float[TensorCoreKeys * dp];
        var vTile = new float[TensorCoreKeys * dp];
        var m = new float[Warps * group];
        var l = new float[Warps * group];
        var oAcc = new float[Warps * group * d]; // dims D..DP of O stay 0 (V is zero there) and are never read
        Array.Fill(m, float.NegativeInfinity);
        var sc = new float[WarpKeys];
        var pb = new float[WarpKeys];
        var quad = new float[4];
        bool skipRescale = mutation.HasFlag(TilingMutation.SkipOnlineRescale);

        for (int i = 0; i < nTiles; i++)
        {
            int j0 = begin + i * TensorCoreKeys;
            LoadTensorCoreTile(p, kTile, vTile, dp, j0, end, s, kvh, visLen, visTokens, visK, visV);
            for (int w = 0; w < Warps; w++)
            {
                int key0 = j0 + w * WarpKeys;
                for (int r = 0; r < group; r++)
                {
                    int st = w * group + r;
                    // S = Q·Kᵀ: DP/16 k-steps, each mma adding its 16 products to the fp32 accumulator.
                    float mNew = m[st];
                    for (int kk = 0; kk < WarpKeys; kk++)
                    {
                        float acc = 0f;
                        int kRow = (w * WarpKeys + kk) * dp;
                        for (int ks = 0; ks < dp; ks += 16)
                        {
                            double sum = 0;
                            for (int e = ks; e < ks + 16; e++) sum += (double)q[r * dp + e] * kTile[kRow + e];
                            acc = (float)(acc + sum);
                        }
                        float v = key0 + kk < end ? acc * p.ScaleLog2 : float.NegativeInfinity;
                        sc[kk] = v;
                        mNew = KernelMath.Fmaxf(mNew, v);
                    }
                    float corr = skipRescale ? 1f : KernelMath.SoftmaxRescale(m[st], mNew);
                    m[st] = mNew;
                    float b = KernelMath.SoftmaxBase(mNew);
                    for (int kk = 0; kk < WarpKeys; kk++) sc[kk] = KernelMath.Exp2f(sc[kk] - b); // masked: 0
                    // Row sum: lane c of the quad holds keys 2c, 2c+1 (n-tile 0) and 8+2c, 9+2c (n-tile 1), summed in
                    // that order from 0; the shuffles xor 1 then xor 2 give (v0 + v1) + (v2 + v3) in every lane.
                    for (int c = 0; c < 4; c++)
                    {
                        float part = 0f;
                        part += sc[2 * c];
                        part += sc[2 * c + 1];
                        part += sc[8 + 2 * c];
                        part += sc[9 + 2 * c];
                        quad[c] = part;
                    }
                    float rowSum = (quad[0] + quad[1]) + (quad[2] + quad[3]);
                    l[st] = l[st] * corr + rowSum;
                    // O = O·corr, then one mma per 8 dims: O += bf16(P)·V over the warp's 16 keys.
                    for (int kk = 0; kk < WarpKeys; kk++) pb[kk] = KernelMath.Bf16(sc[kk]);
                    var orow = oAcc.AsSpan(st * d, d);
                    for (int e = 0; e < d; e++)
                    {
                        float oe = orow[e] * corr;
                        double sum = 0;
                        for (int kk = 0; kk < WarpKeys; kk++) sum += (double)pb[kk] * vTile[(w * WarpKeys + kk) * dp + e];
                        orow[e] = (float)(oe + sum);
                    }
                }
            }
        }

        // The warps' states merge through shared memory, in warp order, each rescaled to the common max.
        bool skipMerge = mutation.HasFlag(TilingMutation.SkipMergeRescale);
        var rescale = new float[Warps];
        for (int r = 0; r < group; r++)
        {
            float mf = float.NegativeInfinity;
            for (int w = 0; w < Warps; w++) mf = KernelMath.Fmaxf(mf, m[w * group + r]);
            float lf = 0f;
            for (int w = 0; w < Warps; w++)
            {
                rescale[w] = skipMerge ? 1f : KernelMath.SoftmaxRescale(m[w * group + r], mf);
                lf += l[w * group + r] * rescale[w];
            }
            int h = kvh * group + r;
            long part = ((long)s * p.Heads + h) * p.Splits + z;
            for (int e = 0; e < d; e++)
            {
                float of = 0f;
                for (int w = 0; w < Warps; w++) of += oAcc[(w * group + r) * d + e] * rescale[w];
                if (!partial)
                    o[s * p.OStride + h * d + e] = Round(lf > 0f ? of / lf : 0f, roundOutput);
                else
                    partO[part * d + e] = of;
            }
            if (partial)
            {
                partMl[part * 2] = mf;
                partMl[part * 2 + 1] = lf;
            }
        }
    }

    /// <summary>
    /// decode_tc_load: the 64 key rows from <paramref name="j0"/> into the K and V tiles [64][DP] (the kernel's row
    /// padding of 8 carries nothing); a row's 8-dim chunk is copied when j &lt; end and its columns &lt; D, else zero-filled
    /// without a read (cp.async with 0 source bytes).
    /// </summary>
    private static void LoadTensorCoreTile(DecodeModelParams p, float[] kTile, float[] vTile, int dp, int j0, int end, int s, int kvh,
        int visLen, int visTokens, float[]? visK, float[]? visV)
    {
        int d = p.HeadDim;
        Array.Clear(kTile);
        Array.Clear(vTile);
        for (int r = 0; r < TensorCoreKeys && j0 + r < end; r++)
        {
            // One address computation (one block-table read) serves the K and the V row.
            int j = j0 + r;
            float[] kSrc, vSrc;
            int off;
            if (j < visLen)
            {
                (kSrc, vSrc, off) = (visK!, visV!, (kvh * visTokens + j) * d);
            }
            else
            {
                int t = j - visLen;
                int block = p.BlockTables[s * p.MaxBlocks + t / p.BlockSize];
                (kSrc, vSrc, off) = (p.KCache, p.VCache, ((block * p.BlockSize + t % p.BlockSize) * p.KvHeads + kvh) * d);
            }
            kSrc.AsSpan(off, d).CopyTo(kTile.AsSpan(r * dp, d));
            vSrc.AsSpan(off, d).CopyTo(vTile.AsSpan(r * dp, d));
        }
    }

    /// <summary>
    /// attention_decode_combine_bf16: every split's (o, m, l) rescaled to the largest m (weights computed once per
    /// split); warp w sums splits w, w + 4, … in order; the four warps' sums are added in warp order and scaled by 1 / l.
    /// </summary>
    private static void Combine(DecodeModelParams p, int h, int s, float[] o, float[] partO, float[] partMl, TilingMutation mutation, bool roundOutput)
    {
        const int warps = 4;
        int d = p.HeadDim;
        long row = (long)s * p.Heads + h;
        bool skipMerge = mutation.HasFlag(TilingMutation.SkipMergeRescale);
        float mf = float.NegativeInfinity;
        for (int z = 0; z < p.Splits; z++) mf = KernelMath.Fmaxf(mf, partMl[(row * p.Splits + z) * 2]);
        var w = new float[p.Splits];
        float lf = 0f;
        for (int z = 0; z < p.Splits; z++)
        {
            w[z] = skipMerge ? 1f : KernelMath.SoftmaxRescale(partMl[(row * p.Splits + z) * 2], mf);
            lf += partMl[(row * p.Splits + z) * 2 + 1] * w[z];
        }
        float inv = lf > 0f ? 1f / lf : 0f;
        for (int e = 0; e < d; e++)
        {
            float sum = 0f;
            for (int warp = 0; warp < warps; warp++)
            {
                float acc = 0f;
                for (int z = warp; z < p.Splits; z += warps) acc += partO[(row * p.Splits + z) * d + e] * w[z];
                sum += acc;
            }
            o[s * p.OStride + h * d + e] = Round(sum * inv, roundOutput);
        }
    }

    /// <summary>
    /// decode_combine_group (the fused combine's last CTA) and decode_combine_cluster (the cluster's CTAs), one GQA group
    /// of sequence s at once: per row, the max over the splits, and l = Σ_z l_z·exp2(m_z − m) summed by each lane over its
    /// splits z = lane + 32k (k ascending) and then by the warp's xor butterfly; per output element, the splits' partial
    /// o weighted by exp2(m_z − m) summed in split order, times 1 / l (0 when l = 0).
    /// </summary>
    private static void CombineGroup(DecodeModelParams p, int s, int kvh, float[] o, float[] partO, float[] partMl, TilingMutation mutation, bool roundOutput)
    {
        int d = p.HeadDim, group = p.Heads / p.KvHeads;
        bool skipMerge = mutation.HasFlag(TilingMutation.SkipMergeRescale);
        var lanes = new float[32];
        for (int r = 0; r < group; r++)
        {
            long row = (long)s * p.Heads + kvh * group + r;
            float m = float.NegativeInfinity;
            for (int z = 0; z < p.Splits; z++) m = KernelMath.Fmaxf(m, partMl[(row * p.Splits + z) * 2]);
            for (int lane = 0; lane < 32; lane++)
            {
                float l = 0f;
                for (int z = lane; z < p.Splits; z += 32)
                    l += partMl[(row * p.Splits + z) * 2 + 1] * (skipMerge ? 1f : KernelMath.SoftmaxRescale(partMl[(row * p.Splits + z) * 2], m));
                lanes[lane] = l;
            }
            float lf = Butterfly(lanes, 32, 16, descending: true);
            float inv = lf > 0f ? 1f / lf : 0f;
            for (int e = 0; e < d; e++)
            {
                float a = 0f;
                for (int z = 0; z < p.Splits; z++)
                    a += partO[(row * p.Splits + z) * d + e] * (skipMerge ? 1f : KernelMath.SoftmaxRescale(partMl[(row * p.Splits + z) * 2], m));
                o[s * p.OStride + (kvh * group + r) * d + e] = Round(a * inv, roundOutput);
            }
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
