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
                    PanelGemm(qh, n, d, pk, np, scores, np);
                    for (int i = 0; i < n; i++)
                    {
                        var row = scores.AsSpan(i * np, n);
                        TensorPrimitives.Multiply(row, scale, row);
                        SoftmaxInPlace(row);
                    }
                    // P·V over the first n columns of each score row: the GEMM reads x with row stride = k, so the
                    // scores are compacted to n columns first (in place, row by row, front to back).
                    for (int i = 1; i < n; i++) scores.AsSpan(i * np, n).CopyTo(scores.AsSpan(i * n, n));
                    PanelGemm(scores, n, n, pv, dp, oh, dp);
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

    /// <summary>y[t, o] = Σ_k x[t, k]·w[o, k] for fp32 row-major x [tokens, k] and w [rows, k] (rows a multiple of 32; y row stride ldy), one thread.</summary>
    private static unsafe void PanelGemm(float[] x, int tokens, int k, float* w, int rows, float[] y, int ldy) =>
        CpuGemmPanel.Block<F32Loader>(x, tokens, k, w, 0, rows / CpuGemmPanel.Rows, y, ldy, 0);

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

    /// <inheritdoc/>
    public Tensor PagedAttention(Tensor q, AttentionBatch batch, int layer, int heads, bool fusedVisual)
    {
        var cache = (CpuKvCache)batch.Cache;
        int headDim = cache.HeadDim, group = heads / cache.KvHeads;
        if (q.Cols != heads * headDim || q.Rows != batch.Tokens)
            throw new ArgumentException($"paged attention: q {q} for {batch.Tokens} tokens of {heads}×{headDim}");
        var y = new Tensor(q.Rows, q.Cols);
        float scale = 1f / MathF.Sqrt(headDim);
        var items = WorkItems(batch, heads);
        ParallelChunks(items.Length, (s, e) =>
        {
            float[] scores = [];
            for (int it = s; it < e; it++)
            {
                var (seq, h) = items[it];
                int kvh = h / group;
                var visual = fusedVisual ? seq.Visual[layer] : null;
                for (int i = 0; i < seq.TokenCount; i++)
                {
                    int t = seq.CachedLength + i, row = seq.TokenStart + i;
                    var qi = q.Row(row).Slice(h * headDim, headDim);
                    // Keys: [visible visual tokens ; text 0..t] in one softmax (241101 fused order; the mask carries causality).
                    int visible = visual is null ? 0 : VisibleTokens(visual, t);
                    int n = visible + t + 1;
                    if (scores.Length < n) scores = new float[Math.Max(n, scores.Length * 2)];
                    var sc = scores.AsSpan(0, n);
                    if (visible > 0) ScoreVisual(qi, visual!, kvh, sc[..visible], scale);
                    for (int j = 0; j <= t; j++)
                        sc[visible + j] = TensorPrimitives.Dot(qi, cache.K[layer].AsSpan(cache.Offset(seq.BlockTable, j) + kvh * headDim, headDim)) * scale;

                    float max = TensorPrimitives.Max(sc), sum = 0;
                    for (int j = 0; j < n; j++) sum += sc[j] = MathF.Exp(sc[j] - max);
                    float inv = 1f / sum;
                    var output = y.Row(row).Slice(h * headDim, headDim);
                    if (visible > 0) AccumulateVisual(sc[..visible], inv, visual!, kvh, output);
                    for (int j = 0; j <= t; j++)
                        TensorPrimitives.MultiplyAdd(cache.V[layer].AsSpan(cache.Offset(seq.BlockTable, j) + kvh * headDim, headDim), sc[visible + j] * inv, output, output);
                }
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
        var items = WorkItems(batch, heads);
        ParallelChunks(items.Length, (s, e) =>
        {
            float[] scores = [];
            for (int it = s; it < e; it++)
            {
                var (seq, h) = items[it];
                var visual = seq.Visual[layer];
                if (visual is null) continue;
                int kvh = h / group;
                if (scores.Length < visual.ImageTokens) scores = new float[visual.ImageTokens];
                for (int i = 0; i < seq.TokenCount; i++)
                {
                    int t = seq.CachedLength + i, row = seq.TokenStart + i;
                    int visible = VisibleTokens(visual, t);
                    if (visible == 0) continue; // no image visible yet: zeros, and the mix leaves this row alone
                    var qi = q.Row(row).Slice(h * headDim, headDim);
                    var sc = scores.AsSpan(0, visible);
                    ScoreVisual(qi, visual, kvh, sc, scale);
                    float max = TensorPrimitives.Max(sc), sum = 0;
                    for (int j = 0; j < visible; j++) sum += sc[j] = MathF.Exp(sc[j] - max);
                    AccumulateVisual(sc, 1f / sum, visual, kvh, y.Row(row).Slice(h * headDim, headDim));
                }
            }
        });
        return y;
    }

    /// <summary>
    /// Visible visual tokens of position t: crops become visible in marker order (starts ascend), so they are the
    /// first VisibleCrops(t)·TokensPerCrop image tokens.
    /// </summary>
    private static int VisibleTokens(VisualKv visual, int t) => visual.VisibleCrops(t) * visual.TokensPerCrop;

    /// <summary>scores[u] = q·K_img[kvh, u]·scale for the first scores.Length (visible) image tokens.</summary>
    private static void ScoreVisual(ReadOnlySpan<float> q, VisualKv visual, int kvh, Span<float> scores, float scale)
    {
        int headDim = q.Length, tokens = visual.ImageTokens;
        for (int u = 0; u < scores.Length; u++)
            scores[u] = TensorPrimitives.Dot(q, visual.Keys.Data.AsSpan((kvh * tokens + u) * headDim, headDim)) * scale;
    }

    /// <summary>output += Σ_u weights[u]·inv·V_img[kvh, u] over the visible image tokens.</summary>
    private static void AccumulateVisual(ReadOnlySpan<float> weights, float inv, VisualKv visual, int kvh, Span<float> output)
    {
        int headDim = output.Length, tokens = visual.ImageTokens;
        for (int u = 0; u < weights.Length; u++)
            TensorPrimitives.MultiplyAdd(visual.Values.Data.AsSpan((kvh * tokens + u) * headDim, headDim), weights[u] * inv, output, output);
    }

    private static (AttentionSequence Seq, int Head)[] WorkItems(AttentionBatch batch, int heads) =>
        batch.Sequences.SelectMany(s => Enumerable.Range(0, heads).Select(h => (s, h))).ToArray();
}
