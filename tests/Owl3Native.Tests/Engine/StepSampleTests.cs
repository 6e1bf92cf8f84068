using Owl3Native.Engine;
using Owl3Native.Engine.Sampling;
using Owl3Native.Models.Checkpoints;
using Xunit;

namespace Owl3Native.Tests.Engine;

/// <summary>
/// <see cref="ModelRunner.StepSample"/>: the step that chooses tokens where the logits are (the scheduler's path; on the
/// device only the ids come back). On the CPU it must equal a step plus the Sampler on the same logits and history.
/// </summary>
public sealed class StepSampleTests(EngineFixture fx) : IClassFixture<EngineFixture>
{
    [Fact]
    public void Tokens_equal_a_step_then_the_sampler_on_the_same_logits_with_the_steps_tokens_in_the_history()
    {
        var model = fx.Model(Owl3Variant.V241101);
        using var a = new ModelRunner(model, numBlocks: 64, blockSize: 4);
        using var b = new ModelRunner(model, numBlocks: 64, blockSize: 4);
        int[] p0 = EngineFixture.Prompt(9, seed: 3), p1 = EngineFixture.Prompt(6, seed: 4), p2 = EngineFixture.Prompt(11, seed: 5);
        var settings = new[]
        {
            new SamplingParams(temperature: 0.8f, topK: 20, topP: 0.9f, repetitionPenalty: 1.3f, seed: 7), // the penalty reads the history
            SamplingParams.Greedy,
            new SamplingParams(temperature: 1.2f, seed: 11),
        };
        var sa = new[] { a.Admit(null, []), a.Admit(null, []), a.Admit(null, []) };
        var sb = new[] { b.Admit(null, []), b.Admit(null, []), b.Admit(null, []) };
        // Row 1 is a prefill chunk that does not end its prompt: nothing sampled there.
        int[][] feed = [p0, p1[..3], p2];
        SampleRequest?[] asks = [new(settings[0], 5, 0), null, new(settings[2], 9, 0)];
        var tokens = a.StepSample(Inputs(sa, feed), asks);
        var logits = b.Step(Inputs(sb, feed));
        Assert.Equal(-1, tokens[1]);
        foreach (int i in new[] { 0, 2 })
            Assert.Equal(Sampler.Sample(logits.Row(i).ToArray(), sb[i].Tokens.ToArray(), settings[i], asks[i]!.Value.Stream, 0), tokens[i]);
        // Decode steps of all three (row 1 finishes its prompt first), the penalised row's history growing.
        feed = [[tokens[0]], p1[3..], [tokens[2]]];
        for (int step = 1; step <= 4; step++)
        {
            asks = [new(settings[0], 5, step), new(settings[1], 6, step - 1), new(settings[2], 9, step)];
            var chosen = a.StepSample(Inputs(sa, feed), asks);
            logits = b.Step(Inputs(sb, feed));
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(Sampler.Sample(logits.Row(i).ToArray(), sb[i].Tokens.ToArray(), settings[i], asks[i]!.Value.Stream, asks[i]!.Value.Step), chosen[i]);
                Assert.Equal(sb[i].Tokens, sa[i].Tokens);
            }
            feed = [.. chosen.Select(t => new[] { t })];
        }
    }

    [Fact]
    public void A_step_that_does_not_fit_changes_nothing_and_the_entries_must_match_the_inputs()
    {
        var model = fx.Model(Owl3Variant.V240728);
        using var runner = new ModelRunner(model, numBlocks: 2, blockSize: 4);
        var s = runner.Admit(null, []);
        Assert.Throws<ArgumentException>(() => runner.StepSample([new StepInput(s, [1, 2])], []));
        Assert.Throws<KvCacheExhaustedException>(() => runner.StepSample([new StepInput(s, EngineFixture.Prompt(9, seed: 1))], [new SampleRequest(SamplingParams.Greedy, 0, 0)]));
        Assert.Equal(0, s.CachedLength);
        Assert.Equal(0, runner.Allocator.UsedBlocks);
    }

    private static StepInput[] Inputs(SequenceState[] seqs, int[][] feed) => [.. seqs.Select((s, i) => new StepInput(s, feed[i]))];
}
