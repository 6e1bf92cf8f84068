using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Owl3Native.Core.Backend;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.Cpu;

public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    /// <remarks>
    /// Per (group, head) as two GEMMs on the panel kernel: S = Q·Kᵀ (K's rows are the "weights"), a row softmax on S
    /// (vectorised exp), O = P·V (Vᵀ's rows are the "weights") — fp32 throughout. The SigLIP tower's attention
    /// (729 × 729 per head) was a dot product and an axpy call per key per query before: 10× slower on two cores.
    /// </remarks>
    public unsafe Tensor DenseAttention(Tensor q, Tensor k, Tensor v, int groupLength, int heads, int headDim)
    {
        if (q.Cols != heads * headDim || k.Cols != q.Cols || v.Cols != q.Cols || q.Rows % groupLength != 0 || k.Rows != q.Rows || v.Rows != q.Rows)
            throw new ArgumentException($"dense attention of {q}, {k}, {v} in groups of {groupLength}, {heads}×{headDim}");
        int groups = q.Rows / groupLength, n = groupLength, d = headDim;
        // The "weight" rows of both GEMMs padded with zero rows to whole 32-row panels (the panel kernel's unit): keys
        // n → np (extra score columns are ignored), dims d → dp (extra output columns are dropped).
        int np = Pad32(n), dp = Pad32(d);
        var y = new Tensor(q.Rows, q.Cols);
        float scale = 1f / MathF.Sqrt(headDim);
        ParallelChunks(groups * heads, (s, e) =>
        {
            // Pooled scratch (a 729-token crop needs ~3 MB per chunk: fresh arrays were zeroed large-object-heap
            // allocations that kept two threads from scaling).
            var pool = System.Buffers.ArrayPool<float>.Shared;
            float[] qh = pool.Rent(n * d), kh = pool.Rent(np * d), vt = pool.Rent(dp * n), scores = pool.Rent(n * np), oh = pool.Rent(n * dp);
            kh.AsSpan(n * d, (np - n) * d).Clear();   // K's padding rows
            vt.AsSpan(d * n, (dp - d) * n).Clear();   // Vᵀ's padding rows: row c holds dim c of every key
            try
            {
            fixed (float* pk = kh, pv = vt)
                for (int item = s; item < e; item++)
                {
                    int g = item / heads, h = item % heads, row0 = g * n;
                    for (int j = 0; j < n; j++)
                    {
                        q.Row(row0 + j).Slice(h * d, d).CopyTo(qh.AsSpan(j * d, d));
                        k.Row(row0 + j).Slice(h * d, d).CopyTo(kh.AsSpan(j * d, d));
                        var vj = v.Row(row0 + j).Slice(h * d, d);
                        for (int c = 0; c < d; c++) vt[c * n + j] = vj[c];
                    }
                    RowsGemm(qh, n, d, pk, np, scores, np);
                    for (int i = 0; i < n; i++)
                    {
                        var row = scores.AsSpan(i * np, n);
                        TensorPrimitives.Multiply(row, scale, row);
                        SoftmaxInPlace(row);
                    }
                    // P·V over the first n columns of each score row: the GEMM reads x with row stride = k, so the
                    // scores are compacted to n columns first (in place, row by row, front to back).
                    for (int i = 1; i < n; i++) scores.AsSpan(i * np, n).CopyTo(scores.AsSpan(i * n, n));
                    RowsGemm(scores, n, n, pv, dp, oh, dp);
                    for (int i = 0; i < n; i++) oh.AsSpan(i * dp, d).CopyTo(y.Row(row0 + i).Slice(h * d, d));
                }
            }
            finally
            {
                foreach (var a in new[] { qh, kh, vt, scores, oh }) pool.Return(a);
            }
        });
        return y;
    }

    private static int Pad32(int n) => (n + CpuGemmPanel.Rows - 1) / CpuGemmPanel.Rows * CpuGemmPanel.Rows;

    /// <summary>softmax of one row in place (fp32, max-subtracted, vectorised exp).</summary>
    private static void SoftmaxInPlace(Span<float> row)
    {
        float max = TensorPrimitives.Max(row);
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);
        TensorPrimitives.Multiply(row, 1f / TensorPrimitives.Sum(row), row);
    }

    /// <summary>out = Σ_j softmax(scores)_j · values[j] (fp32, max-subtracted).</summary>
    private static void SoftmaxWeightedSum(Span<float> scores, ReadOnlySpan<float> values, int headDim, Span<float> output)
    {
        float max = TensorPrimitives.Max(scores);
        float sum = 0;
        for (int j = 0; j < scores.Length; j++) sum += scores[j] = MathF.Exp(scores[j] - max);
        output.Clear();
        float inv = 1f / sum;
        for (int j = 0; j < scores.Length; j++)
            TensorPrimitives.MultiplyAdd(values.Slice(j * headDim, headDim), scores[j] * inv, output, output);
    }

    /// <inheritdoc/>
    public void WriteKv(AttentionBatch batch, int layer, Tensor k, Tensor v)
    {
        var cache = (CpuKvCache)batch.Cache;
        int stride = cache.TokenStride;
        if (k.Cols != stride || v.Cols != stride || k.Rows != batch.Tokens || v.Rows != batch.Tokens)
            throw new ArgumentException($"K/V rows {k}, {v} do not match the cache ({stride} per token) or the batch ({batch.Tokens} tokens)");
        foreach (var s in batch.Sequences)
            for (int i = 0; i < s.TokenCount; i++)
            {
                int dst = cache.Offset(s.BlockTable, s.CachedLength + i);
                k.Row(s.TokenStart + i).CopyTo(cache.K[layer].AsSpan(dst, stride));
                v.Row(s.TokenStart + i).CopyTo(cache.V[layer].AsSpan(dst, stride));
            }
    }

    /// <summary>Query rows per GEMM block (rows of one KV head's group × the sequence's new tokens).</summary>
    private const int RowBlock = 64;

    /// <summary>Each visual K/V's values transposed per KV head, `[kvHeads, headDim, imageTokens]` (the P·V GEMM's operand), made on first use.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<VisualKv, float[]> TransposedValues = new();

    /// <inheritdoc/>
    /// <remarks>
    /// Work items are (sequence, KV head). The sequence's text keys (positions 0 … TotalLength − 1, through the block
    /// table) are gathered once per item, keys as rows and values transposed; the group's query rows, token-major (so
    /// a block's causal range stays short), are taken in blocks. Per block: scores against the visible image tokens
    /// and against the text keys up to the block's last position are two GEMMs on the panel kernel (the tile kernel
    /// below 16 rows); one softmax per row over both, past-the-row keys at probability 0; then O = P_vis·V_img +
    /// P_text·V_text as two more GEMMs. Before, every key of every query head was a dot-product call and an axpy
    /// call (~140 ns a key): 4–5× slower for prefill and for decode with images.
    /// </remarks>
    public Tensor PagedAttention(Tensor q, AttentionBatch batch, int layer, int heads, bool fusedVisual)
    {
        var cache = (CpuKvCache)batch.Cache;
        int headDim = cache.HeadDim, group = heads / cache.KvHeads;
        if (q.Cols != heads * headDim || q.Rows != batch.Tokens)
            throw new ArgumentException($"paged attention: q {q} for {batch.Tokens} tokens of {heads}×{headDim}");
        var y = new Tensor(q.Rows, q.Cols);
        float scale = 1f / MathF.Sqrt(headDim);
        var items = GroupItems(batch, cache.KvHeads);
        ParallelChunks(items.Length, (s, e) =>
        {
            for (int it = s; it < e; it++)
            {
                var (seq, kvh) = items[it];
                AttendItem(q, seq, fusedVisual ? seq.Visual[layer] : null, cache, layer, kvh, group, headDim, scale, y);
            }
        });
        return y;
    }

    /// <inheritdoc/>
    public Tensor CrossAttention(Tensor q, AttentionBatch batch, int layer, int heads, Span<int> visibleCrops)
    {
        if (visibleCrops.Length != batch.Tokens) throw new ArgumentException("one visible-crop count per row");
        int headDim = batch.Cache.HeadDim, group = heads / batch.Cache.KvHeads;
        var y = new Tensor(q.Rows, q.Cols);
        foreach (var seq in batch.Sequences)
            for (int i = 0; i < seq.TokenCount; i++)
                visibleCrops[seq.TokenStart + i] = seq.Visual[layer]?.VisibleCrops(seq.CachedLength + i) ?? 0;
        float scale = 1f / MathF.Sqrt(headDim);
        var items = GroupItems(batch, batch.Cache.KvHeads);
        ParallelChunks(items.Length, (s, e) =>
        {
            for (int it = s; it < e; it++)
            {
                var (seq, kvh) = items[it];
                // Visual keys only; rows that see no crop keep zeros, and the mix leaves them alone.
                if (seq.Visual[layer] is { } visual) AttendItem(q, seq, visual, null, 0, kvh, group, headDim, scale, y);
            }
        });
        return y;
    }

    /// <summary>
    /// Attention of one (sequence, KV head) item's query rows — token-major: new token i, query head kvh·group + g —
    /// over the visible image tokens of <paramref name="visual"/> (if any) and, with <paramref name="cache"/>, the text
    /// keys 0 … t of each row, in one softmax; added into <paramref name="y"/>. A row that sees no key stays zero.
    /// Only keys some row of a block sees are read (crops not yet visible may not be finite).
    /// </summary>
    private unsafe void AttendItem(Tensor q, AttentionSequence seq, VisualKv? visual, CpuKvCache? cache, int layer, int kvh, int group, int headDim,
        float scale, Tensor y)
    {
        int rowsTotal = group * seq.TokenCount, tokens = visual?.ImageTokens ?? 0, nTot = cache is null ? 0 : seq.TotalLength;
        // A decode step's few rows (< 16) read the text keys in place, a dot product and an axpy each: gathering and
        // transposing the whole context every step would cost more than it saves there.
        bool gather = cache is not null && rowsTotal >= 16;
        var pool = System.Buffers.ArrayPool<float>.Shared;
        float[] xq = pool.Rent(RowBlock * headDim), o = pool.Rent(RowBlock * headDim);
        float[] pv = pool.Rent(Math.Max(1, RowBlock * tokens)), pt = pool.Rent(Math.Max(1, RowBlock * nTot));
        float[] kt = pool.Rent(gather ? nTot * headDim : 1), vtT = pool.Rent(gather ? nTot * headDim : 1);
        try
        {
            // The text keys as rows, the text values transposed ([headDim, nTot]).
            for (int j = 0; gather && j < nTot; j++)
            {
                int off = cache!.Offset(seq.BlockTable, j) + kvh * headDim;
                cache.K[layer].AsSpan(off, headDim).CopyTo(kt.AsSpan(j * headDim, headDim));
                var vj = cache.V[layer].AsSpan(off, headDim);
                for (int c = 0; c < headDim; c++) vtT[c * nTot + j] = vj[c];
            }
            for (int b0 = 0; b0 < rowsTotal; b0 += RowBlock)
            {
                int nb = Math.Min(RowBlock, rowsTotal - b0);
                int visMax = 0, tMax = 0;
                for (int r = 0; r < nb; r++)
                {
                    int t = seq.CachedLength + (b0 + r) / group;
                    if (visual is not null) visMax = Math.Max(visMax, VisibleTokens(visual, t));
                    if (cache is not null) tMax = Math.Max(tMax, t + 1);
                    q.Row(seq.TokenStart + (b0 + r) / group).Slice((kvh * group + (b0 + r) % group) * headDim, headDim).CopyTo(xq.AsSpan(r * headDim, headDim));
                }
                if (visMax > 0)
                {
                    fixed (float* keys = visual!.Keys.Data)
                        RowsGemm(xq, nb, headDim, keys + (long)kvh * tokens * headDim, visMax, pv, visMax);
                    TensorPrimitives.Multiply(pv.AsSpan(0, nb * visMax), scale, pv.AsSpan(0, nb * visMax));
                }
                if (tMax > 0 && gather)
                {
                    fixed (float* keys = kt)
                        RowsGemm(xq, nb, headDim, keys, tMax, pt, tMax);
                    TensorPrimitives.Multiply(pt.AsSpan(0, nb * tMax), scale, pt.AsSpan(0, nb * tMax));
                }
                else if (tMax > 0)
                    for (int r = 0; r < nb; r++)
                    {
                        int t = seq.CachedLength + (b0 + r) / group;
                        var qr = xq.AsSpan(r * headDim, headDim);
                        for (int j = 0; j <= t; j++)
                            pt[r * tMax + j] = TensorPrimitives.Dot(qr, cache!.K[layer].AsSpan(cache.Offset(seq.BlockTable, j) + kvh * headDim, headDim)) * scale;
                    }
                for (int r = 0; r < nb; r++)
                {
                    int t = seq.CachedLength + (b0 + r) / group;
                    int visible = visual is null ? 0 : VisibleTokens(visual, t), nText = cache is null ? 0 : t + 1;
                    var vis = pv.AsSpan(r * visMax, visible);
                    var txt = pt.AsSpan(r * tMax, nText);
                    if (visible + nText > 0)
                    {
                        float max = float.NegativeInfinity;
                        if (visible > 0) max = TensorPrimitives.Max(vis);
                        if (nText > 0) max = MathF.Max(max, TensorPrimitives.Max(txt));
                        TensorPrimitives.Subtract(vis, max, vis);
                        TensorPrimitives.Exp(vis, vis);
                        TensorPrimitives.Subtract(txt, max, txt);
                        TensorPrimitives.Exp(txt, txt);
                        float inv = 1f / (TensorPrimitives.Sum(vis) + TensorPrimitives.Sum(txt));
                        TensorPrimitives.Multiply(vis, inv, vis);
                        TensorPrimitives.Multiply(txt, inv, txt);
                    }
                    pv.AsSpan(r * visMax + visible, visMax - visible).Clear();
                    pt.AsSpan(r * tMax + nText, tMax - nText).Clear();
                }
                if (visMax > 0)
                {
                    float[] vt = TransposedValues.GetValue(visual!, Transpose);
                    fixed (float* values = vt)
                        RowsGemm(pv, nb, visMax, values + (long)kvh * headDim * tokens, headDim, o, headDim, wStride: tokens);
                    AddRows(o, nb, b0, seq, kvh, group, headDim, y);
                }
                if (tMax > 0 && gather)
                {
                    fixed (float* values = vtT)
                        RowsGemm(pt, nb, tMax, values, headDim, o, headDim, wStride: nTot);
                    AddRows(o, nb, b0, seq, kvh, group, headDim, y);
                }
                else if (tMax > 0)
                    for (int r = 0; r < nb; r++)
                    {
                        int t = seq.CachedLength + (b0 + r) / group;
                        var dst = y.Row(seq.TokenStart + (b0 + r) / group).Slice((kvh * group + (b0 + r) % group) * headDim, headDim);
                        for (int j = 0; j <= t; j++)
                            TensorPrimitives.MultiplyAdd(cache!.V[layer].AsSpan(cache.Offset(seq.BlockTable, j) + kvh * headDim, headDim), pt[r * tMax + j], dst, dst);
                    }
            }
        }
        finally
        {
            foreach (var a in new[] { xq, o, pv, pt, kt, vtT }) pool.Return(a);
        }
    }

    /// <summary>y[row of block row r] += o[r] for the nb rows of a block (token-major rows of one KV head's group).</summary>
    private static void AddRows(float[] o, int nb, int b0, AttentionSequence seq, int kvh, int group, int headDim, Tensor y)
    {
        for (int r = 0; r < nb; r++)
        {
            var dst = y.Row(seq.TokenStart + (b0 + r) / group).Slice((kvh * group + (b0 + r) % group) * headDim, headDim);
            TensorPrimitives.Add(dst, o.AsSpan(r * headDim, headDim), dst);
        }
    }

    /// <summary>V `[kvHeads·tokens, headDim]` → `[kvHeads, headDim, tokens]`.</summary>
    private static float[] Transpose(VisualKv visual)
    {
        int tokens = visual.ImageTokens, d = visual.Values.Cols, kvHeads = visual.Values.Rows / tokens;
        var src = visual.Values.Data;
        var t = new float[src.Length];
        for (int h = 0; h < kvHeads; h++)
            for (int u = 0; u < tokens; u++)
                for (int c = 0; c < d; c++)
                    t[((long)h * d + c) * tokens + u] = src[((long)h * tokens + u) * d + c];
        return t;
    }

    /// <summary>
    /// y[t, o] = Σ_k x[t, k]·w[o, k] for fp32 x [tokens, k] and w [rows, k] (row stride k; y row stride ldy), one
    /// thread: whole 32-row panels on the panel kernel, the rest on the tile kernel — and all on the tile kernel below
    /// 16 tokens, where widening a panel costs more than the panel's products (a decode step's 7 query heads against
    /// 2,916 image tokens per layer: 2.9 ms on panels, 0.56 ms on the tile kernel, 1.1 ms as one call per key before).
    /// </summary>
    private static unsafe void RowsGemm(float[] x, int tokens, int k, float* w, int rows, float[] y, int ldy, int wStride = 0)
    {
        if (tokens < 16)
        {
            CpuGemm.Block<F32Loader>(x, tokens, k, w, 0, rows, y, ldy, 0, wStride);
            return;
        }
        int panelRows = rows / CpuGemmPanel.Rows * CpuGemmPanel.Rows;
        if (panelRows > 0) CpuGemmPanel.Block<F32Loader>(x, tokens, k, w, 0, panelRows / CpuGemmPanel.Rows, y, ldy, 0, wStride);
        if (panelRows < rows) CpuGemm.Block<F32Loader>(x, tokens, k, w, panelRows, rows, y, ldy, panelRows, wStride);
    }

    /// <summary>
    /// Visible visual tokens of position t: crops become visible in marker order (starts ascend), so they are the
    /// first VisibleCrops(t)·TokensPerCrop image tokens.
    /// </summary>
    private static int VisibleTokens(VisualKv visual, int t) => visual.VisibleCrops(t) * visual.TokensPerCrop;

    private static (AttentionSequence Seq, int KvHead)[] GroupItems(AttentionBatch batch, int kvHeads) =>
        batch.Sequences.SelectMany(s => Enumerable.Range(0, kvHeads).Select(h => (s, h))).ToArray();
}
