using Owl3Native.Processing;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Tests.Api;

/// <summary>Progress reports, asynchronous loading and the memory-sized KV cache.</summary>
public sealed class EngineOptionsTests
{
    private static readonly string Image = Path.Combine(SharedData.Root, "golden", "processor", "images", "grad_500x500.png");

    /// <summary>Records reports synchronously on the reporting thread (Progress&lt;T&gt; would post them elsewhere).</summary>
    private sealed class Recorder : IProgress<EngineProgress>
    {
        public List<EngineProgress> Reports { get; } = [];
        public void Report(EngineProgress value) { lock (Reports) Reports.Add(value); }
    }

    [Fact]
    public void Loading_and_image_encoding_report_progress_and_per_crop_encoding_changes_no_token()
    {
        var recorder = new Recorder();
        PromptMessage[] q = [new(PromptRole.User, "<|image|>Describe this image.")];
        var settings = new GenerationSettings(MaxNewTokens: 10, Temperature: 0);
        using var reported = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(Progress: recorder, ImageCacheBytes: 0));
        Assert.Equal([0, 1, 2, 3], recorder.Reports.Where(r => r.Stage == EngineStage.Loading).Select(r => r.Done));
        Assert.All(recorder.Reports, r => Assert.Equal(EngineStage.Loading, r.Stage));
        recorder.Reports.Clear();
        var tokens = reported.Generate(q, [MediaSource.ImageFile(Image)], settings).TokenIds;
        var encoding = recorder.Reports.Where(r => r.Stage == EngineStage.EncodingImages).ToArray();
        int crops = encoding[0].Total;
        Assert.True(crops > 1);
        Assert.Equal(Enumerable.Range(0, crops + 1), encoding.Select(r => r.Done)); // 0, 1, …, crops
        using var quiet = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(ImageCacheBytes: 0));
        Assert.Equal(quiet.Generate(q, [MediaSource.ImageFile(Image)], settings).TokenIds, tokens); // batched encoding = per-crop
    }

    /// <summary>A progress sink that throws while images are encoded (as a device fault or out-of-memory there would).</summary>
    private sealed class Faulty : IProgress<EngineProgress>
    {
        public void Report(EngineProgress value)
        {
            if (value.Stage == EngineStage.EncodingImages) throw new IOException("the sink failed");
        }
    }

    [Fact]
    public void An_error_while_admitting_a_request_fails_that_request_and_the_engine_serves_the_next()
    {
        // Admission runs on the scheduler's thread: before, only argument and cache errors were caught there, and any
        // other exception (a device error while encoding images) ended the process.
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(Progress: new Faulty(), ImageCacheBytes: 0));
        var settings = new GenerationSettings(MaxNewTokens: 3, Temperature: 0);
        var e = Assert.ThrowsAny<Exception>(() => engine.Generate([new(PromptRole.User, "<|image|>Describe this image.")], [MediaSource.ImageFile(Image)], settings));
        Assert.Contains("the sink failed", e.ToString());
        Assert.Equal(3, engine.Generate([new(PromptRole.User, "Hi")], [], settings).TokenIds.Count);
        Assert.Equal(0, engine.Runner.Allocator.UsedBlocks);
    }

    [Fact]
    public async Task LoadAsync_gives_a_working_engine_and_honours_cancellation()
    {
        using var engine = await Owl3Engine.LoadAsync(SharedData.Golden("tiny-a"));
        Assert.Equal(5, engine.Generate([new(PromptRole.User, "Hi")], [], new GenerationSettings(MaxNewTokens: 5, Temperature: 0)).TokenIds.Count);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Owl3Engine.LoadAsync(SharedData.Golden("tiny-a"), null, cancelled.Token));
    }

    [Fact]
    public void The_kv_cache_can_be_sized_as_a_share_of_memory()
    {
        using var small = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(KvMemoryFraction: 0.001));
        using var large = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(KvMemoryFraction: 0.004));
        Assert.InRange(small.Runner.Allocator.NumBlocks, 1, int.MaxValue);
        Assert.InRange(large.Runner.Allocator.NumBlocks / (double)small.Runner.Allocator.NumBlocks, 3.5, 4.5);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(KvMemoryFraction: 1.5)));
        Assert.Contains("KvMemoryFraction", e.Message);
    }
}
