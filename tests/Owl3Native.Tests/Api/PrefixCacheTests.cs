using Owl3Native.Processing;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Tests.Api;

/// <summary>
/// Automatic prefix caching of stateless calls (EngineOptions.PrefixCache): a client that resends the conversation
/// every turn gets the previous turn's K/V back, with the same answers as an engine without the cache.
/// </summary>
public sealed class PrefixCacheTests
{
    private static string Image(string name) => TestMedia.Image(name);
    private static readonly GenerationSettings Greedy = new(MaxNewTokens: 12, Temperature: 0);
    private const string System = "You are a careful assistant who looks at every picture closely and answers in short, plain sentences.";

    private static async Task WaitFor(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition());
    }

    [Fact]
    public void A_resent_conversation_reuses_the_last_turns_cache_and_answers_as_without_it()
    {
        using var cached = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(PrefixCache: 4));
        using var plain = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        var image = MediaSource.ImageFile(Image("grad_500x500.png"));
        PromptMessage[] turn1 = [new(PromptRole.System, System), new(PromptRole.User, "<|image|>Describe this image.")];
        var a1 = cached.Generate(turn1, [image], Greedy);
        Assert.Equal(0, a1.CachedPromptTokens);
        Assert.Equal(1, cached.PrefixCache!.Entries);
        PromptMessage[] turn2 = [.. turn1, new(PromptRole.Assistant, a1.Text), new(PromptRole.User, "And what colours do you see?")];
        var a2 = cached.Generate(turn2, [image], Greedy);
        // The whole blocks of at least the first prompt (the re-tokenised answer may part from the generated ids).
        Assert.InRange(a2.CachedPromptTokens, a1.PromptTokens / 16 * 16, a2.PromptTokens - 1);
        Assert.Equal(0, a2.CachedPromptTokens % 16);
        Assert.Equal(plain.Generate(turn2, [image], Greedy).TokenIds, a2.TokenIds);
        var stats = cached.PrefixCache!;
        Assert.Equal(1, stats.Hits);
        Assert.Equal(a2.CachedPromptTokens, stats.ReusedTokens);
        Assert.Null(plain.PrefixCache);
    }

    [Fact]
    public void A_cache_whose_tokens_the_next_request_extends_is_replaced_by_it()
    {
        // A repeated greedy request produces the same tokens: its cache supersedes the one it started from.
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(PrefixCache: 4));
        PromptMessage[] question = [new(PromptRole.System, System), new(PromptRole.User, "Name a colour.")];
        var a1 = engine.Generate(question, [], Greedy);
        var a2 = engine.Generate(question, [], Greedy);
        Assert.Equal(a1.TokenIds, a2.TokenIds);
        Assert.Equal((a1.PromptTokens - 1) / 16 * 16, a2.CachedPromptTokens);
        Assert.Equal(1, engine.PrefixCache!.Entries);
        // Another question after the same words keeps its own entry beside it (not an extension of it).
        engine.Generate([new(PromptRole.System, System), new(PromptRole.User, "Name an animal.")], [], Greedy);
        Assert.Equal(2, engine.PrefixCache.Entries);
    }

    [Fact]
    public async Task Concurrent_requests_share_one_kept_prefix()
    {
        using var cached = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(PrefixCache: 4));
        using var plain = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        PromptMessage[] context = [new(PromptRole.System, System + " " + System), new(PromptRole.User, "Here is a list: red, green, blue, yellow.")];
        var first = cached.Generate(context, [], Greedy);
        PromptMessage[] Ask(string q) => [.. context, new(PromptRole.Assistant, first.Text), new(PromptRole.User, q)];
        var questions = new[] { "Which is warm?", "Which is cold?", "Which comes last?" };
        var answers = await Task.WhenAll(questions.Select(q => Task.Run(() => cached.Generate(Ask(q), [], Greedy))));
        for (int i = 0; i < questions.Length; i++)
        {
            Assert.InRange(answers[i].CachedPromptTokens, first.PromptTokens / 16 * 16, answers[i].PromptTokens - 1);
            Assert.Equal(plain.Generate(Ask(questions[i]), [], Greedy).TokenIds, answers[i].TokenIds);
        }
        Assert.Equal(questions.Length, cached.PrefixCache!.Hits);
        // The shared blocks are held once: fewer blocks than every request's cache apart.
        int apart = answers.Sum(a => (a.PromptTokens + a.TokenIds.Count + 15) / 16) + (first.PromptTokens + first.TokenIds.Count + 15) / 16;
        await WaitFor(() => cached.Scheduler.Running == 0);
        Assert.InRange(cached.Runner.Allocator.UsedBlocks, 1, apart - 2 * (first.PromptTokens / 16));
    }

    private static MediaSource Solid(byte r, byte g, byte b) => TestMedia.Solid(r, g, b);

    [Fact]
    public void Another_picture_behind_the_same_words_is_not_served_the_old_pictures_keys()
    {
        using var cached = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(PrefixCache: 4));
        using var plain = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        PromptMessage[] question = [new(PromptRole.System, System), new(PromptRole.User, "<|image|>What is this?")];
        var red = cached.Generate(question, [Solid(255, 0, 0)], Greedy);
        var blue = cached.Generate(question, [Solid(0, 0, 255)], Greedy);
        Assert.InRange(blue.CachedPromptTokens, 32, red.PromptTokens - 2); // the words before the marker only
        Assert.Equal(plain.Generate(question, [Solid(0, 0, 255)], Greedy).TokenIds, blue.TokenIds);
        Assert.Equal(2, cached.PrefixCache!.Entries); // the red picture's cache stays: blue's does not cover it
    }

    [Fact]
    public void Equal_words_and_answers_about_another_picture_do_not_replace_the_first_pictures_cache()
    {
        // One generated token: red and blue give the same token ids, so only the pictures tell the caches apart.
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(PrefixCache: 4));
        var one = new GenerationSettings(MaxNewTokens: 1, Temperature: 0);
        PromptMessage[] question = [new(PromptRole.System, System), new(PromptRole.User, "<|image|>What is this?")];
        var red = engine.Generate(question, [Solid(255, 0, 0)], one);
        var blue = engine.Generate(question, [Solid(0, 0, 255)], one);
        Assert.Equal(red.TokenIds, blue.TokenIds);
        Assert.True(blue.CachedPromptTokens > 0);
        Assert.Equal(2, engine.PrefixCache!.Entries);
        var redAgain = engine.Generate(question, [Solid(255, 0, 0)], one);
        Assert.Equal((red.PromptTokens - 1) / 16 * 16, redAgain.CachedPromptTokens); // the red cache is still there
    }

    [Fact]
    public void Prompts_sharing_only_a_few_template_tokens_do_not_take_each_others_cache()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(PrefixCache: 4));
        engine.Generate([new(PromptRole.User, "Name a colour.")], [], Greedy);
        var other = engine.Generate([new(PromptRole.User, "Count to three.")], [], Greedy);
        Assert.Equal(0, other.CachedPromptTokens);
        Assert.Equal(0, engine.PrefixCache!.Hits);
        Assert.Equal(2, engine.PrefixCache.Entries);
    }

    [Fact]
    public async Task Beyond_its_capacity_the_oldest_cache_gives_its_blocks_back()
    {
        // The same two requests on engines keeping one and two caches: the first holds only the second request's.
        using var one = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(PrefixCache: 1));
        using var two = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(PrefixCache: 2));
        int firstBlocks = 0;
        foreach (var engine in new[] { one, two })
        {
            engine.Generate([new(PromptRole.User, "Name a colour.")], [], Greedy);
            firstBlocks = engine.Runner.Allocator.UsedBlocks;
            Assert.True(firstBlocks > 0);
            engine.Generate([new(PromptRole.User, "Count to three, slowly, and then name a large animal.")], [], Greedy);
        }
        await WaitFor(() => one.Scheduler.KeptPrefixes == 1 && two.Scheduler.KeptPrefixes == 2);
        Assert.Equal(1, one.PrefixCache!.Entries);
        Assert.Equal(2, two.PrefixCache!.Entries);
        Assert.Equal(two.Runner.Allocator.UsedBlocks - firstBlocks, one.Runner.Allocator.UsedBlocks);
    }

    [Fact]
    public void A_cache_the_scheduler_dropped_for_room_leaves_the_pool()
    {
        // 12 blocks of 16 tokens: the first request's kept cache must make room for the long second one.
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(KvBlocks: 12, PrefixCache: 4));
        engine.Generate([new(PromptRole.User, "Name a colour.")], [], Greedy);
        Assert.Equal(1, engine.PrefixCache!.Entries);
        PromptMessage[] story = [new(PromptRole.User, "Tell a long story about a cat.")];
        int promptTokens = engine.Processor.Process([.. story, new(PromptRole.Assistant, "")], [], new ProcessorOptions()).InputIds.Length;
        var big = engine.Generate(story, [], new GenerationSettings(MaxNewTokens: 12 * 16 - promptTokens - 2, Temperature: 0));
        Assert.Equal(Owl3Native.Engine.FinishReason.Length, big.FinishReason);
        Assert.Equal(1, engine.PrefixCache.Entries); // the long request's own; the dropped one is forgotten
    }

    [Fact]
    public async Task Sharers_that_run_out_of_blocks_wait_or_are_preempted_and_still_answer_as_alone()
    {
        var settings = new GenerationSettings(MaxNewTokens: 40, Temperature: 0);
        PromptMessage[] context = [new(PromptRole.System, System), new(PromptRole.User, "Name a colour.")];
        var questions = new[] { "Tell me more.", "And another one?", "Why that one?" };
        using var sizing = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        var first = sizing.Generate(context, [], new GenerationSettings(MaxNewTokens: 2, Temperature: 0));
        PromptMessage[] Ask(string q) => [.. context, new(PromptRole.Assistant, first.Text), new(PromptRole.User, q)];
        var alone = questions.Select(q => sizing.Generate(Ask(q), [], settings)).ToArray();
        // Room for the longest request plus two blocks: the three cannot all hold their caches at once.
        int blocks = alone.Max(a => (a.PromptTokens + a.TokenIds.Count + 15) / 16) + 2;
        using var cached = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(KvBlocks: blocks, PrefixCache: 4));
        cached.Generate(context, [], new GenerationSettings(MaxNewTokens: 2, Temperature: 0));
        var answers = await Task.WhenAll(questions.Select(q => Task.Run(() => cached.Generate(Ask(q), [], settings))));
        for (int i = 0; i < questions.Length; i++) Assert.Equal(alone[i].TokenIds, answers[i].TokenIds);
        Assert.True(cached.PrefixCache!.Hits >= 1);
    }

    [Fact]
    public void A_request_cancelled_before_it_ran_leaves_the_pool_as_it_was()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(PrefixCache: 4));
        PromptMessage[] turn1 = [new(PromptRole.System, System), new(PromptRole.User, "Name a colour.")];
        var a1 = engine.Generate(turn1, [], Greedy);
        int used = engine.Runner.Allocator.UsedBlocks;
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var a2 = engine.Generate([.. turn1, new(PromptRole.Assistant, a1.Text), new(PromptRole.User, "Another?")], [], Greedy, cancellation: cancelled.Token);
        Assert.Equal(Owl3Native.Engine.FinishReason.Cancelled, a2.FinishReason);
        Assert.Equal(1, engine.PrefixCache!.Entries);
        Assert.Equal(used, engine.Runner.Allocator.UsedBlocks);
        Assert.Equal(0, engine.PrefixCache.Hits);
    }

    [Fact]
    public async Task Disposing_the_engine_after_pooled_requests_is_clean()
    {
        var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(PrefixCache: 2));
        await foreach (var _ in engine.GenerateAsync([new(PromptRole.User, "Name a colour.")], [], Greedy)) { }
        Assert.Equal(1, engine.PrefixCache!.Entries);
        engine.Dispose();
        Assert.Throws<ArgumentOutOfRangeException>(() => Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(PrefixCache: -1)));
    }
}
