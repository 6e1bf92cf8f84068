using Microsoft.Extensions.AI;
using Owl3Native.ChatClient;
using Owl3Native.Engine;
using Owl3Native.Processing;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Owl3Native.Verification;
using Xunit;

namespace Owl3Native.Tests.Api;

/// <summary>The front door: streaming equals non-streaming, cancellation frees blocks, IChatClient with images.</summary>
public sealed class EngineApiTests
{
    private static string Image(string name) => TestMedia.Image(name);

    private static readonly PromptMessage[] Question = [new(PromptRole.User, "<|image|>Describe this image.")];

    [Fact]
    public async Task Streaming_updates_add_up_to_the_blocking_result()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        var settings = new GenerationSettings(MaxNewTokens: 16, Temperature: 0);
        var blocking = engine.Generate(Question, [MediaSource.ImageFile(Image("grad_500x500.png"))], settings);
        var text = new System.Text.StringBuilder();
        var tokens = new List<int>();
        GenerationOutput? final = null;
        await foreach (var u in engine.GenerateAsync(Question, [MediaSource.ImageFile(Image("grad_500x500.png"))], settings))
        {
            text.Append(u.Text);
            if (u.Final is null) tokens.Add(u.TokenId);
            final = u.Final ?? final;
        }
        Assert.Equal(blocking.TokenIds, tokens);
        Assert.Equal(blocking.Text, text.ToString());
        Assert.Equal(FinishReason.Length, final!.FinishReason);
        Assert.Equal(0, engine.Runner.Allocator.UsedBlocks);
    }

    [Fact]
    public async Task Cancelling_a_stream_stops_it_and_frees_its_blocks()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        using var cts = new CancellationTokenSource();
        int seen = 0;
        GenerationOutput? final = null;
        await foreach (var u in engine.GenerateAsync(Question, [MediaSource.ImageFile(Image("grad_500x500.png"))],
                           new GenerationSettings(MaxNewTokens: 400, Temperature: 0), cts.Token))
        {
            if (++seen == 3) cts.Cancel();
            final = u.Final ?? final;
        }
        Assert.Equal(FinishReason.Cancelled, final!.FinishReason);
        Assert.True(final.TokenIds.Count < 400);
        Assert.Equal(0, engine.Runner.Allocator.UsedBlocks);
    }

    [Fact]
    public async Task Leaving_a_stream_early_cancels_the_generation_and_frees_its_blocks()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        int seen = 0;
        await foreach (var u in engine.GenerateAsync(Question, [MediaSource.ImageFile(Image("grad_500x500.png"))], new GenerationSettings(MaxNewTokens: 400, Temperature: 0)))
            if (++seen == 2) break;
        Assert.Equal(0, engine.Runner.Allocator.UsedBlocks);
        var again = engine.Generate(Question, [MediaSource.ImageFile(Image("grad_500x500.png"))], new GenerationSettings(MaxNewTokens: 3, Temperature: 0));
        Assert.Equal(3, again.TokenIds.Count); // the engine is usable afterwards
    }

    [Fact]
    public async Task Chat_client_takes_an_image_as_data_content_and_reproduces_the_golden_tokens()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        using var golden = GoldenSet.Open(SharedData.Golden("tiny-a"));
        IChatClient client = new Owl3ChatClient(engine);
        var message = new ChatMessage(ChatRole.User, [new DataContent(File.ReadAllBytes(Image("grad_500x500.png")), "image/png"), new TextContent("Describe this image.")]);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 16 };
        var response = await client.GetResponseAsync([message], options);
        var expected = golden.Longs("gen.processor_cut_image.new_tokens").Select(v => (int)v).Where(t => !engine.Terminators.Contains(t));
        Assert.Equal(engine.Processor.Tokenizer.Decode(expected), response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(16, response.Usage!.OutputTokenCount);
        Assert.Equal(39, response.Usage.InputTokenCount);

        var streamed = new System.Text.StringBuilder();
        ChatFinishReason? reason = null;
        await foreach (var u in client.GetStreamingResponseAsync([message], options))
        {
            streamed.Append(u.Text);
            reason = u.FinishReason ?? reason;
        }
        Assert.Equal(response.Text, streamed.ToString());
        Assert.Equal(ChatFinishReason.Length, reason);
        Assert.Same(engine, client.GetService(typeof(Owl3Engine)));
    }

    [Fact]
    public async Task Chat_client_refuses_unsupported_content_and_mismatched_media()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        IChatClient client = new Owl3ChatClient(engine);
        await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(
            [new ChatMessage(ChatRole.User, [new DataContent(new byte[] { 1 }, "application/pdf")])]));
        await Assert.ThrowsAsync<MediaMismatchException>(() => client.GetResponseAsync(
            [new ChatMessage(ChatRole.User, "<|image|> without an image")]));
        Assert.Equal(0, engine.Runner.Allocator.UsedBlocks);
    }
}
