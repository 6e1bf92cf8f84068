using Owl3Native.Cuda.Kernels;
using Xunit;

namespace Owl3Native.Cuda.Tests.Attention;

/// <summary>The host-side planning of the attention launches: instantiations, tile lists, split-K plans, bad shapes.</summary>
public sealed class AttentionPlanningTests
{
    [Theory]
    [InlineData(8, 16)]
    [InlineData(16, 16)]
    [InlineData(64, 64)]
    [InlineData(72, 80)]
    [InlineData(128, 128)]
    [InlineData(136, 160)]
    [InlineData(200, 256)]
    [InlineData(256, 256)]
    public void Every_multiple_of_8_up_to_256_has_an_instantiation(int headDim, int padded)
    {
        Assert.Equal(padded, AttentionKernels.PrefillDim(headDim));
        for (int d = 8; d <= 256; d += 8) Assert.True(AttentionKernels.PrefillDim(d) >= d);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(12)]
    [InlineData(264)]
    [InlineData(-8)]
    public void Head_dims_the_kernels_cannot_take_are_refused_by_name(int headDim)
    {
        var e = Assert.Throws<ArgumentException>(() => AttentionKernels.PrefillDim(headDim));
        Assert.Contains(headDim.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
    }

    [Fact]
    public void Shared_memory_fits_the_sm80_opt_in_limit()
    {
        foreach (int d in AttentionKernels.PrefillDims)
        {
            Assert.InRange(AttentionKernels.PrefillSharedBytes(d), 1, 163 * 1024);
            Assert.InRange(AttentionKernels.DecodeSharedBytes(d), 1, 163 * 1024);
        }
    }

    [Fact]
    public void The_tile_list_covers_every_row_once_longest_work_first()
    {
        int[] qStart = [0, 1, 1, 130, 400, 464];
        foreach (int rowsPerCta in new[] { 64, 128 })
        {
            var tiles = AttentionKernels.PrefillTiles(qStart, rowsPerCta);
            var covered = new int[qStart[^1]];
            int lastRow = int.MaxValue;
            for (int i = 0; i < tiles.Length / 2; i++)
            {
                int s = tiles[2 * i], r0 = tiles[2 * i + 1];
                Assert.True(r0 <= lastRow, "tiles are ordered by descending first row (longest remaining work first)");
                lastRow = r0;
                for (int r = r0; r < Math.Min(r0 + rowsPerCta, qStart[s + 1] - qStart[s]); r++) covered[qStart[s] + r]++;
            }
            Assert.All(covered, c => Assert.Equal(1, c));
        }
        Assert.Empty(AttentionKernels.PrefillTiles([0, 0], 128));
        Assert.Throws<ArgumentException>(() => AttentionKernels.PrefillTiles([0, 5, 3], 64));
    }

    [Theory]
    [InlineData(1, 1, 4, 132)]
    [InlineData(1024, 1, 4, 132)]
    [InlineData(32768, 1, 4, 132)]
    [InlineData(32768, 64, 4, 132)]
    [InlineData(131072, 1, 1, 132)]
    [InlineData(100, 7, 2, 1)]
    [InlineData(1_000_000, 1, 1, 132)]
    public void Split_plans_cover_the_longest_sequence(int maxKeys, int seqs, int kvHeads, int sms)
    {
        var (splitKeys, splits) = AttentionKernels.DecodeSplits(maxKeys, seqs, kvHeads, sms, ctasPerMultiprocessor: 3);
        Assert.Equal(0, splitKeys % 64);
        Assert.True(splitKeys >= 64);
        Assert.True((long)splitKeys * splits >= maxKeys, "every key falls in a split");
        Assert.True((long)splitKeys * (splits - 1) < Math.Max(1, maxKeys), "no split past the last key of the longest sequence");
        Assert.InRange(splits, 1, 256);
    }

    // The H200 sweeps (bench/results/gpu/2026-11-26-h200-*, 132 SMs × 3 CTAs, 4 KV heads): at batch 64, 1 split
    // (99 % of copy at 32k keys, 90 % at 4k) and 3 splits (97 %, 85 %) beat 2 splits (76 %, 70 %: a 1.3-wave tail);
    // at batch 1 × 32k keys 64 splits (52 %) beat 32 (43 %), 86 (48 %) and 128 (39 %); CUDA-graph replays (session 3):
    // batch 1 × 4k keys 32 splits 10.6 µs beat 22 (13.1), 16 (13.9) and 8 (20.3); batch 1 × 1k keys 16 splits (1 tile).
    [Theory]
    [InlineData(32768, 64, 1)]
    [InlineData(4096, 64, 1)]
    [InlineData(32768, 1, 64)]
    [InlineData(4096, 1, 32)]
    [InlineData(1024, 1, 16)]
    public void Split_plans_follow_the_measured_sweeps(int maxKeys, int seqs, int expectedSplits)
    {
        var (_, splits) = AttentionKernels.DecodeSplits(maxKeys, seqs, kvHeads: 4, multiprocessors: 132, ctasPerMultiprocessor: 3);
        Assert.Equal(expectedSplits, splits);
    }

    [Theory]
    [InlineData(32768, 96)]
    [InlineData(8192, 128)]
    [InlineData(100_000, 100)]
    public void Split_plans_never_leave_a_mostly_empty_last_wave(int maxKeys, int seqs)
    {
        var (_, splits) = AttentionKernels.DecodeSplits(maxKeys, seqs, kvHeads: 4, multiprocessors: 132, ctasPerMultiprocessor: 3);
        double waves = seqs * 4.0 * splits / (132 * 3);
        Assert.True(waves <= 1 || waves / Math.Ceiling(waves) > 0.75, $"{splits} splits: {waves:F2} waves leave the last one mostly empty");
    }

    [Fact]
    public void Device_default_prefill_kernels_take_the_portable_kernels_tile_lists()
    {
        // A caller plans its CTA list with PrefillRows(headDim) before knowing which kernel the device picks.
        Assert.NotEmpty(AttentionKernels.PrefillArchDefaults);
        foreach (var v in AttentionKernels.PrefillArchDefaults)
        {
            var portable = AttentionKernels.PrefillVariantFor(v.Dim);
            Assert.Equal(portable.Dim, v.Dim);
            Assert.Equal(portable.Rows, v.Rows);
            Assert.Equal(AttentionKernels.PrefillRows(v.Dim), v.Rows);
            Assert.NotEqual(PrefillEngine.MmaSync, v.Engine); // the mma.sync kernels are the portable defaults
            Assert.Contains(v, AttentionKernels.PrefillExperiments); // so the GPU bundle checks and times it
            Assert.True(v.SharedBytes <= 227 * 1024, $"{v.Kernel}: {v.SharedBytes} B of dynamic shared memory");
        }
    }

    [Fact]
    public void A_single_short_sequence_is_spread_over_the_chip_but_never_below_one_tile_per_split()
    {
        var (splitKeys, splits) = AttentionKernels.DecodeSplits(32768, seqs: 1, kvHeads: 4, multiprocessors: 132, ctasPerMultiprocessor: 3);
        Assert.InRange(4 * splits, 132, 132 * 3); // at least one CTA per multiprocessor, one wave
        Assert.Equal((64, 1), AttentionKernels.DecodeSplits(10, seqs: 1, kvHeads: 1, multiprocessors: 132, ctasPerMultiprocessor: 3));
        Assert.True(splitKeys >= 64);
    }

    [Fact]
    public void Decode_launches_missing_buffers_or_too_wide_groups_are_refused_before_any_gpu_work()
    {
        // The checks run before the kernel is looked up, so a null cache is fine here (no GPU, no context).
        var kernels = new AttentionKernels(null!);
        var ok = new DecodeParams { Q = 1, O = 1, KCache = 1, VCache = 1, TextLens = 1, Seqs = 1, Heads = 8, KvHeads = 1, HeadDim = 64, Splits = 1, SplitKeys = 64, QStride = 512 };
        Assert.Contains("K/V cache", Assert.Throws<ArgumentException>(() => kernels.Decode(null!, ok with { KCache = 0 })).Message);
        Assert.Contains("PartO", Assert.Throws<ArgumentException>(() => kernels.Decode(null!, ok with { Splits = 3 })).Message);
        Assert.Contains("even", Assert.Throws<ArgumentException>(() => kernels.Decode(null!, ok with { QStride = 511 })).Message);
        Assert.Contains("combine", Assert.Throws<ArgumentException>(() => kernels.Decode(null!, ok with { Splits = 257, PartO = 1, PartMl = 1 })).Message);
        Assert.Contains("at most 16", Assert.Throws<ArgumentException>(() => kernels.Decode(null!, ok with { Heads = 17 * 2, KvHeads = 2 })).Message);
        Assert.Contains("at most 8", Assert.Throws<ArgumentException>(() => kernels.Decode(null!, ok with { Heads = 9 }, DecodeKernel.CudaCore)).Message);
        Assert.Contains("multiples of 8", Assert.Throws<ArgumentException>(() => kernels.Decode(null!, ok with { HeadDim = 60 })).Message);
    }
    /// <summary>
    /// The cluster plan: where the launch-pair plan splits and even clusters of at most 16 stay within one wave of CTAs
    /// (batch 1 at 1k–32k keys on 132 SMs), whole-tile splits, at most 16, none of them empty, covering every key;
    /// elsewhere (one split, batch 64) exactly the launch-pair plan.
    /// </summary>
    [Fact]
    public void Cluster_plans_take_one_wave_steps_only_and_cover_every_key_with_at_most_16_splits()
    {
        const int sms = 132, kvHeads = 4, ctas = 3;
        Assert.Equal((64, 16, true), AttentionKernels.ClusterDecodeSplits(1024, 1, kvHeads, sms, ctas));
        Assert.Equal((2048, 16, true), AttentionKernels.ClusterDecodeSplits(32768, 1, kvHeads, sms, ctas));
        var (k64, s64) = AttentionKernels.DecodeSplits(1024, 64, kvHeads, sms, ctas);
        Assert.Equal((k64, s64, false), AttentionKernels.ClusterDecodeSplits(1024, 64, kvHeads, sms, ctas));
        int clustered = 0;
        foreach (int seqs in new[] { 1, 2, 3, 8, 64 })
            foreach (int keys in new[] { 1, 63, 64, 65, 700, 1024, 4100, 16384, 32768, 131072 })
            {
                var (splitKeys, splits) = AttentionKernels.DecodeSplits(keys, seqs, kvHeads, sms, ctas);
                var plan = AttentionKernels.ClusterDecodeSplits(keys, seqs, kvHeads, sms, ctas);
                if (!plan.Cluster)
                {
                    Assert.Equal((splitKeys, splits), (plan.SplitKeys, plan.Splits));
                    Assert.True(splits == 1 || (long)seqs * kvHeads * Math.Min(splits, 16) > sms, $"{seqs} × {keys}: a one-wave split plan left as a launch pair");
                    continue;
                }
                clustered++;
                Assert.True(splits > 1, $"{seqs} × {keys}: clustered a one-split plan");
                Assert.InRange(plan.Splits, 1, AttentionKernels.MaxClusterSplits);
                Assert.True(plan.Splits <= splits, $"{seqs} × {keys}: {plan.Splits} cluster splits for a plan of {splits}");
                Assert.Equal(0, plan.SplitKeys % 64);
                Assert.True((long)plan.Splits * plan.SplitKeys >= keys && (long)(plan.Splits - 1) * plan.SplitKeys < keys, $"{seqs} × {keys}: {plan.Splits} × {plan.SplitKeys}");
                Assert.True((long)seqs * kvHeads * plan.Splits <= sms, $"{seqs} × {keys}: {plan.Splits} cluster splits exceed a wave");
            }
        Assert.True(clustered >= 8, $"only {clustered} shapes took a cluster plan");
        // A device that schedules clusters of 8 at most gets plans of at most 8; one that schedules none, the launch pair's.
        Assert.Equal((128, 8, true), AttentionKernels.ClusterDecodeSplits(1024, 1, kvHeads, sms, ctas, maxCluster: 8));
        Assert.Equal((4096, 8, true), AttentionKernels.ClusterDecodeSplits(32768, 1, kvHeads, sms, ctas, maxCluster: 8));
        var (k1, s1) = AttentionKernels.DecodeSplits(1024, 1, kvHeads, sms, ctas);
        Assert.Equal((k1, s1, false), AttentionKernels.ClusterDecodeSplits(1024, 1, kvHeads, sms, ctas, maxCluster: 0));
    }

    /// <summary>
    /// Every decode kernel the host can name exists, with a budget, in the file it is loaded from: two stages at every
    /// padded head dim (portable and cluster), three at the models' 64 and 128; other stage counts are refused by name.
    /// </summary>
    [Fact]
    public void Every_decode_kernel_the_host_names_is_declared_in_its_file()
    {
        var portable = KernelSources.File("attention_decode_paged.cu").Budgets.Select(b => b.Kernel).ToHashSet();
        var cluster = KernelSources.File(AttentionKernels.ClusterDecodeFile).Budgets.Select(b => b.Kernel).ToHashSet();
        foreach (int dp in AttentionKernels.PrefillDims)
            foreach (int stages in AttentionKernels.DecodeStageDims.Contains(dp) ? new[] { 2, 3 } : [2])
            {
                Assert.Contains(AttentionKernels.DecodeKernelName(dp, stages, cluster: false), portable);
                Assert.Contains(AttentionKernels.DecodeKernelName(dp, stages, cluster: true), cluster);
            }
        Assert.Equal("attention_decode_tc_d128_bf16", AttentionKernels.DecodeKernelName(128, 2, cluster: false));
        Assert.Equal("attention_decode_cluster_s3_d64_bf16", AttentionKernels.DecodeKernelName(64, 3, cluster: true));
        Assert.Contains("3-stage decode kernel at head dim 80", Assert.Throws<ArgumentException>(() => AttentionKernels.DecodeKernelName(80, 3, cluster: false)).Message);
        Assert.Throws<ArgumentException>(() => AttentionKernels.DecodeKernelName(128, 4, cluster: false));
        // Shared memory: a third stage is half again; every form fits one multiprocessor of an H100 (227 KiB a CTA).
        Assert.Equal(AttentionKernels.DecodeSharedBytes(128) * 3 / 2, AttentionKernels.DecodeSharedBytes(128, 3));
        Assert.True(AttentionKernels.DecodeSharedBytes(256) + 2048 <= 227 * 1024 && AttentionKernels.DecodeSharedBytes(128, 3) + 3072 <= 227 * 1024);
    }
}
