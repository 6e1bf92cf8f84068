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
    private static string Image(string name) => Path.Combine(SharedData.Root, "golden", "processor", "images", name);
    private static readonly GenerationSettings Greedy = new(MaxNewTokens: 12, Temperature: 0);

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
