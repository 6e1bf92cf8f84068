using Owl3Native.Engine;
using Owl3Native.Processing;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Tests.Api;

/// <summary>Continuous batching: concurrent requests share steps and still produce exactly what each produces alone.</summary>
public sealed class SchedulerTests
{
    private static string Image(string name) => TestMedia.Image(name);

    [Fact]
    public async Task Concurrent_requests_give_the_same_tokens_as_sequential_ones()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(KvBlocks: 256));
        var requests = new (PromptMessage[] Messages, MediaSource[] Media, int Max)[]
        {
            ([new(PromptRole.User, "<|image|>Describe this image.")], [MediaSource.ImageFile(Image("grad_500x500.png"))], 20),
            ([new(PromptRole.User, "Hello there, how are you?")], [], 9),
            ([new(PromptRole.User, "<|image|>And this one?")], [MediaSource.ImageFile(Image("grad_1280x720.png"))], 14),
            ([new(PromptRole.System, "Be brief."), new(PromptRole.User, "What is a cut image?")], [], 25),
        };
        var alone = requests.Select(r => engine.Generate(r.Messages, r.Media, new GenerationSettings(MaxNewTokens: r.Max, Temperature: 0)).TokenIds).ToArray();
        var together = await Task.WhenAll(requests.Select(r => Task.Run(() =>
            engine.Generate(r.Messages, r.Media, new GenerationSettings(MaxNewTokens: r.Max, Temperature: 0)).TokenIds)));
        for (int i = 0; i < requests.Length; i++) Assert.Equal(alone[i], together[i]);
        Assert.Equal(0, engine.Runner.Allocator.UsedBlocks);
        Assert.Equal(0, engine.Scheduler.Running);
    }

    [Fact]
    public async Task MaxBatch_bounds_the_running_sequences_and_the_rest_queue_in_order()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(MaxBatch: 2, PrefillChunk: 7));
        var settings = new GenerationSettings(MaxNewTokens: 24, Temperature: 0);
        PromptMessage[] question = [new(PromptRole.User, "Count to ten, slowly and clearly.")];
        var alone = engine.Generate(question, [], settings).TokenIds;
        int most = 0;
        using var watch = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!watch.IsCancellationRequested) { most = Math.Max(most, engine.Scheduler.Running); await Task.Delay(1); }
        });
        var results = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Task.Run(() => engine.Generate(question, [], settings).TokenIds)));
        watch.Cancel();
        await watcher;
        Assert.All(results, r => Assert.Equal(alone, r)); // a 7-token prefill chunk changes nothing either
        Assert.InRange(most, 1, 2);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(MaxBatch: 0)));
        Assert.Contains("MaxBatch", e.Message);
    }

    [Fact]
    public async Task Requests_wait_for_blocks_instead_of_failing_when_the_cache_is_small()
    {
        // 12 blocks of 16 tokens: two ~60-token conversations cannot both hold their cache at once.
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(KvBlocks: 12));
        var settings = new GenerationSettings(MaxNewTokens: 60, Temperature: 0);
        PromptMessage[] question = [new(PromptRole.User, "<|image|>Describe this image in detail.")];
        var alone = engine.Generate(question, [MediaSource.ImageFile(Image("grad_500x500.png"))], settings).TokenIds;
        var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
            engine.Generate(question, [MediaSource.ImageFile(Image("grad_500x500.png"))], settings).TokenIds)));
        Assert.All(results, r => Assert.Equal(alone, r));
        Assert.Equal(0, engine.Runner.Allocator.UsedBlocks);
    }

    [Fact]
    public async Task Disposing_the_engine_fails_running_and_queued_requests_even_with_a_stalled_reader()
    {
        var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(MaxBatch: 1));
        PromptMessage[] question = [new(PromptRole.User, "Count to one thousand.")];
        var settings = new GenerationSettings(MaxNewTokens: 1000, Temperature: 0);
        // A stream whose reader takes one update and then stalls: its sequence waits for the reader forever.
        var stalled = engine.GenerateAsync(question, [], settings).GetAsyncEnumerator();
        Assert.True(await stalled.MoveNextAsync());
        var queued = Task.Run(() => engine.Generate(question, [], settings)); // waits behind it (MaxBatch 1)
        for (int i = 0; i < 500 && engine.Scheduler.Waiting == 0; i++) await Task.Delay(10);
        var dispose = Task.Run(engine.Dispose);
        Assert.Same(dispose, await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromSeconds(30)))); // it used to wait for the reader
        await Assert.ThrowsAsync<ObjectDisposedException>(() => queued);
        await Assert.ThrowsAnyAsync<Exception>(async () => { while (await stalled.MoveNextAsync()) { } });
        Assert.Throws<ObjectDisposedException>(() => engine.Generate(question, [], settings));
    }

    [Fact]
    public async Task A_slow_stream_reader_does_not_stall_other_sequences()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        var settings = new GenerationSettings(MaxNewTokens: 200, Temperature: 0);
        await using var slow = engine.GenerateAsync([new(PromptRole.User, "Tell a long story.")], [], settings).GetAsyncEnumerator();
        Assert.True(await slow.MoveNextAsync()); // then stop reading: this sequence pauses after a few tokens
        var other = Task.Run(() => engine.Generate([new(PromptRole.User, "Hello!")], [], new GenerationSettings(MaxNewTokens: 30, Temperature: 0)));
        Assert.Same(other, await Task.WhenAny(other, Task.Delay(TimeSpan.FromSeconds(60))));
        Assert.Equal(30, (await other).TokenIds.Count);
        int read = 1;
        while (await slow.MoveNextAsync()) read++;
        Assert.True(read > 200); // every token (plus the final update) still arrives
    }
}
