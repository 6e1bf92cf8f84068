using Owl3Native.Engine;
using Owl3Native.Engine.Sampling;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Owl3;
using Owl3Native.TestKit;
using Owl3Native.Verification;
using Xunit;

namespace Owl3Native.Tests.Engine;

public sealed class GeneratorTests(EngineFixture fx) : IClassFixture<EngineFixture>
{
    private static GenerationOptions Greedy(int max, params int[] stop) => new(max, SamplingParams.Greedy, stop);

    [Fact]
    public void Greedy_generation_reproduces_the_golden_tokens_of_every_case()
    {
        using var ckpt = Owl3Checkpoint.Open(SharedData.Golden("tiny-a"));
        using var golden = GoldenSet.Open(SharedData.Golden("tiny-a"));
        var model = new Owl3Model(ckpt, new Owl3Native.Core.Cpu.CpuBackend());
        using var runner = new ModelRunner(model, numBlocks: 64, blockSize: 8);
        var requests = new List<GenerationRequest>();
        var expected = new List<long[]>();
        foreach (var (name, c) in golden.Cases.Where(c => golden.Has($"gen.{c.Name}.new_tokens")))
        {
            int[] ids = golden.Longs($"case.{name}.input_ids").Select(v => (int)v).ToArray();
            var pixels = golden.Has($"case.{name}.pixel_values") ? golden.Floats($"case.{name}.pixel_values") : null;
            requests.Add(new GenerationRequest(ids, pixels, GoldenSet.MarkerStarts(c, 1)[0], Greedy(16)));
            expected.Add(golden.Longs($"gen.{name}.new_tokens"));
        }
        // All five cases in one batch: different lengths and image counts advance together.
        var results = new Generator(runner, prefillChunk: 7).Generate(requests);
        for (int i = 0; i < results.Count; i++)
        {
            Assert.Equal(expected[i].Select(v => (int)v), results[i].Tokens);
            Assert.Equal(FinishReason.Length, results[i].Reason);
        }
        Assert.Equal(0, runner.Allocator.UsedBlocks);
    }

    [Fact]
    public void A_stop_token_ends_the_sequence_and_is_reported()
    {
        var model = fx.Model(Owl3Variant.V241101);
        using var runner = new ModelRunner(model, numBlocks: 32, blockSize: 4);
        int[] prompt = EngineFixture.Prompt(9, seed: 21);
        var free = new Generator(runner).Generate([new GenerationRequest(prompt, null, [], Greedy(6))])[0];
        int stopAt = free.Tokens[2];
        int firstIndex = free.Tokens.ToList().IndexOf(stopAt);
        var stopped = new Generator(runner).Generate([new GenerationRequest(prompt, null, [], Greedy(6, stopAt))])[0];
        Assert.Equal(FinishReason.Stop, stopped.Reason);
        Assert.Equal(free.Tokens.Take(firstIndex + 1), stopped.Tokens);
    }

    [Fact]
    public void Stop_strings_use_the_decoded_text()
    {
        var model = fx.Model(Owl3Variant.V240728);
        using var runner = new ModelRunner(model, numBlocks: 32, blockSize: 4);
        int[] prompt = EngineFixture.Prompt(7, seed: 22);
        static string Decode(IReadOnlyList<int> t) => string.Concat(t.Select(x => $"<{x}>"));
        var free = new Generator(runner).Generate([new GenerationRequest(prompt, null, [], Greedy(5))])[0];
        var options = Greedy(5) with { StopStrings = [$"<{free.Tokens[1]}>"], Decode = Decode };
        var stopped = new Generator(runner).Generate([new GenerationRequest(prompt, null, [], options)])[0];
        Assert.Equal(FinishReason.Stop, stopped.Reason);
        Assert.True(stopped.Tokens.Count <= 2);
    }

    [Fact]
    public void Cancelling_mid_stream_frees_every_block()
    {
        var model = fx.Model(Owl3Variant.V241014);
        using var runner = new ModelRunner(model, numBlocks: 64, blockSize: 4);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        var requests = new[]
        {
            new GenerationRequest(EngineFixture.Prompt(11, seed: 23), EngineFixture.Pixels(model, 1, seed: 24), [3], Greedy(50)),
            new GenerationRequest(EngineFixture.Prompt(5, seed: 25), null, [], Greedy(50)),
        };
        var results = new Generator(runner).Generate(requests, t => { if (++seen == 5) cts.Cancel(); }, cts.Token);
        Assert.All(results, r => Assert.Equal(FinishReason.Cancelled, r.Reason));
        Assert.All(results, r => Assert.InRange(r.Tokens.Count, 1, 4));
        Assert.Equal(0, runner.Allocator.UsedBlocks);
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_and_seed_dependent()
    {
        var model = fx.Model(Owl3Variant.V241101);
        using var runner = new ModelRunner(model, numBlocks: 64, blockSize: 4);
        int[] prompt = EngineFixture.Prompt(8, seed: 26);
        GenerationOptions Sampled(ulong seed) => new(12, new SamplingParams(temperature: 1.5f, topK: 0, topP: 1f, seed: seed), []);
        var gen = new Generator(runner);
        var a = gen.Generate([new GenerationRequest(prompt, null, [], Sampled(1))])[0].Tokens;
        var b = gen.Generate([new GenerationRequest(prompt, null, [], Sampled(1))])[0].Tokens;
        var c = gen.Generate([new GenerationRequest(prompt, null, [], Sampled(2))])[0].Tokens;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Too_long_prompts_are_refused_before_anything_runs()
    {
        var model = fx.Model(Owl3Variant.V241101);
        using var runner = new ModelRunner(model, numBlocks: 8, blockSize: 4);
        var e = Assert.Throws<ArgumentException>(() => new Generator(runner).Generate(
            [new GenerationRequest(new int[model.Config.MaxPositionEmbeddings], null, [], Greedy(1))]));
        Assert.Contains("does not fit the model's context", e.Message);
        Assert.Equal(0, runner.Allocator.UsedBlocks);
    }

    [Fact]
    public void Terminators_come_from_generation_config_else_the_tokenizer()
    {
        Assert.Equal(new HashSet<int> { 502, 500 }, Terminators.Resolve(fx.Checkpoint(Owl3Variant.V241101)).ToHashSet());
        using var dir = new TempDirectory();
        CheckpointMaker.Write(dir.Path, new MakeTinyOptions(Owl3Variant.V241101));
        File.Delete(Path.Combine(dir.Path, "generation_config.json"));
        using var ckpt = Owl3Checkpoint.Open(dir.Path);
        Assert.Equal(new HashSet<int> { 500, 502 }, Terminators.Resolve(ckpt).ToHashSet()); // <|endoftext|>, <|im_end|> by text
    }
}
