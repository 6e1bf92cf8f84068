using Microsoft.Extensions.AI;
using Owl3Native.ChatClient;
using Owl3Native.Processing;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Tests.Api;

/// <summary>Conversations that keep history and media: a session's second turn equals a stateless call with the full history.</summary>
public sealed class ChatSessionTests
{
    private static string Image(string name) => TestMedia.Image(name);
    private static readonly GenerationSettings Greedy = new(MaxNewTokens: 12, Temperature: 0);

    private static MediaSource Solid(byte r, byte g, byte b) => TestMedia.Solid(r, g, b);

    private static async Task<GenerationOutput> Drain(IAsyncEnumerable<GenerationUpdate> updates)
    {
        GenerationOutput? final = null;
        await foreach (var u in updates) final = u.Final ?? final;
        return final!;
    }

    [Fact]
    public async Task A_chat_keeps_history_and_images_between_turns()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        var chat = engine.StartChat();
        var first = await Drain(chat.SendAsync("Describe this image.", [MediaSource.ImageFile(Image("grad_500x500.png"))], Greedy));
        var second = await Drain(chat.SendAsync("And what colours do you see?", null, Greedy));
        Assert.Equal(4, chat.History.Count);
        Assert.Single(chat.Media);
        Assert.True(second.PromptTokens > first.PromptTokens + first.TokenIds.Count - 1);

        var stateless = engine.Generate(
            [new(PromptRole.User, "<|image|>Describe this image."), new(PromptRole.Assistant, first.Text), new(PromptRole.User, "And what colours do you see?")],
            [MediaSource.ImageFile(Image("grad_500x500.png"))], Greedy);
        Assert.Equal(stateless.TokenIds, second.TokenIds);
        chat.Reset();
        Assert.Empty(chat.History);
    }

    [Fact]
    public async Task The_next_turn_prefills_only_what_the_conversation_did_not_have_and_answers_the_same()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        string image = Image("grad_500x500.png");
        using (var chat = engine.StartChat())
        {
            var first = await Drain(chat.SendAsync("Describe this image.", [MediaSource.ImageFile(image)], Greedy));
            Assert.Equal(0, first.CachedPromptTokens);
            Assert.Equal(1, engine.Scheduler.KeptPrefixes);
            var second = await Drain(chat.SendAsync("And what colours do you see?", null, Greedy));
            var third = await Drain(chat.SendAsync("Thanks. One word?", null, Greedy));
            // The first turn's prompt at least (the re-tokenised answer may part from the generated ids at some token).
            Assert.InRange(second.CachedPromptTokens, first.PromptTokens, second.PromptTokens - 1);
            Assert.InRange(third.CachedPromptTokens, second.PromptTokens, third.PromptTokens - 1);
            var stateless = engine.Generate(
            [
                new(PromptRole.User, "<|image|>Describe this image."), new(PromptRole.Assistant, first.Text),
                new(PromptRole.User, "And what colours do you see?"), new(PromptRole.Assistant, second.Text),
                new(PromptRole.User, "Thanks. One word?"),
            ], [MediaSource.ImageFile(image)], Greedy);
            Assert.Equal(stateless.TokenIds, third.TokenIds);
            Assert.Equal(0, stateless.CachedPromptTokens);
            Assert.True(engine.Runner.Allocator.UsedBlocks > 0); // the third turn's cache is kept
        }
        // Disposing the chat gives the kept cache back (through the scheduler's loop).
        for (int i = 0; i < 500 && engine.Runner.Allocator.UsedBlocks > 0; i++) await Task.Delay(10);
        Assert.Equal(0, engine.Runner.Allocator.UsedBlocks);
        Assert.Equal(0, engine.Scheduler.KeptPrefixes);
    }

    [Fact]
    public async Task Kept_caches_are_dropped_first_when_blocks_run_short()
    {
        // 12 blocks of 16 tokens: the chat's kept cache must make room for a long request, then the chat goes on.
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(KvBlocks: 12));
        using var chat = engine.StartChat();
        var first = await Drain(chat.SendAsync("Describe this image.", [MediaSource.ImageFile(Image("grad_500x500.png"))], Greedy));
        int kept = engine.Runner.Allocator.UsedBlocks;
        Assert.True(kept > 0);
        PromptMessage[] story = [new(PromptRole.User, "Tell a long story about a cat.")];
        int promptTokens = engine.Processor.Process([.. story, new(PromptRole.Assistant, "")], [], new ProcessorOptions()).InputIds.Length;
        Assert.Equal(1, engine.Scheduler.KeptPrefixes);
        // Fits in the 12 blocks only if the chat's kept cache makes room.
        Assert.True(promptTokens + 12 * 16 - promptTokens - 2 + kept * 16 > 12 * 16);
        var big = engine.Generate(story, [], new GenerationSettings(MaxNewTokens: 12 * 16 - promptTokens - 2, Temperature: 0));
        Assert.Equal(Owl3Native.Engine.FinishReason.Length, big.FinishReason);
        Assert.Equal(0, engine.Scheduler.KeptPrefixes);
        var second = await Drain(chat.SendAsync("And what colours do you see?", null, Greedy));
        Assert.Equal(0, second.CachedPromptTokens); // its cache was dropped: a full prefill, same answer as ever
        var stateless = engine.Generate(
            [new(PromptRole.User, "<|image|>Describe this image."), new(PromptRole.Assistant, first.Text), new(PromptRole.User, "And what colours do you see?")],
            [MediaSource.ImageFile(Image("grad_500x500.png"))], Greedy);
        Assert.Equal(stateless.TokenIds, second.TokenIds);
    }

    [Fact]
    public async Task A_reader_that_leaves_before_the_final_update_does_not_strand_the_turns_kept_cache()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        using (var chat = engine.StartChat())
        {
            var turn = chat.SendAsync("Describe this image.", null, new GenerationSettings(MaxNewTokens: 3, Temperature: 0)).GetAsyncEnumerator();
            Assert.True(await turn.MoveNextAsync()); // the first token
            // The turn finishes (and keeps its cache) while the reader has not taken the final update yet.
            for (int i = 0; i < 500 && (engine.Scheduler.Running > 0 || engine.Scheduler.KeptPrefixes == 0); i++) await Task.Delay(10);
            Assert.Equal(1, engine.Scheduler.KeptPrefixes);
            await turn.DisposeAsync(); // the reader leaves: the chat never sees the kept cache
        }
        for (int i = 0; i < 500 && engine.Runner.Allocator.UsedBlocks > 0; i++) await Task.Delay(10);
        Assert.Equal(0, engine.Scheduler.KeptPrefixes);
        Assert.Equal(0, engine.Runner.Allocator.UsedBlocks);
    }

    [Fact]
    public async Task A_kept_cache_is_reused_only_up_to_the_first_image_that_differs()
    {
        // Same tokens, different picture of the same size: the scheduler itself must not serve the old image's K/V.
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        PromptMessage[] question = [new(PromptRole.System, "You look closely."), new(PromptRole.User, "<|image|>What is this?")];
        GenerationOutput? red = null;
        await foreach (var u in engine.GenerateAsync(question, [Solid(255, 0, 0)], Greedy, reuse: null, keep: true)) red = u.Final ?? red;
        Assert.NotNull(red!.Kept);
        GenerationOutput? blue = null;
        await foreach (var u in engine.GenerateAsync(question, [Solid(0, 0, 255)], Greedy, reuse: red.Kept, keep: false)) blue = u.Final ?? blue;
        var statelessBlue = engine.Generate(question, [Solid(0, 0, 255)], Greedy);
        Assert.Equal(statelessBlue.TokenIds, blue!.TokenIds);
        Assert.InRange(blue.CachedPromptTokens, 1, red.PromptTokens - 2); // the system turn and the text before the marker only
        // With the same picture the whole prompt but its last token is reused.
        GenerationOutput? again = null;
        await foreach (var u in engine.GenerateAsync(question, [Solid(255, 0, 0)], Greedy, reuse: null, keep: true)) again = u.Final ?? again;
        GenerationOutput? same = null;
        await foreach (var u in engine.GenerateAsync(question, [Solid(255, 0, 0)], Greedy, reuse: again!.Kept, keep: false)) same = u.Final ?? same;
        Assert.Equal(same!.PromptTokens - 1, same.CachedPromptTokens);
        Assert.Equal(red.TokenIds, same.TokenIds);
    }

    [Fact]
    public async Task A_turn_left_after_its_final_update_does_not_lend_its_images_kv_to_the_next_turn()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        MediaSource red = Solid(255, 0, 0), blue = Solid(0, 0, 255);
        PromptMessage[] question = [new(PromptRole.User, "<|image|>What is this?")];
        var statelessRed = engine.Generate(question, [red], Greedy);
        var statelessBlue = engine.Generate(question, [blue], Greedy);
        Assert.NotEqual(statelessRed.TokenIds, statelessBlue.TokenIds); // the picture matters to the answer

        using var chat = engine.StartChat();
        await foreach (var u in chat.SendAsync("What is this?", [red], Greedy))
            if (u.Final is not null) break; // the reader has its answer and leaves; the turn is not recorded
        Assert.Empty(chat.History);
        var blueTurn = await Drain(chat.SendAsync("What is this?", [blue], Greedy));
        Assert.Equal(statelessBlue.TokenIds, blueTurn.TokenIds);
    }

    [Fact]
    public async Task Chat_client_conversation_id_sends_only_new_messages()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        IChatClient client = new Owl3ChatClient(engine);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 12, ConversationId = "conv-1" };
        var image = new DataContent(File.ReadAllBytes(Image("grad_500x500.png")), "image/png");
        var first = await client.GetResponseAsync([new ChatMessage(ChatRole.User, [image, new TextContent("Describe this image.")])], options);
        Assert.Equal("conv-1", first.ConversationId);
        var second = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "And what colours do you see?")], options);

        var stateless = await client.GetResponseAsync(
        [
            new ChatMessage(ChatRole.User, [image, new TextContent("Describe this image.")]),
            new ChatMessage(ChatRole.Assistant, first.Text),
            new ChatMessage(ChatRole.User, "And what colours do you see?"),
        ], new ChatOptions { Temperature = 0, MaxOutputTokens = 12 });
        Assert.Equal(stateless.Text, second.Text);
        Assert.Equal(stateless.Usage!.InputTokenCount, second.Usage!.InputTokenCount);
    }
}
