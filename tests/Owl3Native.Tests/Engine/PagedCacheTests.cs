using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Engine;
using Owl3Native.Models.Checkpoints;
using Xunit;

namespace Owl3Native.Tests.Engine;

/// <summary>The paged cache against full recomputation: chunking, batching, scattered and reused blocks, poison.</summary>
public sealed class PagedCacheTests(EngineFixture fx) : IClassFixture<EngineFixture>
{
    private const float Tolerance = 1e-4f;

    /// <summary>Logits of the whole prompt in one pass on a fresh runner.</summary>
    private static Tensor FullPass(Owl3Native.Models.Owl3.Owl3Model model, int[] prompt, Tensor? pixels, int[] starts)
    {
        using var runner = new ModelRunner(model, numBlocks: 64, blockSize: 4);
        var seq = runner.Admit(pixels, starts);
        return runner.Step([new StepInput(seq, prompt)], allLogits: true);
    }

    [Theory]
    [InlineData(Owl3Variant.V241101, 1)]
    [InlineData(Owl3Variant.V241101, 3)]
    [InlineData(Owl3Variant.V241101, 5)]
    [InlineData(Owl3Variant.V240728, 1)]
    [InlineData(Owl3Variant.V240728, 4)]
    [InlineData(Owl3Variant.V241014, 3)]
    public void Chunked_prefill_equals_full_pass(Owl3Variant variant, int chunk)
    {
        var model = fx.Model(variant);
        int[] prompt = EngineFixture.Prompt(29, seed: 1);
        int[] starts = [3, 11, 12]; // markers inside, at and straddling chunk boundaries
        var pixels = EngineFixture.Pixels(model, 3, seed: 2);
        var full = FullPass(model, prompt, pixels, starts);

        using var runner = new ModelRunner(model, numBlocks: 64, blockSize: 4);
        var seq = runner.Admit(pixels, starts);
        for (int start = 0; start < prompt.Length; start += chunk)
        {
            int n = Math.Min(chunk, prompt.Length - start);
            var logits = runner.Step([new StepInput(seq, prompt[start..(start + n)])], allLogits: true);
            for (int i = 0; i < n; i++)
                TensorAssertions.Close(full.Row(start + i), logits.Row(i), Tolerance, $"row {start + i}");
        }
    }

    [Fact]
    public void A_batch_of_different_lengths_equals_single_runs()
    {
        var model = fx.Model(Owl3Variant.V240728);
        int[] a = EngineFixture.Prompt(17, seed: 3), b = EngineFixture.Prompt(6, seed: 4), c = EngineFixture.Prompt(23, seed: 5);
        var pa = EngineFixture.Pixels(model, 2, seed: 6);
        var fullA = FullPass(model, a, pa, [2, 9]);
        var fullB = FullPass(model, b, null, []);
        var fullC = FullPass(model, c, EngineFixture.Pixels(model, 1, seed: 7), [20]);

        using var runner = new ModelRunner(model, numBlocks: 64, blockSize: 4);
        var sa = runner.Admit(pa, [2, 9]);
        var sb = runner.Admit(null, []);
        var sc = runner.Admit(EngineFixture.Pixels(model, 1, seed: 7), [20]);
        // One step mixing three prefills, then one mixing a decode token and two prefill chunks.
        var l1 = runner.Step([new StepInput(sa, a[..10]), new StepInput(sb, b), new StepInput(sc, c[..21])], allLogits: true);
        for (int i = 0; i < 10; i++) TensorAssertions.Close(fullA.Row(i), l1.Row(i), Tolerance, $"a{i}");
        for (int i = 0; i < 6; i++) TensorAssertions.Close(fullB.Row(i), l1.Row(10 + i), Tolerance, $"b{i}");
        for (int i = 0; i < 21; i++) TensorAssertions.Close(fullC.Row(i), l1.Row(16 + i), Tolerance, $"c{i}");
        var l2 = runner.Step([new StepInput(sc, c[21..]), new StepInput(sa, a[10..])]);
        TensorAssertions.Close(fullC.Row(22), l2.Row(0), Tolerance, "c last");
        TensorAssertions.Close(fullA.Row(16), l2.Row(1), Tolerance, "a last");
    }

    [Fact]
    public void Scattered_blocks_with_NaN_in_unused_slots_do_not_change_the_output()
    {
        var model = fx.Model(Owl3Variant.V241101);
        int[] prompt = EngineFixture.Prompt(21, seed: 8);
        var pixels = EngineFixture.Pixels(model, 2, seed: 9);
        var full = FullPass(model, prompt, pixels, [4, 13]);

        using var runner = new ModelRunner(model, numBlocks: 40, blockSize: 4);
        // Scatter: take every block, give them back in a shuffled order, so the next allocations are non-contiguous.
        var all = runner.Allocator.Allocate(40);
        runner.Allocator.Free(all.OrderBy(_ => Random.Shared.Next()).ToArray());
        var cache = (CpuKvCache)runner.Storage;
        for (int l = 0; l < cache.Layers; l++)
        {
            Array.Fill(cache.K[l], float.NaN);
            Array.Fill(cache.V[l], float.NaN);
        }
        var seq = runner.Admit(pixels, [4, 13]);
        var logits = runner.Step([new StepInput(seq, prompt[..18])], allLogits: true);
        Assert.NotEqual(Enumerable.Range(seq.Blocks[0].Value, seq.Blocks.Count), seq.Blocks.Select(b => b.Value)); // really scattered
        for (int i = 0; i < 18; i++) TensorAssertions.Close(full.Row(i), logits.Row(i), Tolerance, $"row {i}");
        for (int i = 18; i < 21; i++) // decode steps ending mid-block
            TensorAssertions.Close(full.Row(i), runner.Step([new StepInput(seq, [prompt[i]])]).Row(0), Tolerance, $"step {i}");
    }

    [Fact]
    public void Freed_blocks_are_reused_without_leaking_old_keys()
    {
        var model = fx.Model(Owl3Variant.V240728);
        int[] first = EngineFixture.Prompt(19, seed: 10), second = EngineFixture.Prompt(14, seed: 11);
        var expected = FullPass(model, second, null, []);
        using var runner = new ModelRunner(model, numBlocks: 6, blockSize: 4);
        var a = runner.Admit(EngineFixture.Pixels(model, 1, seed: 12), [5]);
        runner.Step([new StepInput(a, first)]);
        var used = a.Blocks.ToArray();
        runner.Release(a);
        Assert.Equal(0, runner.Allocator.UsedBlocks);
        var b = runner.Admit(null, []);
        var logits = runner.Step([new StepInput(b, second)], allLogits: true);
        Assert.Subset(used.ToHashSet(), b.Blocks.ToHashSet());
        for (int i = 0; i < second.Length; i++) TensorAssertions.Close(expected.Row(i), logits.Row(i), Tolerance, $"row {i}");
    }

    [Fact]
    public void A_step_that_does_not_fit_changes_nothing()
    {
        var model = fx.Model(Owl3Variant.V241101);
        using var runner = new ModelRunner(model, numBlocks: 3, blockSize: 4);
        var seq = runner.Admit(null, []);
        runner.Step([new StepInput(seq, EngineFixture.Prompt(6, seed: 13))]);
        int used = runner.Allocator.UsedBlocks;
        var e = Assert.Throws<KvCacheExhaustedException>(() => runner.Step([new StepInput(seq, EngineFixture.Prompt(9, seed: 14))]));
        Assert.Contains("2 block(s) of 4 tokens requested, 1 free", e.Message);
        Assert.Equal(used, runner.Allocator.UsedBlocks);
        Assert.Equal(6, seq.CachedLength);
        Assert.Equal(6, seq.Tokens.Count);
        runner.Step([new StepInput(seq, [7, 8])]); // still usable
        Assert.Equal(8, seq.CachedLength);
        runner.Release(seq);
        runner.Release(seq); // idempotent
        Assert.Equal(0, runner.Allocator.UsedBlocks);
        Assert.Throws<InvalidOperationException>(() => runner.Step([new StepInput(seq, [1])]));
    }

    [Fact]
    public void Image_count_must_match_marker_count()
    {
        var model = fx.Model(Owl3Variant.V241101);
        using var runner = new ModelRunner(model, numBlocks: 4, blockSize: 4);
        var e = Assert.Throws<ArgumentException>(() => runner.Admit(EngineFixture.Pixels(model, 2, seed: 1), [3]));
        Assert.Contains("1 image marker(s) but 2 crop(s)", e.Message);
    }

    [Fact]
    public void Visual_kv_is_computed_once_per_request_not_per_step()
    {
        var model = fx.Model(Owl3Variant.V240728);
        using var runner = new ModelRunner(model, numBlocks: 16, blockSize: 4);
        var seq = runner.Admit(EngineFixture.Pixels(model, 1, seed: 3), [2]);
        var visual = seq.Visual.Where(v => v is not null).ToArray();
        Assert.Equal(model.Config.HyperLayers.Count, visual.Length);
        var keys = visual[0]!.Keys;
        runner.Step([new StepInput(seq, EngineFixture.Prompt(5, seed: 4))]);
        runner.Step([new StepInput(seq, [9])]);
        Assert.Same(keys, seq.Visual.First(v => v is not null)!.Keys); // the same object through every step
    }

    [Fact]
    public void Marker_starts_out_of_order_are_refused_before_any_work()
    {
        var model = fx.Model(Owl3Variant.V241101);
        using var runner = new ModelRunner(model, numBlocks: 4, blockSize: 4);
        var e = Assert.Throws<ArgumentException>(() => runner.Admit(EngineFixture.Pixels(model, 2, seed: 1), [9, 3]));
        Assert.Contains("non-negative and increasing", e.Message);
        Assert.Throws<ArgumentException>(() => runner.Admit(EngineFixture.Pixels(model, 1, seed: 1), [-1]));
    }

    [Fact]
    public void Long_context_decode_matches_the_full_pass()
    {
        // 600 cached tokens across 38 scattered blocks, then decode steps: the block-table walk at length.
        var model = fx.Model(Owl3Variant.V240728);
        int[] prompt = EngineFixture.Prompt(603, seed: 31);
        var pixels = EngineFixture.Pixels(model, 2, seed: 32);
        using var full = new ModelRunner(model, numBlocks: 64, blockSize: 16);
        var expected = full.Step([new StepInput(full.Admit(pixels, [10, 400]), prompt)], allLogits: true);
        using var runner = new ModelRunner(model, numBlocks: 64, blockSize: 16);
        runner.Allocator.Free(runner.Allocator.Allocate(64).OrderBy(b => (b.Value * 37) % 64).ToArray());
        var seq = runner.Admit(pixels, [10, 400]);
        runner.Step([new StepInput(seq, prompt[..600])]);
        for (int i = 600; i < 603; i++)
            TensorAssertions.Close(expected.Row(i), runner.Step([new StepInput(seq, [prompt[i]])]).Row(0), Tolerance, $"step {i}");
    }
}

/// <summary>Prefix blocks shared between sequences (the prefix cache): shared K/V serve every holder, nobody overwrites them.</summary>
public sealed class SharedPrefixTests(EngineFixture fx) : IClassFixture<EngineFixture>
{
    [Fact]
    public void A_shared_prefix_serves_a_second_sequence_as_a_full_pass_would_and_frees_with_its_last_holder()
    {
        var model = fx.Model(Owl3Variant.V241101);
        int[] prompt = EngineFixture.Prompt(22, seed: 31), tail = EngineFixture.Prompt(5, seed: 32);
        using var runner = new ModelRunner(model, numBlocks: 32, blockSize: 4);
        var a = runner.Admit(null, []);
        runner.Step([new StepInput(a, prompt)]);
        var b = runner.Admit(null, []);
        Assert.Equal(20, runner.Share(a, b, 21)); // whole blocks only: 5 of 4 tokens
        Assert.Equal(6, runner.Allocator.UsedBlocks); // a's 6 blocks, 5 of them held twice
        var shared = runner.Step([new StepInput(b, [.. prompt[20..], .. tail])], allLogits: true);
        using var fresh = new ModelRunner(model, numBlocks: 32, blockSize: 4);
        var c = fresh.Admit(null, []);
        var full = fresh.Step([new StepInput(c, [.. prompt, .. tail])], allLogits: true);
        for (int i = 0; i < shared.Rows; i++)
        {
            float[] want = full.Row(20 + i).ToArray(), got = shared.Row(i).ToArray();
            Assert.True(want.Zip(got).Max(p => Math.Abs(p.First - p.Second)) < 1e-4f, $"row {i} differs from the full pass");
        }
        runner.Release(a);
        Assert.Equal(b.Blocks.Count, runner.Allocator.UsedBlocks); // the shared blocks live on with b
        runner.Release(b);
        Assert.Equal(0, runner.Allocator.UsedBlocks);
    }

    [Fact]
    public void Taking_over_a_prefix_never_writes_into_a_block_another_sequence_shares()
    {
        var model = fx.Model(Owl3Variant.V241101);
        int[] prompt = EngineFixture.Prompt(12, seed: 33);
        using var runner = new ModelRunner(model, numBlocks: 32, blockSize: 4);
        var a = runner.Admit(null, []);
        runner.Step([new StepInput(a, prompt)]); // blocks 0–2, all full
        var b = runner.Admit(null, []);
        runner.Share(a, b, 12); // b holds all three
        var c = runner.Admit(null, []);
        // c takes a over up to token 6 — inside block 1, which b shares: c would write its tokens 6, 7 there.
        Assert.Equal(4, runner.Adopt(a, c, 6));
        Assert.Single(c.Blocks);
    }
}
