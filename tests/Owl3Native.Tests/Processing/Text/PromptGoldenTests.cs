using System.Text.Json;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Tests.Processing.Text;

/// <summary>
/// Every golden case with `messages` rebuilt from its messages: tiny-a (241101) and tiny-c (240728) prompt text, ids and
/// media offsets (golden README §3), with the tiny tokenizers whose media markers are single added tokens.
/// </summary>
public sealed class PromptGoldenTests
{
    private static readonly Lazy<JsonDocument> s_tinyA = new(() => TextGoldens.Parse(Path.Combine(SharedData.Golden("tiny-a"), "golden.json")));
    private static readonly Lazy<JsonDocument> s_tinyC = new(() => TextGoldens.Parse(Path.Combine(SharedData.Golden("tiny-c"), "golden.json")));
    private static readonly Lazy<JsonDocument> s_processor = new(() => TextGoldens.Parse(Path.Combine(SharedData.Golden("processor"), "processor_golden.json")));
    private static readonly Lazy<JsonDocument> s_processor240728 = new(() => TextGoldens.Parse(Path.Combine(SharedData.Golden("processor"), "processor_golden_240728.json")));

    private static JsonElement Golden(string folder) => (folder == "tiny-a" ? s_tinyA : s_tinyC).Value.RootElement;

    public static IEnumerable<object[]> CasesWithMessages() =>
        from folder in new[] { "tiny-a", "tiny-c" }
        from c in Golden(folder).GetProperty("cases").EnumerateObject()
        where c.Value.TryGetProperty("messages", out _)
        select new object[] { folder, c.Name };

    /// <summary>
    /// The media of a case: the processor cases say what they processed (grad_500x500 cut by the grid the processor
    /// golden records for the tiny size; a 3-frame video); the other cases use one uncut image per marker.
    /// </summary>
    private static List<MediaItem> MediaOf(string folder, string name, JsonElement c, List<PromptMessage> messages)
    {
        switch (name)
        {
            case "processor_cut_image":
                var (rows, cols) = folder == "tiny-a" ? Grid(s_processor.Value, "grad_500x500", "s42") : Grid(s_processor240728.Value, "grad_500x500", "s48");
                return [new ImageItem(rows, cols)];
            case "processor_video":
                return [new VideoItem(c.GetProperty("num_images").GetInt32())];
            default:
                int markers = messages.Where(m => m.Role == PromptRole.User)
                    .Sum(m => m.Content.Split(MediaTemplates.ImageMarker).Length - 1);
                return Enumerable.Repeat<MediaItem>(ImageItem.Uncut, markers).ToList();
        }
    }

    internal static (int Rows, int Cols) Grid(JsonDocument processorGolden, string image, string size)
    {
        var hw = processorGolden.RootElement.GetProperty("images").EnumerateArray()
            .Single(i => i.GetProperty("name").GetString() == image).GetProperty(size).GetProperty("anchor_hw");
        return (hw[0].GetInt32(), hw[1].GetInt32());
    }

    [Theory]
    [MemberData(nameof(CasesWithMessages))]
    public void Case_is_rebuilt_from_its_messages(string folder, string name)
    {
        var c = Golden(folder).GetProperty("cases").GetProperty(name);
        var messages = TextGoldens.Messages(c.GetProperty("messages"));
        var media = MediaOf(folder, name, c, messages);
        var variant = folder == "tiny-a" ? Owl3Variant.V241101 : Owl3Variant.V240728;

        var prompt = new PromptBuilder(TextGoldens.Tiny(folder), variant).Build(messages, media);

        Assert.Equal(c.GetProperty("prompt_text").GetString(), prompt.Text);
        Assert.Equal(TextGoldens.Ints(c.GetProperty("input_ids")), prompt.InputIds);
        Assert.Equal(c.GetProperty("seq_len").GetInt32(), prompt.InputIds.Length);
        Assert.Equal(c.GetProperty("num_images").GetInt32(), prompt.ImageCount);
        int[] markerIds = TextGoldens.Ints(c.GetProperty("image_token_ids"));
        Assert.All(prompt.MarkerStarts, s => Assert.Equal(markerIds, prompt.InputIds[s..(s + markerIds.Length)]));
        if (c.TryGetProperty("user_content_after_expansion", out var expandedContent))
            Assert.Equal(expandedContent.GetString(), PromptBuilder.ExpandMedia(messages, media, variant).Single(m => m.Role == PromptRole.User).Content);
        if (folder == "tiny-a")
        {
            Assert.Equal(TextGoldens.Ints(c.GetProperty("media_offset")[0]), prompt.MarkerStarts);
        }
        else
        {
            Assert.Equal(TextGoldens.Ints(c.GetProperty("media_starts")), prompt.MarkerStarts);
            TextGoldens.AssertRowsEqual(TextGoldens.Rows(c.GetProperty("media_offset")[0]), prompt.MediaOffsetRanges());
        }
    }

    [Fact]
    public void Multi_turn_history_ends_each_past_answer_with_im_end_and_endoftext()
    {
        var c = Golden("tiny-a").GetProperty("cases").GetProperty("image_after_text");
        string text = c.GetProperty("prompt_text").GetString()!;
        Assert.Contains("the image<|im_end|><|endoftext|>\n<|im_start|>user\n", text, StringComparison.Ordinal);
        Assert.Equal(text, ChatTemplate.Render(PromptBuilder.ExpandMedia(TextGoldens.Messages(c.GetProperty("messages")), [ImageItem.Uncut], Owl3Variant.V241101)));
    }

    [Theory]
    [InlineData("batch2")]
    [InlineData("batch2_row_without_image")]
    public void Batch_rows_of_240728_offsets_carry_the_images_of_earlier_rows(string name)
    {
        var c = Golden("tiny-c").GetProperty("cases").GetProperty(name);
        var starts = c.GetProperty("media_starts");
        var ids = c.GetProperty("input_ids");
        int baseImages = 0;
        for (int row = 0; row < ids.GetArrayLength(); row++)
        {
            int[] rowStarts = TextGoldens.Ints(starts[row]);
            var expected = TextGoldens.Rows(c.GetProperty("media_offset")[row]);
            TextGoldens.AssertRowsEqual(expected, MediaOffsets.Ranges(rowStarts, ids[row].GetArrayLength(), baseImages));
            baseImages += rowStarts.Length;
        }
    }

    [Fact]
    public void Batch_rows_of_241101_offsets_are_the_marker_starts()
    {
        var c = Golden("tiny-a").GetProperty("cases").GetProperty("batch2");
        var tok = TextGoldens.Tiny("tiny-a");
        var two = new PromptBuilder(tok, Owl3Variant.V241101).Build(
            [new(PromptRole.User, "<|image|><|image|>Compare the two images."), new(PromptRole.Assistant, "")], [ImageItem.Uncut, ImageItem.Uncut]);
        Assert.Equal(TextGoldens.Ints(c.GetProperty("input_ids")[0]), two.InputIds);
        Assert.Equal(TextGoldens.Ints(c.GetProperty("media_offset")[0]), two.MarkerStarts);
    }
}
