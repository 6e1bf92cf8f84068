using Owl3Native.Core.Cpu;
using Owl3Native.Cuda.Checks;
using Owl3Native.Cuda.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace Owl3Native.Cuda.Tests.Attention;

/// <summary>
/// Without a GPU: the tiling algorithms of kernels/attention_prefill.cu and attention_decode_paged.cu, modelled scalar
/// by scalar (<see cref="PrefillTilingModel"/>, <see cref="DecodeTilingModel"/>: the same CTAs, tiles, masks, online
/// softmax, split-K combine and block-table walk), against the CPU twins (PagedAttention fused, CrossAttention,
/// DenseAttention) on the input construction of the GPU conformance check. Every decode case runs both decode kernels'
/// models (<see cref="DecodeKernel.TensorCore"/>, the engine's default, and <see cref="DecodeKernel.CudaCore"/>).
///
/// The bound is FlashAttention's rule: with an fp64 exact result and a same-precision naive result (fp32 softmax,
/// normalised P rounded to bf16 before P·V, output rounded to bf16), the model must satisfy
/// max|model − exact| ≤ 2·max|lowp − exact| + 1e-4. That bound is dominated by the common bf16 output rounding
/// (≈ 2⁻⁹), so the same rule is also applied one instruction earlier, to the fp32 values the kernels round last (the
/// models with roundOutput: false, slack 1e-6) against the same-precision result before its rounding: with P rounded to
/// bf16 for prefill and the tensor-core decode, which round it (sees defects down to ~1e-3), with P in fp32 for the
/// CUDA-core decode, which keeps it (~1e-6).
/// Against the CPU twin (fp32, output not rounded) the model may differ by at most <see cref="CpuTolerance"/>.
/// </summary>
public sealed class TilingModelTests(ITestOutputHelper output)
{
    /// <summary>
    /// |model − CPU twin| allowance. Outputs are convex mixes of values in [−1, 1], so |o| ≤ 1 and (1) rounding the
    /// output to bf16 moves it by ≤ 2⁻⁹; (2) rounding P to bf16 (prefill, tensor-core decode; relative error ≤ 2⁻⁹ per weight, the sum l
    /// taken from the fp32 P) moves O/l by ≤ 2⁻⁹·Σ p|v|/l ≤ 2⁻⁹; (3) fp32 sums, exp2 vs exp and the twin's own fp32
    /// error stay below 2⁻¹¹ for the ≤ 5k keys here. Total 2⁻⁸ + 2⁻¹¹ ≈ 4.4e-3.
    /// </summary>
    private const double CpuTolerance = 1.0 / 256 + 1.0 / 2048;

    /// <summary>Additive slack of the bound on bf16 outputs (FlashAttention's 1e-4) and on the fp32 values before rounding.</summary>
    private const double RoundedSlack = 1e-4, Fp32Slack = 1e-6;

    /// <summary>The split plan depends on the SM count; H100 SXM's 132.</summary>
    private const int Multiprocessors = 132;

    private static readonly CpuBackend Cpu = new(Math.Max(1, Environment.ProcessorCount));

    /// <summary>The decode kernels, the engine's default first.</summary>
    private static readonly DecodeKernel[] DecodeKernels = [DecodeKernel.TensorCore, DecodeKernel.CudaCore, DecodeKernel.TensorCoreCluster];

    [Fact]
    public void One_token_prefill_and_decode()
    {
        var c = new PagedCase(AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed: 1, [new(0, 1)]);
        CheckPrefill("one token prefill", c);
        foreach (var kernel in DecodeKernels) CheckDecode("one token decode", c, kernel);
    }

    [Fact]
    public void Chunked_prefill_with_lengths_off_the_tiles_and_images_before_between_and_after_text()
    {
        // Lengths off 64 and BC, cached > 0, crops visible from 0, from mid-chunk, and from after the last query.
        var c = new PagedCase(AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed: 2,
            [new(0, 1), new(0, 200, 2, 9, [3, 150]), new(37, 65), new(130, 64, 1, 20, [140]), new(10, 70, 3, 5, [0, 40, 900])]);
        CheckPrefill("chunked prefill", c);
    }

    /// <summary>
    /// GQA ratios 1, 2, 6, 7, 8, 16 and head dims 16…256 (BC 64 and 32, padded 72 → 80, 200 → 256). A group of 16 is
    /// the tensor-core decode's alone: the CUDA-core model refuses it, as its launcher does.
    /// </summary>
    [Theory]
    [InlineData(2, 2, 16, 4)]
    [InlineData(4, 2, 256, 8)]
    [InlineData(6, 1, 72, 16)]
    [InlineData(14, 2, 64, 16)]
    [InlineData(7, 1, 128, 16)]
    [InlineData(8, 1, 200, 16)]
    [InlineData(32, 2, 72, 16)]
    public void Gqa_ratios_and_head_dims(int heads, int kvHeads, int headDim, int blockSize)
    {
        var prefill = new PagedCase(AttentionMode.Fused, heads, kvHeads, headDim, blockSize, seed: 3 + headDim,
            [new(0, 70, 3, 7, [0, 30, 500]), new(45, 66, 1, 10, [60]), new(3, 1)]);
        CheckPrefill($"prefill {heads}/{kvHeads}×{headDim}", prefill);
        var decode = new PagedCase(AttentionMode.Fused, heads, kvHeads, headDim, blockSize, seed: 4 + headDim,
            [new(0, 1, 1, 7, [0]), new(130, 1, 3, 7, [0, 60, 500]), new(77, 1), new(300, 1, 2, 5, [10, 200])]);
        foreach (var kernel in DecodeKernels)
            if (heads / kvHeads <= DecodeTilingModel.MaxGroupOf(kernel)) CheckDecode($"decode {heads}/{kvHeads}×{headDim}", decode, kernel);
            else Assert.Throws<ArgumentException>(() => DecodeTilingModel.Run(decode.Decode(Multiprocessors), kernel));
    }

    [Fact]
    public void Cross_attention_rows_without_a_visible_image_are_zero()
    {
        var prefill = new PagedCase(AttentionMode.Cross, heads: 12, kvHeads: 2, headDim: 64, blockSize: 16, seed: 5,
            [new(0, 150, 2, 27, [10, 100]), new(20, 40, 1, 27, [45]), new(3, 10), new(0, 5, 1, 4, [30])]);
        var o = CheckPrefill("cross prefill", prefill);
        AssertZeroRows(prefill, o, "cross prefill");
        var decode = new PagedCase(AttentionMode.Cross, heads: 12, kvHeads: 2, headDim: 128, blockSize: 16, seed: 6,
            [new(40, 1, 2, 27, [10, 30]), new(5, 1, 1, 27, [9]), new(12, 1)]);
        foreach (var kernel in DecodeKernels)
        {
            o = CheckDecode("cross decode", decode, kernel);
            AssertZeroRows(decode, o, $"cross decode ({kernel})");
        }
    }

    /// <summary>
    /// The experimental kernels' tilings (the warpgroup-MMA kernel: 128 query rows × 128-key tiles; the 32-key d128 and
    /// d80 shapes) on chunked prefills with images before and between text, cross-attention, head dims below the
    /// padded one (120 → 128) and GQA 7: the algorithm at those tile shapes, without a GPU.
    /// </summary>
    [Theory]
    [InlineData("attention_prefill_wgmma_ws3_d128_bf16")]
    [InlineData("attention_prefill_wgmma_ws3p_d128_bf16")]
    [InlineData("attention_prefill_wgmma_ws3p_d64_bf16")]
    [InlineData("attention_prefill_bc32_d128_bf16")]
    [InlineData("attention_prefill_bc32_d80_bf16")]
    public void Experimental_prefill_tilings(string kernel)
    {
        var v = AttentionKernels.PrefillExperiments.Single(x => x.Kernel == kernel);
        int d = v.Dim == 80 ? 72 : v.Dim;
        var fused = new PagedCase(AttentionMode.Fused, heads: 28, kvHeads: 4, headDim: d, blockSize: 16, seed: 21,
            [new(0, 333, 3, 16, [5, 6, 300]), new(100, 17), new(0, 129, 1, 130, [64])]);
        CheckPrefill($"{kernel} fused", fused, v);
        var cross = new PagedCase(AttentionMode.Cross, heads: 12, kvHeads: 2, headDim: v.Dim == 80 ? 72 : d - 8, blockSize: 16, seed: 22,
            [new(0, 150, 2, 27, [10, 100]), new(20, 40, 1, 27, [45]), new(3, 10)]);
        AssertZeroRows(cross, CheckPrefill($"{kernel} cross", cross, v), $"{kernel} cross");
        var dense = new DenseCase(groups: 3, length: 150, heads: 2, headDim: d, seed: 23);
        Judge($"{kernel} dense", round => PrefillTilingModel.Run(dense.Prefill(), roundOutput: round, variant: v), dense.References(), dense.Cpu(Cpu), bf16P: true);
    }

    [Fact]
    public void Dense_non_causal_siglip_attention_head_dim_72()
    {
        var c = new DenseCase(groups: 2, length: 150, heads: 4, headDim: 72, seed: 7);
        Judge("dense 2×150, 4×72", round => PrefillTilingModel.Run(c.Prefill(), roundOutput: round), c.References(), c.Cpu(Cpu), bf16P: true);
    }

    /// <summary>SigLIP's head dim 72 on the 128-wide warpgroup-MMA tiling (128 rows × 128 keys; the GPU bundle times it).</summary>
    [Fact]
    public void Siglip_head_dim_72_on_the_wgmma_d128_tiling()
    {
        var v = AttentionKernels.PrefillExperiments.Single(x => x.Kernel == "attention_prefill_wgmma_ws3p_d128_bf16");
        var c = new DenseCase(groups: 2, length: 300, heads: 4, headDim: 72, seed: 8);
        Judge("dense 2×300, 4×72 on 128×128 tiles", round => PrefillTilingModel.Run(c.Prefill(), roundOutput: round, variant: v), c.References(), c.Cpu(Cpu), bf16P: true);
        // A kernel narrower than the head dim is refused.
        var narrow = AttentionKernels.PrefillExperiments.Single(x => x.Kernel == "attention_prefill_wgmma_ws3p_d64_bf16");
        Assert.Throws<ArgumentException>(() => PrefillTilingModel.Run(c.Prefill(), variant: narrow));
    }

    [Theory]
    [InlineData(DecodeKernel.TensorCore)]
    [InlineData(DecodeKernel.CudaCore)]
    public void Long_decode_runs_several_splits_with_empty_ones_and_combines_them(DecodeKernel kernel)
    {
        var c = LongDecode();
        var p = c.Decode(Multiprocessors);
        Assert.True(p.Splits > 4, $"expected a split-K plan, got {p.Splits} × {p.SplitKeys}");
        var result = DecodeTilingModel.Run(p, kernel);
        Judge($"long decode ({p.Splits} splits × {p.SplitKeys}, {kernel})", round => DecodeTilingModel.Run(p, kernel, roundOutput: round).Output,
            c.References(), c.Cpu(Cpu), bf16P: kernel != DecodeKernel.CudaCore);
        // A split past a sequence's keys is empty: (m, l) = (−inf, 0), o = 0; a split with keys has l > 0.
        int empty = 0;
        for (int s = 0; s < p.Seqs; s++)
            for (int h = 0; h < p.Heads; h++)
                for (int z = 0; z < p.Splits; z++)
                {
                    long part = ((long)s * p.Heads + h) * p.Splits + z;
                    bool hasKeys = z * p.SplitKeys < c.RowVis[s] + c.RowText[s];
                    float m = result.PartMl[part * 2], l = result.PartMl[part * 2 + 1];
                    if (hasKeys) Assert.True(float.IsFinite(m) && l > 0, $"split {z} of seq {s} head {h}: m {m}, l {l}");
                    else
                    {
                        empty++;
                        Assert.True(float.IsNegativeInfinity(m) && l == 0, $"empty split {z} of seq {s} head {h}: m {m}, l {l}");
                        for (int e = 0; e < p.HeadDim; e++) Assert.Equal(0f, result.PartO[part * p.HeadDim + e]);
                    }
                }
        Assert.True(empty > 0, "the case should have empty splits");
    }

    [Theory]
    [InlineData(DecodeKernel.TensorCore)]
    [InlineData(DecodeKernel.CudaCore)]
    public void Single_split_decode_writes_the_output_itself(DecodeKernel kernel)
    {
        var c = LongDecode();
        var p = c.Decode(multiprocessors: 1);
        Assert.Equal(1, p.Splits);
        var result = DecodeTilingModel.Run(p, kernel);
        Assert.All(result.PartMl, v => Assert.True(float.IsNaN(v))); // the combine's buffers are untouched
        Assert.All(result.PartO, v => Assert.True(float.IsNaN(v)));
        Judge($"long decode, one split ({kernel})", round => DecodeTilingModel.Run(p, kernel, roundOutput: round).Output,
            c.References(), c.Cpu(Cpu), bf16P: kernel != DecodeKernel.CudaCore);
    }

    /// <summary>
    /// The checks can fail: each deliberate defect of the models exceeds the bound (decode on a single split too, so
    /// that SkipMergeRescale is caught in the warp merge itself and not only in the split combine).
    /// </summary>
    [Theory]
    [InlineData("prefill", TilingMutation.SkipOnlineRescale)]
    [InlineData("prefill", TilingMutation.DropVisualTiles)]
    [InlineData("decode", TilingMutation.SkipOnlineRescale)]
    [InlineData("decode", TilingMutation.SkipMergeRescale)]
    [InlineData("decode", TilingMutation.DropVisualTiles)]
    [InlineData("decode tc", TilingMutation.SkipOnlineRescale)]
    [InlineData("decode tc", TilingMutation.SkipMergeRescale)]
    [InlineData("decode tc", TilingMutation.DropVisualTiles)]
    [InlineData("decode tc, one split", TilingMutation.SkipOnlineRescale)]
    [InlineData("decode tc, one split", TilingMutation.SkipMergeRescale)]
    [InlineData("decode, one split", TilingMutation.SkipMergeRescale)]
    [InlineData("decode cluster", TilingMutation.SkipOnlineRescale)]
    [InlineData("decode cluster", TilingMutation.SkipMergeRescale)]
    [InlineData("decode cluster", TilingMutation.DropVisualTiles)]
    public void A_broken_model_exceeds_the_bound(string kind, TilingMutation mutation)
    {
        PagedCase c;
        Func<bool, float[]> run;
        if (kind == "prefill")
        {
            c = new PagedCase(AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed: 8, [new(37, 150, 2, 9, [3, 100])]);
            var p = c.Prefill();
            run = round => PrefillTilingModel.Run(p, mutation, round);
        }
        else
        {
            c = LongDecode();
            var p = c.Decode(kind.EndsWith("one split", StringComparison.Ordinal) ? 1 : Multiprocessors);
            var kernel = kind == "decode cluster" ? DecodeKernel.TensorCoreCluster
                : kind.StartsWith("decode tc", StringComparison.Ordinal) ? DecodeKernel.TensorCore : DecodeKernel.CudaCore;
            if (kernel == DecodeKernel.TensorCoreCluster) p = ClusterPlan(p);
            run = round => DecodeTilingModel.Run(p, kernel, mutation, round).Output;
        }
        bool bf16P = kind is "prefill" or "decode cluster" || kind.StartsWith("decode tc", StringComparison.Ordinal);
        var refs = c.References();
        foreach (bool round in new[] { true, false })
        {
            var (errModel, errLowp) = Errors(run(round), refs.Exact, round ? refs.Lowp : bf16P ? refs.Lowp32 : refs.Fp32);
            double bound = 2 * errLowp + (round ? RoundedSlack : Fp32Slack);
            output.WriteLine($"{kind} with {mutation}{(round ? "" : " (fp32 output)")}: max|model − exact| {errModel:g3}, bound {bound:g3}");
            Assert.True(errModel > bound, $"{kind} with {mutation}: error {errModel:g3} stays within the bound {bound:g3}");
        }
    }

    /// <summary>
    /// The fused combine (split counters): in any order of finishing CTAs the last split of each (sequence, KV head)
    /// merges its group — the same output bit for bit in every order, within the bound of the exact result (its merge
    /// sums the splits in another order than the separate combine launch) — and every counter ends at zero, also when
    /// the same counters serve a second launch. The cluster decode merges as the fused combine does: the same bits.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Fused_split_combine_matches_the_combine_launch_in_any_finishing_order(int order)
    {
        var c = LongDecode();
        var p = ClusterPlan(c.Decode(Multiprocessors));
        Assert.True(p.Splits > 4, $"expected a split-K plan, got {p.Splits} × {p.SplitKeys}");
        var counters = new int[p.Seqs * p.KvHeads];
        var first = DecodeTilingModel.Run(p, DecodeKernel.TensorCore, fusedCombineOrder: order, counters: counters).Output;
        Judge($"long decode, fused combine (order {order})", round => DecodeTilingModel.Run(p, DecodeKernel.TensorCore, roundOutput: round, fusedCombineOrder: order).Output,
            c.References(), c.Cpu(Cpu), bf16P: true);
        for (int launch = 1; launch < 3; launch++)
        {
            Assert.All(counters, x => Assert.Equal(0, x));
            var fused = DecodeTilingModel.Run(p, DecodeKernel.TensorCore, fusedCombineOrder: order + 10 * launch, counters: counters).Output;
            Assert.Equal(first, fused);
        }
        Assert.All(counters, x => Assert.Equal(0, x));
        Assert.Equal(first, DecodeTilingModel.Run(p, DecodeKernel.TensorCoreCluster).Output);
        // A ticket rule off by one (the first split combining) reads splits that have not run: NaN reaches the output.
        var early = DecodeTilingModel.Run(p, DecodeKernel.TensorCore, fusedCombineOrder: order, counters: Enumerable.Repeat(p.Splits - 1, p.Seqs * p.KvHeads).ToArray()).Output;
        Assert.Contains(early, float.IsNaN);
    }

    /// <summary>The NaN poison would show: a used cache slot set to NaN reaches the output (so unused ones are never read).</summary>
    [Fact]
    public void A_poisoned_slot_that_is_read_shows_up_as_nan()
    {
        var c = new PagedCase(AttentionMode.Fused, heads: 2, kvHeads: 1, headDim: 16, blockSize: 4, seed: 9, [new(5, 3)]);
        var d = new PagedCase(AttentionMode.Fused, heads: 2, kvHeads: 1, headDim: 16, blockSize: 4, seed: 9, [new(5, 1)]);
        Assert.DoesNotContain(PrefillTilingModel.Run(c.Prefill()), float.IsNaN);
        foreach (var kernel in DecodeKernels) Assert.DoesNotContain(DecodeTilingModel.Run(d.Decode(Multiprocessors), kernel).Output, float.IsNaN);
        foreach (var x in new[] { c, d })
            x.VCache[x.FlatTables[0] * x.BlockSize * x.KvHeads * x.HeadDim] = float.NaN; // token 0's value row, first dim
        Assert.Contains(PrefillTilingModel.Run(c.Prefill()), float.IsNaN);
        foreach (var kernel in DecodeKernels) Assert.Contains(DecodeTilingModel.Run(d.Decode(Multiprocessors), kernel).Output, float.IsNaN);
    }

    /// <summary>Decode over ≥ 4097 keys next to short sequences: GQA 7, images in front of one.</summary>
    private static PagedCase LongDecode() =>
        new(AttentionMode.Fused, heads: 14, kvHeads: 2, headDim: 64, blockSize: 16, seed: 10,
            [new(0, 1), new(16, 1), new(299, 1, 2, 9, [3, 100]), new(4100, 1)]);

    private float[] CheckPrefill(string name, PagedCase c, PrefillVariant? variant = null)
    {
        var p = c.Prefill();
        return Judge(name, round => PrefillTilingModel.Run(p, roundOutput: round, variant: variant), c.References(), c.Cpu(Cpu), bf16P: true);
    }

    /// <summary>A decode case on one kernel's model; the tensor-core kernel rounds P to bf16, the CUDA-core one does not.</summary>
    private float[] CheckDecode(string name, PagedCase c, DecodeKernel kernel)
    {
        var p = c.Decode(Multiprocessors);
        if (kernel == DecodeKernel.TensorCoreCluster) p = ClusterPlan(p);
        return Judge($"{name} ({kernel})", round => DecodeTilingModel.Run(p, kernel, roundOutput: round).Output, c.References(), c.Cpu(Cpu),
            bf16P: kernel != DecodeKernel.CudaCore);
    }

    /// <summary>
    /// The plan recut for one cluster: the planner's split count held within 2 … 16 (so a cluster always merges, and
    /// short sequences leave some of its CTAs empty), splits of whole 64-key tiles.
    /// </summary>
    private static DecodeModelParams ClusterPlan(DecodeModelParams p)
    {
        int maxKeys = Enumerable.Range(0, p.Seqs).Max(s => p.TextLens[s] + (p.VisK?[s] is not null ? p.VisLens![s] : 0));
        int splits = Math.Clamp(p.Splits, 2, AttentionKernels.MaxClusterSplits);
        int splitKeys = Math.Max(64, ((maxKeys + splits - 1) / splits + 63) / 64 * 64);
        return p with { Splits = splits, SplitKeys = splitKeys };
    }

    /// <summary>Rows that see no key at all must be exactly zero (cross-attention before the first image / without images).</summary>
    private static void AssertZeroRows(PagedCase c, float[] model, string name)
    {
        int width = c.Heads * c.HeadDim, zeroRows = 0;
        for (int r = 0; r < c.Rows; r++)
            if (c.RowVis[r] + c.RowText[r] == 0)
            {
                zeroRows++;
                for (int i = 0; i < width; i++) Assert.True(model[r * width + i] == 0f, $"{name}: row {r} sees nothing but has {model[r * width + i]}");
            }
        Assert.True(zeroRows > 0, $"{name} should have rows without a visible image");
    }

    /// <summary>The bounds on the model's bf16 output (returned) and, sharper, on its fp32 values before that rounding.</summary>
    private float[] Judge(string name, Func<bool, float[]> run, ReferenceResults refs, float[] cpu, bool bf16P)
    {
        var model = run(true);
        Assert.Equal(refs.Exact.Length, model.Length);
        int nan = Array.FindIndex(model, float.IsNaN);
        Assert.True(nan < 0, $"{name}: NaN at element {nan} (unwritten output or a poisoned slot was read)");
        var (errModel, errLowp) = Errors(model, refs.Exact, refs.Lowp);
        double bound = 2 * errLowp + RoundedSlack;
        Assert.True(errModel <= bound, $"{name}: max|model − exact| {errModel:g3} > 2·max|lowp − exact| + {RoundedSlack:g3} = {bound:g3}");
        var (err32, errLowp32) = Errors(run(false), refs.Exact, bf16P ? refs.Lowp32 : refs.Fp32);
        double bound32 = 2 * errLowp32 + Fp32Slack;
        Assert.True(err32 <= bound32, $"{name}, fp32 output: max|model − exact| {err32:g3} > 2·max|lowp − exact| + {Fp32Slack:g3} = {bound32:g3}");
        double errCpu = 0;
        for (int i = 0; i < model.Length; i++) errCpu = Math.Max(errCpu, Math.Abs((double)model[i] - cpu[i]));
        output.WriteLine($"{name}: max|model − exact| {errModel:g3} (lowp {errLowp:g3}); before rounding {err32:g3} (lowp {errLowp32:g3}); max|model − cpu| {errCpu:g3}");
        Assert.True(errCpu <= CpuTolerance, $"{name}: max|model − cpu twin| {errCpu:g3} > {CpuTolerance:g3}");
        return model;
    }

    private static (double Model, double Lowp) Errors(float[] model, double[] exact, float[] lowp)
    {
        double errModel = 0, errLowp = 0;
        for (int i = 0; i < exact.Length; i++)
        {
            double dm = Math.Abs(model[i] - exact[i]);
            errModel = Math.Max(errModel, double.IsNaN(dm) ? double.PositiveInfinity : dm);
            errLowp = Math.Max(errLowp, Math.Abs(lowp[i] - exact[i]));
        }
        return (errModel, errLowp);
    }
}
