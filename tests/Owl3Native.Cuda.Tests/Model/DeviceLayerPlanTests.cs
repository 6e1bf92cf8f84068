using Owl3Native.Cuda.Checks;
using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Model;
using Xunit;

namespace Owl3Native.Cuda.Tests.Model;

/// <summary>The host side of the device layer: step plans, layer shapes, the check's weights (no GPU needed).</summary>
public sealed class DeviceLayerPlanTests
{
    [Fact]
    public void A_prefill_plan_gives_each_new_token_its_position_and_cache_slot()
    {
        var plan = StepPlan.Of([new DeviceSeq(0, 3, [5]), new DeviceSeq(14, 4, [2, 9])], blockSize: 16);
        Assert.False(plan.IsDecode);
        Assert.Equal(7, plan.Tokens);
        Assert.Equal([0, 1, 2, 14, 15, 16, 17], plan.Positions);
        // Sequence 1 crosses from block 2 (slots 32 + 14, 32 + 15) into block 9 (slots 144, 145).
        Assert.Equal([80, 81, 82, 46, 47, 144, 145], plan.Slots);
        Assert.Equal([0, 3, 7], plan.SeqQStart);
        Assert.Equal([2, 6], plan.LastRows);
        Assert.Equal([0, 14], plan.SeqPos);
        Assert.Equal([3, 18], plan.TextLens);
        Assert.Equal(2, plan.MaxBlocks);
        Assert.Equal([5, 0, 2, 9], plan.BlockTables); // padded to the longest table
    }

    [Fact]
    public void A_mixed_step_serves_its_leading_single_token_sequences_by_decode_and_lists_prefill_tiles_for_the_rest()
    {
        // Two decoding sequences (the scheduler puts them first), then a 70-token chunk and a 1-token chunk: only the leading
        // run of one-token sequences is the decode part; a one-token chunk after a longer one stays in the prefill part.
        var plan = StepPlan.Of([new DeviceSeq(40, 1, [1, 2, 3]), new DeviceSeq(9, 1, [4]), new DeviceSeq(0, 70, [5, 6, 7, 8, 9]), new DeviceSeq(3, 1, [10])], blockSize: 16);
        Assert.False(plan.IsDecode);
        Assert.Equal(2, plan.DecodeSeqs);
        Assert.Equal([0, 1, 2, 72, 73], plan.SeqQStart);
        Assert.Equal(41, plan.DecodeKeysOf(2)); // the longest decode row: 40 cached + 1
        // The prefill part's CTA list counts sequences from the first prefill one, rows within each (64-row tiles).
        var tiles = AttentionKernels.PrefillTiles(plan.SeqQStart.AsSpan(plan.DecodeSeqs), 64);
        Assert.Equal([0, 64, 0, 0, 1, 0], tiles);
        Assert.Equal(4, StepPlan.Of([new DeviceSeq(40, 1, [1, 2, 3]), new DeviceSeq(9, 1, [4]), new DeviceSeq(0, 1, [5]), new DeviceSeq(3, 1, [10])], 16).DecodeSeqs);
        Assert.Equal(0, StepPlan.Of([new DeviceSeq(0, 5, [1]), new DeviceSeq(9, 1, [4])], 16).DecodeSeqs);
    }

    [Fact]
    public void A_graph_steps_split_plan_is_made_for_a_bucketed_key_count_that_grows_in_steps_of_at_least_256_and_at_most_an_eighth()
    {
        Assert.Equal(0, DecodeArena.PlanKeys(0));
        Assert.Equal(256, DecodeArena.PlanKeys(1));
        Assert.Equal(256, DecodeArena.PlanKeys(256));
        Assert.Equal(512, DecodeArena.PlanKeys(257));
        Assert.Equal(4096 + 512, DecodeArena.PlanKeys(4097)); // an eighth of 8192
        int changes = 0;
        for (int keys = 1, last = 0; keys <= 40_000; keys++)
        {
            int planned = DecodeArena.PlanKeys(keys);
            Assert.InRange(planned, keys, Math.Max(keys + 255, keys + keys / 8 + 1));
            Assert.True(planned >= last); // never shrinks as a sequence grows
            if (planned != last) changes++;
            last = planned;
        }
        Assert.InRange(changes, 1, 60); // a new plan (and graph) a few dozen times over 40k tokens, not every 64
    }

    [Fact]
    public void A_graph_steps_tables_have_a_fixed_width_padded_with_zeros_and_a_wider_table_is_refused()
    {
        var plan = StepPlan.Of([new DeviceSeq(37, 1, [4, 0, 7]), new DeviceSeq(0, 1, [1])], blockSize: 16, tableWidth: 8);
        Assert.Equal(8, plan.MaxBlocks);
        Assert.Equal([4, 0, 7, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], plan.BlockTables);
        Assert.Equal([37, 0], plan.Positions); // the rest as without a width
        Assert.Throws<ArgumentException>(() => StepPlan.Of([new DeviceSeq(37, 1, [4, 0, 7])], blockSize: 16, tableWidth: 2));
    }

    [Theory]
    [InlineData(1, 8)]
    [InlineData(8, 8)]
    [InlineData(9, 16)]
    [InlineData(100, 128)]
    [InlineData(2048, 2048)]
    [InlineData(2049, 4096)]
    public void A_graphs_table_width_is_the_next_power_of_two_so_a_growing_sequence_keeps_its_graph_long(int blocks, int width) =>
        Assert.Equal(width, DecodeArena.TableWidth(blocks));

    [Fact]
    public void A_step_of_one_token_per_sequence_is_a_decode_step()
    {
        var plan = StepPlan.Of([new DeviceSeq(37, 1, [4, 0, 7]), new DeviceSeq(0, 1, [1])], blockSize: 16);
        Assert.True(plan.IsDecode);
        Assert.Equal([37, 0], plan.Positions);
        Assert.Equal([7 * 16 + 5, 16], plan.Slots);
        Assert.Equal([38, 1], plan.TextLens);
        Assert.False(StepPlan.Of([new DeviceSeq(37, 1, [4, 0, 7]), new DeviceSeq(0, 2, [1])], 16).IsDecode);
    }

    [Fact]
    public void Rows_see_the_crops_visible_from_their_position_and_decode_rows_are_their_sequences()
    {
        var twoCrops = new DeviceVisual(tokensPerCrop: 9, visibleFrom: [3, 30]);
        var oneCrop = new DeviceVisual(tokensPerCrop: 9, visibleFrom: [5]);
        var plan = StepPlan.Of([new DeviceSeq(0, 4, [0], null), new DeviceSeq(28, 4, [1, 2], twoCrops)], blockSize: 16);
        Assert.True(plan.HasVisual);
        Assert.Equal([0, 0, 0, 0, 9, 9, 18, 18], plan.VisLens); // positions 28, 29 see crop 0; 30, 31 both crops
        Assert.Equal([0, 18], plan.VisTokens);
        var decode = StepPlan.Of([new DeviceSeq(4, 1, [0], oneCrop), new DeviceSeq(61, 1, [1, 2, 3, 4], twoCrops)], blockSize: 16);
        Assert.True(decode.IsDecode);
        Assert.Equal([0, 18], decode.VisLens); // position 4 is before the marker at 5
        Assert.Equal([9, 18], decode.VisTokens);
        // The decode split plan covers the longest row's visual + text keys: 18 visual + 62 text.
        Assert.Equal(80, decode.DecodeKeys);
        Assert.Equal(0, plan.DecodeKeys);
        Assert.False(StepPlan.Of([new DeviceSeq(0, 2, [0])], 16).HasVisual);
        Assert.Equal([0, 1, 1, 2], new[] { 2, 3, 29, 30 }.Select(twoCrops.VisibleCrops).ToArray());
        Assert.Throws<ArgumentException>(() => new DeviceVisual(9, [30, 3]));
        // Freed visual K/V cannot be planned with (the addresses would dangle).
        oneCrop.Dispose();
        Assert.True(oneCrop.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => StepPlan.Of([new DeviceSeq(4, 1, [0], oneCrop)], 16));
    }

    [Fact]
    public void Steps_that_cannot_be_planned_are_refused_with_the_sequence_named()
    {
        var e = Assert.Throws<ArgumentException>(() => StepPlan.Of([new DeviceSeq(0, 3, [1]), new DeviceSeq(30, 3, [2, 3])], 16));
        Assert.Contains("sequence 1", e.Message);
        Assert.Contains("needs 33", e.Message);
        Assert.Contains("no new token", Assert.Throws<ArgumentException>(() => StepPlan.Of([new DeviceSeq(5, 0, [1])], 16)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => StepPlan.Of([new DeviceSeq(0, 1, [1])], 0));
    }

    [Fact]
    public void Layer_shapes_are_the_released_text_models()
    {
        // spec/CHECKPOINTS.md: hidden, heads, KV heads, intermediate (head dim = hidden / heads).
        foreach (var (s, hidden, heads, kv, inter) in new[] { (Qwen2LayerShape.OneB, 896, 14, 2, 4864), (Qwen2LayerShape.TwoB, 1536, 12, 2, 8960), (Qwen2LayerShape.SevenB, 3584, 28, 4, 18944) })
        {
            Assert.Equal((hidden, heads, kv, inter, hidden / heads), (s.Hidden, s.Heads, s.KvHeads, s.Intermediate, s.HeadDim));
            Assert.Equal(1e-6f, s.RmsEps);
            Assert.Equal(1_000_000, s.RopeTheta);
            s.Validate();
        }
        Assert.Throws<ArgumentException>(() => (Qwen2LayerShape.OneB with { KvHeads = 3 }).Validate());
        Assert.Throws<ArgumentException>(() => (Qwen2LayerShape.OneB with { Intermediate = 4863 }).Validate());
    }

    [Fact]
    public void The_checks_random_weights_have_the_layers_shapes()
    {
        var s = Qwen2LayerShape.OneB;
        var w = LayerConformance.RandomWeights(s, new Random(1));
        Assert.Equal(s.QWidth * s.Hidden, w.Q.Length);
        Assert.Equal(s.KvWidth * s.Hidden, w.K.Length);
        Assert.Equal(s.KvWidth, w.VBias.Length);
        Assert.Equal(s.Hidden * s.QWidth, w.O.Length);
        Assert.Equal(s.Intermediate * s.Hidden, w.Up.Length);
        Assert.Equal(s.Hidden * s.Intermediate, w.Down.Length);
        Assert.All(w.InputNorm, v => Assert.InRange(v, 0.89f, 1.11f));
        // Stacked k | v: the GEMM's output rows are [k | v], as the K/V write reads them (V at kvHeads·headDim).
        var kv = Qwen2LayerWeights.Stack(w.K, w.V);
        Assert.Equal(w.K, kv[..w.K.Length]);
        Assert.Equal(w.V, kv[w.K.Length..]);
    }
}

/// <summary>The device sampler's host side: how a step's rows are laid out for sample_f32 (no GPU needed).</summary>
public sealed class DeviceSamplerLayoutTests
{
    [Fact]
    public void Rows_are_laid_out_as_the_kernel_reads_them_and_only_penalised_rows_carry_their_history()
    {
        DeviceSampleRow[] rows =
        [
            new(0.7f, 40, 0.9f, 1.3f, [5, 6, 7], Seed: 11, Stream: 3, Step: 9),   // penalised: its history travels
            new(0f, 0, 1f, 1f, [8, 9], Seed: 0, Stream: 4, Step: 2),              // no penalty: its history is not read
            new(1.1f, 0, 0.5f, 1.1f, [1], Seed: 12, Stream: 5, Step: 0),
        ];
        var (ints, floats, longs, history) = DeviceSampler.Layout(rows, vocab: 16);
        Assert.Equal(4, history);
        // offsets [0, 3, 3, 4] | top-k | step | ids (zeros, the kernel's output) | histories
        Assert.Equal([0, 3, 3, 4, 40, 0, 0, 9, 2, 0, 0, 0, 0, 5, 6, 7, 1], ints);
        Assert.Equal([0.7f, 0f, 1.1f, 0.9f, 1f, 0.5f, 1.3f, 1f, 1.1f], floats);
        Assert.Equal([11UL, 0, 12, 3, 4, 5], longs);
        var e = Assert.Throws<ArgumentException>(() => DeviceSampler.Layout([new(1f, 0, 1f, 1.2f, [3, 16], 0, 0, 0)], vocab: 16));
        Assert.Contains("history id 16", e.Message);
        DeviceSampler.Layout([new(1f, 0, 1f, 1f, [99], 0, 0, 0)], vocab: 16); // unread without a penalty: not checked
    }
}
