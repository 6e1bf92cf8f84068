using Owl3Native.Core.Backend;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;
using Owl3Native.TestKit;

namespace Owl3Native.Core.Tests;

/// <summary>
/// Every <see cref="CpuBackend"/> op against its slow twin in <see cref="NaiveOps"/> on hostile shapes (sizes that are
/// not multiples of the 8-wide SIMD or the 4-row GEMM tile, one token, many tokens). Metrics (see <see cref="ReferenceAssert"/>):
/// reductions (Linear, SwiGlu, norms, attention) use NMSE ≤ 1e-7 (per row for the norms); elementwise ops (GELUs, sigmoid,
/// RoPE, MI-RoPE keys, gated mix) use max-rel ≤ 1e-5 with floor 1 (relative above 1, absolute below); copies (patches,
/// visual values, untouched rows) must be bit-exact.
/// </summary>
public sealed partial class CpuOpsTests : IDisposable
{
    private const double NmseBound = 1e-7;
    private const double RelBound = 1e-5;

    private readonly TempDirectory _dir = new("owl3-cpuops");
    private readonly List<SafeTensorFile> _files = [];
    private readonly CpuBackend _cpu = new(threads: 1);

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _dir.Dispose();
    }

    // ---- Linear family ------------------------------------------------------------------------------------------

    public static TheoryData<DType, int, int, int, bool> LinearCases()
    {
        var data = new TheoryData<DType, int, int, int, bool>();
        foreach (var dtype in new[] { DType.F32, DType.BF16 })
            foreach (var (rows, inF, outF) in new[] { (1, 13, 7), (3, 13, 7), (5, 13, 7), (1, 1, 5), (2, 8, 4), (5, 37, 33), (7, 64, 100), (4, 3, 65) })
                data.Add(dtype, rows, inF, outF, rows % 2 == 1);
        return data;
    }

    [Theory]
    [MemberData(nameof(LinearCases))]
    public void Linear_matches_naive(DType dtype, int rows, int inF, int outF, bool withBias)
    {
        var rng = new Random(rows * 1000 + inF * 10 + outF);
        var x = RandomTensor(rng, [rows, inF]);
        var (w, wRef) = MakeWeight(dtype, rng, outF, inF);
        var (b, bRef) = MakeWeight(dtype, rng, outF);

        var y = _cpu.Linear(x, w, withBias ? b : null);

        var expected = NaiveOps.Linear(NaiveOps.ToDouble(x.Data), rows, inF, wRef, outF, withBias ? bRef : null);
        ReferenceAssert.NmseBelow(y.Data, expected, NmseBound, $"Linear {dtype} [{rows}×{inF}]·[{outF}×{inF}]ᵀ");
    }

    [Theory]
    [InlineData(DType.F32, 1, 13, 7)]
    [InlineData(DType.BF16, 3, 13, 7)]
    [InlineData(DType.BF16, 5, 20, 37)]
    [InlineData(DType.F32, 6, 9, 70)]
    public void SwiGlu_matches_naive(DType dtype, int rows, int hidden, int intermediate)
    {
        var rng = new Random(17 + rows);
        var x = RandomTensor(rng, [rows, hidden], 3);
        var (gate, gateRef) = MakeWeight(dtype, rng, intermediate, hidden);
        var (up, upRef) = MakeWeight(dtype, rng, intermediate, hidden);

        var y = _cpu.SwiGlu(x, gate, up);

        var expected = NaiveOps.SwiGlu(NaiveOps.ToDouble(x.Data), rows, hidden, gateRef, upRef, intermediate);
        ReferenceAssert.NmseBelow(y.Data, expected, NmseBound, $"SwiGlu {dtype} [{rows}×{hidden}] → {intermediate}");
    }

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F32)]
    public void Embedding_and_row_adds_are_exact(DType dtype)
    {
        var rng = new Random(4);
        var (table, tableRef) = MakeWeight(dtype, rng, 11, 13);                          // [vocab, hidden]
        int[] ids = [10, 0, 3, 3, 7];

        var x = _cpu.Embedding(table, ids);
        var expected = ids.SelectMany(id => tableRef.AsSpan(id * 13, 13).ToArray()).ToArray();
        ReferenceAssert.Identical(x.Data, expected, "embedding rows");

        // Position embeddings of stacked crops: row r gets table row r mod rows (exact fp32 adds).
        var y = RandomTensor(rng, [2 * 11 + 3, 13]);
        var before = (float[])y.Data.Clone();
        _cpu.AddRowsInPlace(y, table);
        var sum = new float[y.Length];
        for (int r = 0; r < y.Rows; r++)
            for (int i = 0; i < 13; i++) sum[r * 13 + i] = before[r * 13 + i] + tableRef[(r % 11) * 13 + i];
        ReferenceAssert.Identical(y.Data, sum, "AddRowsInPlace");

        var z = Copy(y);
        _cpu.AddInPlace(z, y);
        ReferenceAssert.Identical(z.Data, [.. y.Data.Select(v => v + v)], "AddInPlace");
    }

    // ---- Norms ----------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(1, 13)]
    [InlineData(3, 7)]
    [InlineData(5, 64)]
    [InlineData(40, 37)]
    public void RmsNorm_matches_naive_per_row(int rows, int cols)
    {
        var rng = new Random(rows * 31 + cols);
        var x = RandomTensor(rng, [rows, cols]);
        ScaleRows(x);
        var (w, wRef) = MakeWeight(DType.BF16, rng, cols);

        var y = _cpu.RmsNorm(x, w, 1e-6f);

        var expected = NaiveOps.RmsNorm(NaiveOps.ToDouble(x.Data), rows, cols, wRef, 1e-6);
        for (int r = 0; r < rows; r++)
            ReferenceAssert.NmseBelow(y.Row(r), expected.AsSpan(r * cols, cols), NmseBound, $"RmsNorm row {r} of [{rows}×{cols}]");
    }

    [Theory]
    [InlineData(1, 13)]
    [InlineData(3, 7)]
    [InlineData(5, 72)]
    [InlineData(40, 37)]
    public void LayerNorm_matches_naive_per_row(int rows, int cols)
    {
        var rng = new Random(rows * 37 + cols);
        var x = RandomTensor(rng, [rows, cols]);
        ScaleRows(x);
        // The last row sits on a mean 50× its spread (variance by cancellation). Much larger ratios exceed what fp32 can
        // give: the op rounds the mean to fp32 before subtracting, an error of ulp(mean)/spread (≈ 0.4 % at 1e5).
        float offset = 50 * MathF.Pow(10, (rows - 1) % 7 - 3);
        foreach (ref float v in x.Row(rows - 1)) v += offset;
        var (w, wRef) = MakeWeight(DType.F32, rng, cols);
        var (b, bRef) = MakeWeight(DType.BF16, rng, cols);

        var y = _cpu.LayerNorm(x, w, b, 1e-6f);

        var expected = NaiveOps.LayerNorm(NaiveOps.ToDouble(x.Data), rows, cols, wRef, bRef, 1e-6);
        for (int r = 0; r < rows; r++)
            ReferenceAssert.NmseBelow(y.Row(r), expected.AsSpan(r * cols, cols), NmseBound, $"LayerNorm row {r} of [{rows}×{cols}]");
    }

    // ---- Elementwise ----------------------------------------------------------------------------------------------

    public enum Activation { GeluTanh, GeluErf, Sigmoid }

    [Theory]
    [InlineData(Activation.GeluTanh, 1)]
    [InlineData(Activation.GeluTanh, 4099)]
    [InlineData(Activation.GeluErf, 1)]
    [InlineData(Activation.GeluErf, 4099)]
    [InlineData(Activation.Sigmoid, 7)]
    [InlineData(Activation.Sigmoid, 4099)]
    public void Activation_matches_naive(Activation op, int length)
    {
        var x = ActivationInputs(length);
        var input = NaiveOps.ToDouble(x.Data);
        switch (op)
        {
            case Activation.GeluTanh: _cpu.GeluTanhInPlace(x); break;
            case Activation.GeluErf: _cpu.GeluErfInPlace(x); break;
            default: _cpu.SigmoidInPlace(x); break;
        }
        Func<double, double> f = op switch { Activation.GeluTanh => NaiveOps.GeluTanh, Activation.GeluErf => NaiveOps.GeluErf, _ => NaiveOps.Sigmoid };
        ReferenceAssert.MaxRelBelow(x.Data, NaiveOps.Map(input, f), RelBound, floor: 1, $"{op} of {length} values");
    }

    [Theory]
    [InlineData(Activation.GeluErf, -6f)]
    [InlineData(Activation.Sigmoid, -30f)]
    public void Activation_stays_relatively_accurate_in_the_negative_tail(Activation op, float from)
    {
        // Tiny outputs must be relatively exact, not merely within 1e-5 of zero. GELU-erf evaluates 1 + erf in double, so
        // it is relatively exact while erfc ≫ 1e-16 (z ≥ −6: erfc ≥ 2e-9; beyond that fp32 PyTorch returns 0 anyway);
        // sigmoid has no cancellation at all. GELU-tanh is excluded: 1 + tanh cancels in fp32, in PyTorch as here.
        int n = (int)(-from * 100) + 1;
        var x = new Tensor(n);
        for (int i = 0; i < n; i++) x.Data[i] = from + i * 0.01f;
        var input = NaiveOps.ToDouble(x.Data);
        if (op == Activation.GeluErf) _cpu.GeluErfInPlace(x); else _cpu.SigmoidInPlace(x);
        var expected = NaiveOps.Map(input, op == Activation.GeluErf ? NaiveOps.GeluErf : NaiveOps.Sigmoid);
        ReferenceAssert.MaxRelBelow(x.Data, expected, RelBound, floor: 1e-300, $"{op} on [{from}, 0]");
    }

    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.1, 0.1124629160182849)]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(2.0, 0.9953222650189527)]
    [InlineData(3.0, 0.9999779095030014)]
    [InlineData(4.0, 0.9999999845827421)]
    [InlineData(-1.5, -0.9661051464753108)]
    [InlineData(7.0, 1.0)]
    public void Naive_erf_is_accurate_to_1e_12(double x, double erf)
    {
        Assert.True(Math.Abs(NaiveOps.Erf(x) - erf) <= 1e-12, $"erf({x}) = {NaiveOps.Erf(x):R}, expected {erf:R}");
        Assert.Equal(-NaiveOps.Erf(x), NaiveOps.Erf(-x));
    }

    [Theory]
    [InlineData(0.1, 0.8875370839817152)]
    [InlineData(0.5, 0.4795001221869535)]
    [InlineData(1.0, 0.15729920705028513)]
    [InlineData(3.0, 2.2090496998585438e-05)]
    [InlineData(5.0, 1.5374597944280351e-12)]
    [InlineData(5.657, 1.2421110592263414e-15)]
    [InlineData(10.0, 2.088487583762545e-45)]
    public void Naive_erfc_is_relatively_accurate_to_1e_12(double x, double erfc) =>
        Assert.True(Math.Abs(NaiveOps.Erfc(x) / erfc - 1) <= 1e-12, $"erfc({x}) = {NaiveOps.Erfc(x):R}, expected {erfc:R}");

    // ---- RoPE -----------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(1, 1, 6, 1e6)]
    [InlineData(3, 3, 10, 1e6)]
    [InlineData(5, 2, 24, 1e4)]
    [InlineData(20, 4, 16, 1e6)]
    [InlineData(2, 1, 128, 1e6)]
    public void Rope_matches_naive(int rows, int heads, int headDim, double theta)
    {
        var rng = new Random(rows + heads * 7 + headDim);
        var x = RandomTensor(rng, [rows, heads * headDim]);
        var positions = Enumerable.Range(0, rows).Select(r => r == 0 ? 0 : rng.Next(1, 4096)).ToArray();
        var input = NaiveOps.ToDouble(x.Data);

        _cpu.RopeInPlace(x, positions, heads, headDim, theta);

        var expected = NaiveOps.Rope(input, rows, heads, headDim, positions, theta);
        ReferenceAssert.MaxRelBelow(x.Data, expected, RelBound, floor: 1, $"RoPE [{rows}×{heads}×{headDim}] at positions {string.Join(",", positions)}");
    }

    // ---- Vision ---------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(1, 48, 14)]
    [InlineData(2, 42, 14)]
    [InlineData(3, 29, 14)]
    [InlineData(1, 10, 5)]
    public void Patches_match_naive_and_never_read_edge_pixels(int crops, int size, int patch)
    {
        var rng = new Random(size);
        var pixels = RandomTensor(rng, [crops, 3, size, size]);
        int used = (size - patch) / patch * patch + patch;
        for (int n = 0; n < crops; n++)
            for (int c = 0; c < 3; c++)
                for (int yy = 0; yy < size; yy++)
                    for (int xx = 0; xx < size; xx++)
                        if (yy >= used || xx >= used) pixels.Data[((n * 3 + c) * size + yy) * size + xx] = float.NaN;

        var y = _cpu.Patches(pixels, patch);

        var expected = NaiveOps.Patches(pixels.Data, crops, 3, size, patch);
        ReferenceAssert.Identical(y.Data, expected.Select(v => (float)v).ToArray(), $"patches of {crops}×3×{size}² by {patch}");
        Assert.DoesNotContain(y.Data, float.IsNaN);
    }

    [Theory]
    [InlineData(1, 1, 1, 8)]
    [InlineData(9, 1, 3, 10)]
    [InlineData(5, 3, 2, 13)]
    [InlineData(9, 2, 4, 72)]
    [InlineData(100, 2, 2, 72)]  // several 32-key panels, padded keys (100 → 128) and dims (72 → 96)
    [InlineData(33, 3, 1, 40)]   // one key past a panel
    [InlineData(64, 1, 2, 64)]   // whole panels, no padding
    public void DenseAttention_matches_naive(int groupLength, int groups, int heads, int headDim)
    {
        var rng = new Random(groupLength * 3 + groups + headDim);
        int rows = groupLength * groups;
        var q = RandomTensor(rng, [rows, heads * headDim], 2);
        var k = RandomTensor(rng, [rows, heads * headDim], 2);
        var v = RandomTensor(rng, [rows, heads * headDim]);

        var y = _cpu.DenseAttention(q, k, v, groupLength, heads, headDim);

        var expected = NaiveOps.Attention(NaiveOps.ToDouble(q.Data), rows, heads, NaiveOps.ToDouble(k.Data), NaiveOps.ToDouble(v.Data), rows, heads, headDim,
            (t, u) => t / groupLength == u / groupLength);
        ReferenceAssert.NmseBelow(y.Data, expected, NmseBound, $"dense attention, {groups} groups of {groupLength}, {heads}×{headDim}");
    }

    // ---- Hyper layers ---------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(1, 6, 1, 4)]
    [InlineData(2, 16, 2, 9)]
    [InlineData(3, 10, 3, 5)]
    public void MakeVisualKv_splits_head_major_and_rotates_keys_per_crop(int kvHeads, int headDim, int crops, int tokensPerCrop)
    {
        var rng = new Random(kvHeads * 100 + headDim);
        int tokens = crops * tokensPerCrop, width = kvHeads * headDim;
        var kv = RandomTensor(rng, [tokens, 2 * width]);
        int[] positions = [.. new[] { 3, 17, 1000 }.Take(crops)];
        int[] visibleFrom = [.. positions.Select(p => p + 1)];

        var visual = _cpu.MakeVisualKv(kv, kvHeads, headDim, tokensPerCrop, positions, 1e6, visibleFrom);

        // Reference split f = (g·2 + s)·D + d into [tokens, kvHeads·headDim], then MI-RoPE at the crop's position.
        var x = NaiveOps.ToDouble(kv.Data);
        var keys = new double[tokens * width];
        var values = new double[tokens * width];
        for (int u = 0; u < tokens; u++)
            for (int g = 0; g < kvHeads; g++)
                for (int d = 0; d < headDim; d++)
                {
                    keys[u * width + g * headDim + d] = x[u * 2 * width + (2 * g) * headDim + d];
                    values[u * width + g * headDim + d] = x[u * 2 * width + (2 * g + 1) * headDim + d];
                }
        var rotated = NaiveOps.Rope(keys, tokens, kvHeads, headDim, [.. Enumerable.Range(0, tokens).Select(u => positions[u / tokensPerCrop])], 1e6);

        Assert.Equal(tokensPerCrop, visual.TokensPerCrop);
        Assert.Equal(visibleFrom, visual.VisibleFrom);
        ReferenceAssert.MaxRelBelow(HeadMajorToRows(visual.Keys, kvHeads, tokens, headDim), rotated, RelBound, floor: 1, "visual keys");
        ReferenceAssert.Identical(HeadMajorToRows(visual.Values, kvHeads, tokens, headDim), values.Select(v => (float)v).ToArray(), "visual values");
    }

    [Theory]
    [InlineData(1, 7, true)]
    [InlineData(5, 13, true)]
    [InlineData(5, 13, false)]
    [InlineData(3, 64, false)]
    public void GatedMix_matches_naive_and_leaves_unseeing_rows_alone(int rows, int features, bool broadcastGate)
    {
        var rng = new Random(rows * 11 + features);
        var context = RandomTensor(rng, [rows, features], 3);
        var cross = RandomTensor(rng, [rows, features], 3);
        var gate = RandomTensor(rng, [broadcastGate ? 1 : rows, features]);
        for (int i = 0; i < gate.Length; i++) gate.Data[i] = 0.5f + 0.5f * gate.Data[i];        // in (0, 1)
        var visible = Enumerable.Range(0, rows).Select(t => t % 3 == 0 ? 0 : t).ToArray();
        var before = (float[])context.Data.Clone();

        _cpu.GatedMixInPlace(context, cross, gate, visible);

        for (int t = 0; t < rows; t++)
        {
            var c = before.AsSpan(t * features, features);
            var g = gate.Row(broadcastGate ? 0 : t);
            if (visible[t] == 0)
            {
                ReferenceAssert.Identical(context.Row(t), c, $"row {t} sees no crop and must stay as it was");
                continue;
            }
            var expected = new double[features];
            for (int i = 0; i < features; i++) expected[i] = (1.0 - g[i]) * c[i] + (double)g[i] * cross.Row(t)[i];
            ReferenceAssert.MaxRelBelow(context.Row(t), expected, RelBound, floor: 1, $"mixed row {t}");
        }
    }

    // ---- Paged and cross attention --------------------------------------------------------------------------------

    [Theory]
    [InlineData(4, 2, 8, false, false)]
    [InlineData(3, 1, 6, true, false)]
    [InlineData(4, 4, 10, true, false)]
    [InlineData(14, 2, 16, true, true)]   // GQA 7: a KV head's 7 × 90 rows in several blocks; 75 image tokens
    [InlineData(4, 4, 64, true, true)]
    [InlineData(6, 2, 40, false, true)]
    public void PagedAttention_matches_naive_with_scattered_blocks_and_nan_in_free_slots(int heads, int kvHeads, int headDim, bool fused, bool large)
    {
        var h = new PagedHarness(_cpu, heads, kvHeads, headDim, seed: heads * 10 + kvHeads, large);

        var y = _cpu.PagedAttention(h.Q, h.Batch, layer: 0, heads, fusedVisual: fused);

        foreach (var s in h.Sequences)
        {
            var expected = h.ReferenceSelfAttention(s, fused);
            ReferenceAssert.NmseBelow(y.Data.AsSpan(s.TokenStart * heads * headDim, s.TokenCount * heads * headDim), expected, NmseBound,
                $"paged attention (fused {fused}) of a sequence cached {s.CachedLength} + {s.TokenCount} new");
        }
    }

    [Theory]
    [InlineData(4, 2, 6, false)]
    [InlineData(14, 2, 64, true)]
    public void CrossAttention_matches_naive_and_zeroes_rows_that_see_no_crop(int heads, int kvHeads, int headDim, bool large)
    {
        var h = new PagedHarness(_cpu, heads, kvHeads, headDim, seed: 5, large);
        var visibleCrops = new int[h.Batch.Tokens];

        var y = _cpu.CrossAttention(h.Q, h.Batch, layer: 0, heads, visibleCrops);

        int width = heads * headDim;
        foreach (var s in h.Sequences)
        {
            var (expected, counts) = h.ReferenceCrossAttention(s);
            Assert.Equal(counts, visibleCrops.AsSpan(s.TokenStart, s.TokenCount).ToArray());
            ReferenceAssert.NmseBelow(y.Data.AsSpan(s.TokenStart * width, s.TokenCount * width), expected, NmseBound, "cross attention");
            for (int i = 0; i < s.TokenCount; i++)
                if (counts[i] == 0) Assert.All(y.Row(s.TokenStart + i).ToArray(), v => Assert.Equal(0f, v));
        }
        Assert.Contains(0, visibleCrops); // the harness has rows before the first visible crop
    }

    // ---- Threads --------------------------------------------------------------------------------------------------

    [Fact]
    public void Several_threads_give_bitwise_the_same_results_as_one()
    {
        var many = new CpuBackend(threads: 3);
        var rng = new Random(99);
        var x = RandomTensor(rng, [40, 37]);
        var (w, _) = MakeWeight(DType.BF16, rng, 130, 37);
        var (wf, _) = MakeWeight(DType.F32, rng, 130, 37);
        var (b, _) = MakeWeight(DType.BF16, rng, 130);
        var (n, _) = MakeWeight(DType.BF16, rng, 37);

        ReferenceAssert.Identical(many.Linear(x, w, b).Data, _cpu.Linear(x, w, b).Data, "Linear bf16");
        ReferenceAssert.Identical(many.Linear(x, wf).Data, _cpu.Linear(x, wf).Data, "Linear f32");
        ReferenceAssert.Identical(many.SwiGlu(x, w, wf).Data, _cpu.SwiGlu(x, w, wf).Data, "SwiGlu");
        ReferenceAssert.Identical(many.RmsNorm(x, n, 1e-6f).Data, _cpu.RmsNorm(x, n, 1e-6f).Data, "RmsNorm");
        ReferenceAssert.Identical(many.LayerNorm(x, n, n, 1e-6f).Data, _cpu.LayerNorm(x, n, n, 1e-6f).Data, "LayerNorm");

        var big = ActivationInputs(20000);
        var (g1, g2) = (Copy(big), Copy(big));
        many.GeluTanhInPlace(g1); _cpu.GeluTanhInPlace(g2);
        ReferenceAssert.Identical(g1.Data, g2.Data, "GeluTanh");
        (g1, g2) = (Copy(big), Copy(big));
        many.GeluErfInPlace(g1); _cpu.GeluErfInPlace(g2);
        ReferenceAssert.Identical(g1.Data, g2.Data, "GeluErf");

        var positions = Enumerable.Range(0, 40).Select(i => i * 37).ToArray();
        var (r1, r2) = (RandomTensor(new Random(1), [40, 3 * 10]), RandomTensor(new Random(1), [40, 3 * 10]));
        many.RopeInPlace(r1, positions, 3, 10, 1e6); _cpu.RopeInPlace(r2, positions, 3, 10, 1e6);
        ReferenceAssert.Identical(r1.Data, r2.Data, "RoPE");

        var q = RandomTensor(rng, [27, 4 * 8]);
        ReferenceAssert.Identical(many.DenseAttention(q, q, q, 9, 4, 8).Data, _cpu.DenseAttention(q, q, q, 9, 4, 8).Data, "DenseAttention");

        var kv = RandomTensor(rng, [3 * 30, 2 * 2 * 8]);
        var v1 = many.MakeVisualKv(kv, 2, 8, 30, [4, 9, 14], 1e6, [5, 10, 15]);
        var v2 = _cpu.MakeVisualKv(kv, 2, 8, 30, [4, 9, 14], 1e6, [5, 10, 15]);
        ReferenceAssert.Identical(v1.Keys.Data, v2.Keys.Data, "MakeVisualKv keys");

        var h = new PagedHarness(_cpu, heads: 4, kvHeads: 2, headDim: 8, seed: 3);
        ReferenceAssert.Identical(many.PagedAttention(h.Q, h.Batch, 0, 4, true).Data, _cpu.PagedAttention(h.Q, h.Batch, 0, 4, true).Data, "PagedAttention");
        ReferenceAssert.Identical(many.CrossAttention(h.Q, h.Batch, 0, 4, new int[h.Batch.Tokens]).Data,
            _cpu.CrossAttention(h.Q, h.Batch, 0, 4, new int[h.Batch.Tokens]).Data, "CrossAttention");
    }

    // ---- Helpers --------------------------------------------------------------------------------------------------


    private static Tensor RandomTensor(Random rng, int[] dims, float scale = 1)
    {
        var t = new Tensor(dims);
        for (int i = 0; i < t.Length; i++) t.Data[i] = scale * (float)(rng.NextDouble() * 2 - 1);
        return t;
    }

    private static Tensor Copy(Tensor t) => new((float[])t.Data.Clone(), t.Dims.ToArray());

    /// <summary>Rows at very different scales (1e-3 … 1e3), so a norm that mixes rows or loses range shows.</summary>
    private static void ScaleRows(Tensor x)
    {
        for (int r = 0; r < x.Rows; r++)
        {
            float s = MathF.Pow(10, r % 7 - 3);
            foreach (ref float v in x.Row(r)) v *= s;
        }
    }

    /// <summary>Uniform in [−8, 8) plus the edge values 0, ±1e-3, ±10, ±20.</summary>
    private static Tensor ActivationInputs(int length)
    {
        var rng = new Random(length);
        var x = new Tensor(length);
        float[] edges = [0, 1e-3f, -1e-3f, 10, -10, 20, -20];
        for (int i = 0; i < length; i++) x.Data[i] = i < edges.Length ? edges[i] : (float)(rng.NextDouble() * 16 - 8);
        return x;
    }

    /// <summary>
    /// Writes one random tensor into a safetensors file, opens it (mapped, as a checkpoint would be) and returns the
    /// <see cref="Weight"/> plus the values the reference must use: bf16-rounded (round-to-nearest-even, done here) or fp32.
    /// </summary>
    private (Weight Weight, float[] Reference) MakeWeight(DType dtype, Random rng, params long[] shape)
    {
        var values = new float[new Shape(shape).ElementCount];
        float scale = shape.Length == 2 ? 1f / MathF.Sqrt(shape[1]) : 1f;
        for (int i = 0; i < values.Length; i++) values[i] = scale * (float)(rng.NextDouble() * 2 - 1) + (shape.Length == 1 ? 1 : 0);
        var writer = new SafeTensorWriter();
        if (dtype == DType.BF16) writer.AddBF16("w", new Shape(shape), values);
        else writer.AddF32("w", new Shape(shape), values);
        string path = _dir.File($"w{_files.Count}.safetensors");
        writer.WriteTo(path);
        var file = SafeTensorFile.Open(path);
        _files.Add(file);
        var reference = dtype == DType.BF16 ? values.Select(RoundToBf16).ToArray() : values;
        return (new Weight(file.Get("w")), reference);
    }

    private static float RoundToBf16(float v)
    {
        uint u = BitConverter.SingleToUInt32Bits(v);
        u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000;
        return BitConverter.UInt32BitsToSingle(u);
    }
}
