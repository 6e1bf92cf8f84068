using System.Text.Json;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Tests.Processing.Text;

/// <summary>
/// The text side of the full processor calls in ../shared/golden/processor (golden README §4): the 241101 call with the
/// tiny-a tokenizer and with the real Qwen2 tokenizer, and the 240728 call with the real tokenizer, each image cut by
/// the grid the golden records.
/// </summary>
public sealed class ProcessorCallGoldenTests
{
    private static readonly Lazy<JsonDocument> s_241101 = new(() => TextGoldens.Parse(Path.Combine(SharedData.Golden("processor"), "processor_golden.json")));
    private static readonly Lazy<JsonDocument> s_240728 = new(() => TextGoldens.Parse(Path.Combine(SharedData.Golden("processor"), "processor_golden_240728.json")));

    public static IEnumerable<object[]> Images() =>
        s_241101.Value.RootElement.GetProperty("images").EnumerateArray().Select(i => new object[] { i.GetProperty("name").GetString()! });

    private static JsonElement Image(JsonDocument doc, string name) =>
        doc.RootElement.GetProperty("images").EnumerateArray().Single(i => i.GetProperty("name").GetString() == name);

    private static ImageItem Cut(JsonElement image, string size)
    {
        var hw = image.GetProperty(size).GetProperty("anchor_hw");
        return new ImageItem(hw[0].GetInt32(), hw[1].GetInt32());
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Call_241101_with_the_tiny_a_tokenizer(string name)
    {
        var image = Image(s_241101.Value, name);
        var call = image.GetProperty("processor_call");
        var messages = TextGoldens.Messages(call.GetProperty("messages_in"));

        var prompt = new PromptBuilder(TextGoldens.Tiny("tiny-a"), Owl3Variant.V241101).Build(messages, [Cut(image, "s378")]);

        Assert.Equal(call.GetProperty("user_content_after_expansion").GetString(),
            PromptBuilder.ExpandMedia(messages, [Cut(image, "s378")], Owl3Variant.V241101)[0].Content);
        Assert.Equal(image.GetProperty("s378").GetProperty("cut_text").GetString(), MediaTemplates.Image(Cut(image, "s378"), Owl3Variant.V241101));
        Assert.Equal(call.GetProperty("prompt_text").GetString(), prompt.Text);
        Assert.Equal(TextGoldens.Ints(call.GetProperty("input_ids_tiny_a_tokenizer")), prompt.InputIds);
        Assert.Equal(TextGoldens.Ints(call.GetProperty("media_offset")[0]), prompt.MarkerStarts);
        Assert.Equal(call.GetProperty("pixel_values_shape")[0].GetInt32(), prompt.ImageCount);
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Call_241101_with_the_real_tokenizer(string name)
    {
        var image = Image(s_241101.Value, name);
        var messages = TextGoldens.Messages(image.GetProperty("processor_call").GetProperty("messages_in"));
        var real = image.GetProperty("processor_call_real_qwen2_tokenizer");

        var prompt = new PromptBuilder(TextGoldens.Real, Owl3Variant.V241101).Build(messages, [Cut(image, "s378")]);

        Assert.Equal(TextGoldens.Ints(real.GetProperty("input_ids")), prompt.InputIds);
        Assert.Equal(TextGoldens.Ints(real.GetProperty("media_offset")[0]), prompt.MarkerStarts);
        Assert.All(prompt.MarkerStarts, s => Assert.Equal([27, 91, 1805, 91, 29], prompt.InputIds[s..(s + 5)]));
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Call_240728_with_the_real_tokenizer(string name)
    {
        var image = Image(s_240728.Value, name);
        var real = image.GetProperty("processor_call_real_qwen2_tokenizer");
        var messages = TextGoldens.Messages(real.GetProperty("messages_in"));

        var prompt = new PromptBuilder(TextGoldens.Real, Owl3Variant.V240728).Build(messages, [Cut(image, "s384")]);

        Assert.Equal(image.GetProperty("s384").GetProperty("cut_text").GetString(), MediaTemplates.Image(Cut(image, "s384"), Owl3Variant.V240728));
        Assert.Equal(real.GetProperty("user_content_after_expansion").GetString(), PromptBuilder.ExpandMedia(messages, [Cut(image, "s384")], Owl3Variant.V240728)[0].Content);
        Assert.Equal(real.GetProperty("prompt_text").GetString(), prompt.Text);
        Assert.Equal(TextGoldens.Ints(real.GetProperty("input_ids")), prompt.InputIds);
        Assert.Equal(real.GetProperty("seq_len").GetInt32(), prompt.InputIds.Length);
        Assert.Equal(TextGoldens.Ints(real.GetProperty("media_starts")), prompt.MarkerStarts);
        TextGoldens.AssertRowsEqual(TextGoldens.Rows(real.GetProperty("media_offset")[0]), prompt.MediaOffsetRanges());
    }

    private static JsonElement SpecCheck(string key) => s_240728.Value.RootElement.GetProperty("spec_checks").GetProperty(key);

    [Fact]
    public void Spec_check_7_1_v2_cut_2x2()
    {
        var check = SpecCheck("PROCESSOR.md 7.1 (2x2 v2 cut, 500x500)");
        var prompt = new PromptBuilder(TextGoldens.Real, Owl3Variant.V240728).Build(
            [new(PromptRole.User, "<|image|>\nDescribe this image."), new(PromptRole.Assistant, "")], [new ImageItem(2, 2)]);

        Assert.True(check.GetProperty("spec_ids_equal").GetBoolean());
        Assert.Equal(SpecExamples.V2Cut2x2, prompt.InputIds);
        Assert.Equal(check.GetProperty("L").GetInt32(), prompt.InputIds.Length);
        Assert.Equal(TextGoldens.Ints(check.GetProperty("starts")), prompt.MarkerStarts);
    }

    [Fact]
    public void Spec_check_7_3_video_240728()
    {
        var check = SpecCheck("PROCESSOR.md 7.3 (240728 video, 3 frames)");
        var prompt = new PromptBuilder(TextGoldens.Real, Owl3Variant.V240728).Build(
            [new(PromptRole.User, "<|video|>\nDescribe this video."), new(PromptRole.Assistant, "")], [new VideoItem(3)]);

        Assert.Equal(SpecExamples.Video240728, prompt.InputIds);
        Assert.Equal(check.GetProperty("L").GetInt32(), prompt.InputIds.Length);
        Assert.Equal(TextGoldens.Ints(check.GetProperty("starts")), prompt.MarkerStarts);
        var rows = prompt.MediaOffsetRanges();
        Assert.Equal(TextGoldens.Ints(check.GetProperty("c_t")), Enumerable.Range(0, rows.GetLength(0)).Select(t => (int)rows[t, 1]).ToArray());
        Assert.Equal(check.GetProperty("pixel_values_shape")[0].GetInt32(), prompt.ImageCount);
    }

    [Fact]
    public void Spec_check_7_4_text_only()
    {
        var check = SpecCheck("PROCESSOR.md 7.4 (text only 'Hello')");
        foreach (var variant in new[] { Owl3Variant.V240728, Owl3Variant.V241014, Owl3Variant.V241101 })
        {
            var prompt = new PromptBuilder(TextGoldens.Real, variant).Build([new(PromptRole.User, "Hello"), new(PromptRole.Assistant, "")]);
            Assert.Equal(TextGoldens.Ints(check.GetProperty("ids")), prompt.InputIds);
            Assert.Empty(prompt.MarkerStarts);
            var rows = prompt.MediaOffsetRanges();
            var expectedRow = check.GetProperty("media_offset_rows")[0];
            for (int t = 0; t < rows.GetLength(0); t++)
            {
                Assert.Equal(expectedRow[0].GetInt64(), rows[t, 0]);
                Assert.Equal(expectedRow[1].GetInt64(), rows[t, 1]);
            }
        }
    }

    /// <summary>
    /// §3.6: the original 240728 processor gives the second cut image the "1 rows 1 columns" template of the first
    /// image's global view (7 markers for 12 crops). The project does not reproduce that: each image gets its own grid,
    /// so markers and crops agree (12 and 12).
    /// </summary>
    [Fact]
    public void Spec_check_3_6_multi_image_cut_uses_each_image_s_own_grid()
    {
        var check = SpecCheck("PROCESSOR.md 3.6 (240728 multi-image cut)");
        string original = check.GetProperty("user_content_after_expansion").GetString()!;
        var media = new List<MediaItem> { new ImageItem(2, 2), new ImageItem(2, 3) };
        var messages = new List<PromptMessage> { new(PromptRole.User, "<|image|><|image|>Compare them."), new(PromptRole.Assistant, "") };

        string ours = PromptBuilder.ExpandMedia(messages, media, Owl3Variant.V240728)[0].Content;
        var prompt = new PromptBuilder(TextGoldens.Real, Owl3Variant.V240728).Build(messages, media);

        string firstImage = MediaTemplates.CutV2(2, 2);
        Assert.StartsWith(firstImage, original, StringComparison.Ordinal);
        Assert.Equal(check.GetProperty("num_markers").GetInt32(), original.Split(MediaTemplates.ImageMarker).Length - 1);
        Assert.Equal(firstImage + MediaTemplates.CutV2(2, 3) + "Compare them.", ours);
        Assert.Equal(check.GetProperty("num_crops").GetInt32(), prompt.ImageCount);
        Assert.Equal(media.Sum(m => ((ImageItem)m).Crops), prompt.ImageCount);
    }

    [Fact]
    public void Spec_check_marker_ids()
    {
        foreach (var marker in SpecCheck("marker ids").EnumerateObject())
            Assert.Equal(TextGoldens.Ints(marker.Value), TextGoldens.Real.Encode(marker.Name));
    }
}
