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

    /// <summary>Query rows per visual GEMM block (rows of one KV head's group × the sequence's new tokens).</summary>
    private const int VisualRowBlock = 64;

    /// <summary>Each visual K/V's values transposed per KV head, `[kvHeads, headDim, imageTokens]` (the P·V GEMM's operand), made on first use.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<VisualKv, float[]> TransposedValues = new();

    /// <inheritdoc/>
    /// <remarks>
    /// Work items are (sequence, KV head): the group's query rows (head-major: group × new tokens) are taken in blocks.
    /// A block's scores against the request's visual keys are one GEMM on the panel kernel (the image tokens any row
    /// of the block sees; those a row does not see yet get probability 0, and crops no row sees are never read), the text keys a dot product each through the block table; one softmax
    /// per row over both; then O += P_vis·V_img as a second GEMM (values transposed once per request) and the text
    /// values per key. Before, every visual key of every query head was a dot-product call and an axpy call: the
    /// per-call cost dominated image prompts and every decode step with images.
    /// </remarks>
    public unsafe Tensor PagedAttention(Tensor q, AttentionBatch batch, int layer, int heads, bool fusedVisual)
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
            float[] scores = [];
            for (int it = s; it < e; it++)
            {
                var (seq, kvh) = items[it];
                var visual = fusedVisual ? seq.Visual[layer] : null;
                ForVisualBlocks(q, seq, visual, kvh, group, headDim, scale, y, (r, row, h, t, vis) =>
                {
                    // Keys: [visible visual tokens ; text 0..t] in one softmax (241101 fused order; the mask carries causality).
                    var qi = q.Row(row).Slice(h * headDim, headDim);
                    int nText = t + 1;
                    if (scores.Length < nText) scores = new float[Math.Max(nText, scores.Length * 2)];
                    var sc = scores.AsSpan(0, nText);
                    for (int j = 0; j <= t; j++)
                        sc[j] = TensorPrimitives.Dot(qi, cache.K[layer].AsSpan(cache.Offset(seq.BlockTable, j) + kvh * headDim, headDim)) * scale;
                    float max = TensorPrimitives.Max(sc);
                    if (vis.Length > 0) max = MathF.Max(max, TensorPrimitives.Max(vis));
                    float sum = 0;
                    for (int j = 0; j < nText; j++) sum += sc[j] = MathF.Exp(sc[j] - max);
                    if (vis.Length > 0)
                    {
                        TensorPrimitives.Subtract(vis, max, vis);
                        TensorPrimitives.Exp(vis, vis);
                        sum += TensorPrimitives.Sum(vis);
                    }
                    float inv = 1f / sum;
                    TensorPrimitives.Multiply(vis, inv, vis);
                    var output = y.Row(row).Slice(h * headDim, headDim);
                    for (int j = 0; j <= t; j++)
                        TensorPrimitives.MultiplyAdd(cache.V[layer].AsSpan(cache.Offset(seq.BlockTable, j) + kvh * headDim, headDim), sc[j] * inv, output, output);
                });
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
                if (seq.Visual[layer] is not { } visual) continue;
                // Rows that see no crop keep zeros (probabilities all 0 there), and the mix leaves them alone.
                ForVisualBlocks(q, seq, visual, kvh, group, headDim, scale, y, (r, row, h, t, vis) =>
                {
                    if (vis.Length == 0) return;
                    SoftmaxInPlace(vis);
                });
            }
        });
        return y;
    }

    /// <summary>
    /// The rows of one (sequence, KV head) item — head-major: query head kvh·group + g, new token i — in blocks of
    /// <see cref="VisualRowBlock"/>. With <paramref name="visual"/>, each block's scaled scores against the image tokens
    /// any of its rows sees are one GEMM; <paramref name="row"/> gets, per row, the span of its visible tokens' scores to turn into
    /// probabilities in place (the rest of the row is zeroed), then the block's P·V is added to the rows of
    /// <paramref name="y"/> as a second GEMM. Without, <paramref name="row"/> gets an empty span.
    /// </summary>
    private unsafe void ForVisualBlocks(Tensor q, AttentionSequence seq, VisualKv? visual, int kvh, int group, int headDim, float scale, Tensor y,
        VisualRow row)
    {
        int rowsTotal = group * seq.TokenCount, tokens = visual?.ImageTokens ?? 0;
        var pool = System.Buffers.ArrayPool<float>.Shared;
        float[] xq = visual is null ? [] : pool.Rent(VisualRowBlock * headDim);
        float[] p = visual is null ? [] : pool.Rent(VisualRowBlock * tokens);
        float[] o = visual is null ? [] : pool.Rent(VisualRowBlock * headDim);
        try
        {
            for (int b0 = 0; b0 < rowsTotal; b0 += VisualRowBlock)
            {
                int nb = Math.Min(VisualRowBlock, rowsTotal - b0);
                // Only the image tokens some row of the block sees are read: crops not yet visible may not even be
                // finite (the hostile tests make them NaN), and 0·NaN would reach the output.
                int visMax = 0;
                if (visual is not null)
                    for (int r = 0; r < nb; r++) visMax = Math.Max(visMax, VisibleTokens(visual, seq.CachedLength + (b0 + r) % seq.TokenCount));
                if (visMax > 0)
                {
                    for (int r = 0; r < nb; r++)
                    {
                        int g = (b0 + r) / seq.TokenCount, i = (b0 + r) % seq.TokenCount;
                        q.Row(seq.TokenStart + i).Slice((kvh * group + g) * headDim, headDim).CopyTo(xq.AsSpan(r * headDim, headDim));
                    }
                    fixed (float* keys = visual!.Keys.Data)
                        RowsGemm(xq, nb, headDim, keys + (long)kvh * tokens * headDim, visMax, p, visMax);
                    TensorPrimitives.Multiply(p.AsSpan(0, nb * visMax), scale, p.AsSpan(0, nb * visMax));
                }
                for (int r = 0; r < nb; r++)
                {
                    int g = (b0 + r) / seq.TokenCount, i = (b0 + r) % seq.TokenCount, t = seq.CachedLength + i;
                    int visible = visual is null ? 0 : VisibleTokens(visual, t);
                    var vis = visMax == 0 ? Span<float>.Empty : p.AsSpan(r * visMax, visible);
                    row(r, seq.TokenStart + i, kvh * group + g, t, vis);
                    if (visMax > 0) p.AsSpan(r * visMax + visible, visMax - visible).Clear();
                }
                if (visMax == 0) continue;
                float[] vt = TransposedValues.GetValue(visual!, Transpose);
                fixed (float* values = vt)
                    RowsGemm(p, nb, visMax, values + (long)kvh * headDim * tokens, headDim, o, headDim, wStride: tokens);
                for (int r = 0; r < nb; r++)
                {
                    int g = (b0 + r) / seq.TokenCount, i = (b0 + r) % seq.TokenCount;
                    var dst = y.Row(seq.TokenStart + i).Slice((kvh * group + g) * headDim, headDim);
                    TensorPrimitives.Add(dst, o.AsSpan(r * headDim, headDim), dst);
                }
            }
        }
        finally
        {
            if (visual is not null) { pool.Return(xq); pool.Return(p); pool.Return(o); }
        }
    }

    /// <summary>One query row of a visual block: block row r, activation row, query head, absolute position, its visible tokens' scores.</summary>
    private delegate void VisualRow(int r, int row, int head, int t, Span<float> visible);

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
