using Owl3Native.Cuda.Model;
using Owl3Native.Cuda.Runtime;
using Owl3Native.Engine;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Tests.Engine;

/// <summary>
/// The host side of `--device cuda`: how an engine step is cut into device steps, and what loading does where there is
/// no GPU. (The device forward itself is judged against the CPU by owl3-gpu-check: DeviceEngineConformance.)
/// </summary>
public sealed class DeviceTextForwardTests
{
    private static DeviceSeq[] Seqs(params int[] news) => [.. news.Select(n => new DeviceSeq(0, n, [0]))];

    [Fact]
    public void A_step_that_fits_is_one_device_step_with_every_sequence_whole()
    {
        var steps = DeviceTextForward.Pack(Seqs(30, 1, 1, 2), 4096);
        var only = Assert.Single(steps);
        Assert.Equal([new(0, 0, 30), new(1, 0, 1), new(2, 0, 1), new(3, 0, 2)], only);
    }

    [Fact]
    public void A_larger_step_is_cut_at_the_budget_and_a_long_sequence_goes_on_in_the_next_device_step()
    {
        var steps = DeviceTextForward.Pack(Seqs(30, 25, 70), 32);
        Assert.Equal(4, steps.Length);
        Assert.Equal([new(0, 0, 30), new(1, 0, 2)], steps[0]);
        Assert.Equal([new(1, 2, 23), new(2, 0, 9)], steps[1]);
        Assert.Equal([new(2, 9, 32)], steps[2]);
        Assert.Equal([new(2, 41, 29)], steps[3]);
    }

    [Fact]
    public void Random_steps_are_cut_into_pieces_that_cover_each_sequence_once_in_order_within_the_budget()
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int budget = rng.Next(1, 100);
            int[] news = [.. Enumerable.Range(0, rng.Next(1, 12)).Select(_ => rng.Next(1, 300))];
            var steps = DeviceTextForward.Pack(Seqs(news), budget);
            Assert.All(steps, s => Assert.InRange(s.Sum(p => p.Count), 1, budget));
            Assert.All(steps, s => Assert.Equal(s.Length, s.Select(p => p.Seq).Distinct().Count())); // a sequence once per device step
            for (int q = 0; q < news.Length; q++)
            {
                // The pieces of sequence q, in device-step order, tile [0, New) without gap or overlap.
                var pieces = steps.SelectMany(s => s.Where(p => p.Seq == q)).ToArray();
                int at = 0;
                foreach (var p in pieces)
                {
                    Assert.Equal(at, p.Start);
                    Assert.True(p.Count > 0);
                    at += p.Count;
                }
                Assert.Equal(news[q], at);
            }
            // Only the last device step may be less than full.
            Assert.All(steps[..^1], s => Assert.Equal(budget, s.Sum(p => p.Count)));
        }
    }

    [Fact]
    public void Loading_on_cuda_without_a_gpu_says_why_and_with_one_greedy_decoding_starts_as_on_the_cpu()
    {
        string? noGpu = null;
        try
        {
            using var ctx = CudaContext.Open();
        }
        catch (GpuUnavailableException e)
        {
            noGpu = e.Reason;
        }
        PromptMessage[] q = [new(PromptRole.User, "Hi")];
        var settings = new GenerationSettings(MaxNewTokens: 4, Temperature: 0);
        if (noGpu is not null)
        {
            var e = Assert.Throws<GpuUnavailableException>(() => Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(Device: "cuda")));
            Assert.Equal(noGpu, e.Reason);
            using var cpu = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(Device: "cpu")); // nothing was left half-open
            Assert.Equal(4, cpu.Generate(q, [], settings).TokenIds.Count);
            return;
        }
        using (var gpu = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(Device: "cuda")))
        using (var cpu = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(Device: "cpu")))
        {
            Assert.NotNull(gpu.Runner.Device);
            Assert.Equal(cpu.Generate(q, [], settings).TokenIds[0], gpu.Generate(q, [], settings).TokenIds[0]);
        }
    }
}
