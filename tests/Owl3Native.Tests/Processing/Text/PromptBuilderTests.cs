using Owl3Native.Models.Checkpoints;
using Owl3Native.Processing.Text;
using Xunit;

namespace Owl3Native.Tests.Processing.Text;

/// <summary>Prompt building with the real tokenizer: the spec's worked examples, chat-template rules and errors.</summary>
public sealed class PromptBuilderTests
{
    private static readonly PromptMessage GenerationPrompt = new(PromptRole.Assistant, "");

    private static EncodedPrompt Build(Owl3Variant variant, string userContent, params MediaItem[] media) =>
        new PromptBuilder(TextGoldens.Real, variant).Build([new(PromptRole.User, userContent), GenerationPrompt], media);

    [Theory]
    [InlineData(Owl3Variant.V241101)]
    [InlineData(Owl3Variant.V241014)] // 241014 takes the 241101 templates (spec: "probable")
    public void V3_cut_2x3_matches_spec_7_2(Owl3Variant variant)
    {
        var prompt = Build(variant, "<|image|>\nDescribe this image.", new ImageItem(2, 3));
        Assert.Equal(SpecExamples.V3Cut2x3, prompt.InputIds);
        Assert.Equal([18, 24, 30, 36, 42, 48, 54], prompt.MarkerStarts);
    }

    [Theory]
    [InlineData(Owl3Variant.V241101)]
    [InlineData(Owl3Variant.V241014)]
    public void Video_of_3_frames_matches_spec_7_3_for_v3(Owl3Variant variant)
    {
        var prompt = Build(variant, "<|video|>\nDescribe this video.", new VideoItem(3));
        Assert.Equal(SpecExamples.Video241101, prompt.InputIds);
        Assert.Equal([15, 20, 25], prompt.MarkerStarts);
    }

    [Fact]
    public void Uncut_image_is_one_marker_and_matches_spec_5()
    {
        var prompt = Build(Owl3Variant.V241101, "<|image|>\nDescribe this image.", ImageItem.Uncut);
        Assert.Equal("<|im_start|>system\n<|im_end|>\n<|im_start|>user\n<|image|>\nDescribe this image.<|im_end|>\n<|im_start|>assistant\n", prompt.Text);
        Assert.Equal([8], prompt.MarkerStarts);
        Assert.Equal([27, 91, 1805, 91, 29, 198], prompt.InputIds[8..14]);
    }

    [Fact]
    public void Space_before_a_marker_stays_its_own_token()
    {
        var prompt = Build(Owl3Variant.V241101, "Look at this: <|image|> and <|image|>", ImageItem.Uncut, ImageItem.Uncut);
        foreach (int s in prompt.MarkerStarts)
        {
            Assert.Equal(220, prompt.InputIds[s - 1]);
            Assert.Equal([27, 91, 1805, 91, 29], prompt.InputIds[s..(s + 5)]);
        }
        Assert.DoesNotContain(82639, prompt.InputIds); // " <|" would appear if the marker merged with the space
    }

    [Fact]
    public void Media_follow_the_text_order_for_mixed_images_and_videos()
    {
        var prompt = Build(Owl3Variant.V241101, "<|image|>then<|video|>", new ImageItem(2, 2), new VideoItem(2));
        Assert.Equal(5 + 2, prompt.ImageCount);
        Assert.StartsWith("<|im_start|>system\n<|im_end|>\n<|im_start|>user\n<|start_cut|>2*2\n", prompt.Text, StringComparison.Ordinal);
        Assert.Contains("<|end_cut|>then<|start_video_frame|><|image|><|image|><|end_video_frame|>", prompt.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void System_message_replaces_the_empty_system_turn()
    {
        var prompt = new PromptBuilder(TextGoldens.Real, Owl3Variant.V241101).Build(
            [new(PromptRole.System, "Be brief."), new(PromptRole.User, "Hi"), GenerationPrompt]);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", prompt.Text);
    }

    [Fact]
    public void Without_a_final_assistant_message_there_is_no_generation_prompt()
    {
        Assert.Equal("<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>", ChatTemplate.Render([new(PromptRole.User, "Hi")]));
    }

    [Fact]
    public void Final_assistant_text_is_dropped_in_inference_mode_as_in_the_original()
    {
        Assert.Equal("<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            ChatTemplate.Render([new(PromptRole.User, "Hi"), new(PromptRole.Assistant, "Sure, ")]));
    }

    [Fact]
    public void Chunks_split_user_turns_around_markers_only()
    {
        var chunks = ChatTemplate.Chunks([new(PromptRole.User, "a<|image|><|image|>b"), GenerationPrompt]);
        Assert.Equal(
            [("<|im_start|>system\n<|im_end|>", false), ("\n<|im_start|>user\na", false), ("<|image|>", true), ("<|image|>", true),
             ("b<|im_end|>", false), ("\n<|im_start|>assistant\n", false)],
            chunks.Select(c => (c.Text, c.IsImageMarker)));
    }

    [Fact]
    public void Placeholders_outside_user_messages_are_plain_text()
    {
        var prompt = new PromptBuilder(TextGoldens.Real, Owl3Variant.V241101).Build(
            [new(PromptRole.System, "say <|image|>"), new(PromptRole.User, "ok"), new(PromptRole.Assistant, "<|video|>"), new(PromptRole.User, "x"), GenerationPrompt]);
        Assert.Empty(prompt.MarkerStarts);
        Assert.Contains("say <|image|><|im_end|>", prompt.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<|image|>", 0)]
    [InlineData("<|image|>", 2)]
    [InlineData("no media", 1)]
    [InlineData("<|video|><|image|>", 1)]
    public void Placeholder_and_media_counts_must_agree(string content, int mediaCount)
    {
        var media = Enumerable.Repeat<MediaItem>(ImageItem.Uncut, mediaCount).ToArray();
        var e = Assert.Throws<MediaMismatchException>(() => Build(Owl3Variant.V241101, content, media));
        Assert.Equal(mediaCount, e.MediaItems);
        Assert.Equal(content.Split("<|").Length - 1, e.Placeholders);
        Assert.Contains($"{e.Placeholders} media placeholder", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Placeholder_kind_must_match_the_media_item()
    {
        var e = Assert.Throws<MediaMismatchException>(() => Build(Owl3Variant.V241101, "<|image|><|video|>", new VideoItem(2), ImageItem.Uncut));
        Assert.Contains("VideoItem", e.Message, StringComparison.Ordinal);
        Assert.Throws<MediaMismatchException>(() => Build(Owl3Variant.V240728, "<|image|>", new MediaItem[] { null! }));
    }

    [Theory]
    [InlineData(2, null)]
    [InlineData(null, 3)]
    [InlineData(0, 2)]
    [InlineData(2, -1)]
    public void Invalid_grid_is_rejected(int? rows, int? cols)
    {
        Assert.Throws<ArgumentException>(() => Build(Owl3Variant.V241101, "<|image|>", new ImageItem(rows, cols)));
        Assert.Throws<ArgumentException>(() => new ImageItem(rows, cols).Crops);
    }

    [Fact]
    public void Video_needs_a_frame()
    {
        Assert.Throws<ArgumentException>(() => Build(Owl3Variant.V240728, "<|video|>", new VideoItem(0)));
    }

    [Fact]
    public void Crops_count_the_global_view()
    {
        Assert.Equal(1, ImageItem.Uncut.Crops);
        Assert.Equal(7, new ImageItem(2, 3).Crops);
        Assert.Equal(5, MediaTemplates.CutV2(2, 2).Split(MediaTemplates.ImageMarker).Length - 1);
        Assert.Equal(13, MediaTemplates.CutV3(3, 4).Split(MediaTemplates.ImageMarker).Length - 1);
    }

    [Fact]
    public void Media_offset_ranges_validate_their_starts()
    {
        Assert.Throws<ArgumentException>(() => MediaOffsets.Ranges([5, 3], 10));
        Assert.Throws<ArgumentException>(() => MediaOffsets.Ranges([10], 10));
        Assert.Throws<ArgumentException>(() => MediaOffsets.Ranges([-1], 10));
        var rows = MediaOffsets.Ranges([0, 1], 3, baseImages: 4);
        Assert.Equal(new long[,] { { 4, 4 }, { 4, 5 }, { 4, 6 } }, rows);
    }
}
