using Owl3Native.Engine;
using Owl3Native.Processing;
using Owl3Native.Processing.Images;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Owl3Native.Verification;
using Xunit;

namespace Owl3Native.Tests.EndToEnd;

/// <summary>
/// From files to tokens: the original's end-to-end cases rebuilt by our own pipeline — PNG decode, PIL-exact resize
/// and cut, chat template, chunk-wise tokens, marker starts — then the engine, against the goldens of the original.
/// </summary>
public sealed class ProcessorToGenerationTests
{
    private static string Image(string name) => Path.Combine(SharedData.Root, "golden", "processor", "images", name);

    [Fact]
    public void Cut_image_case_241101_reproduces_inputs_pixels_logits_and_greedy_tokens()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        using var golden = GoldenSet.Open(SharedData.Golden("tiny-a"));
        var request = engine.Processor.Process(
            [new PromptMessage(PromptRole.User, "<|image|>Describe this image."), new PromptMessage(PromptRole.Assistant, "")],
            [MediaSource.ImageFile(Image("grad_500x500.png"))]);
        Assert.Equal(golden.Longs("case.processor_cut_image.input_ids").Select(v => (int)v), request.InputIds);
        Assert.Equal(golden.Floats("case.processor_cut_image.pixel_values").Data, request.Pixels!.Data); // bit-identical pixels
        var output = engine.Generate([new PromptMessage(PromptRole.User, "<|image|>Describe this image.")],
            [MediaSource.ImageFile(Image("grad_500x500.png"))], new GenerationSettings(MaxNewTokens: 16, Temperature: 0));
        Assert.Equal(golden.Longs("gen.processor_cut_image.new_tokens").Select(v => (int)v), output.TokenIds);
    }

    [Fact]
    public void Video_case_240728_frames_become_uncut_crops_in_order()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-c"));
        using var golden = GoldenSet.Open(SharedData.Golden("tiny-c"));
        // The golden's "video" is three PNG frames; here each frame goes through the video path's per-frame processing.
        var frames = new[] { "grad_1280x720.png", "grad_50x60.png", "grad_500x500.png" }.Select(f => ImageLoader.Load(Image(f))).ToArray();
        var items = new List<MediaItem> { new VideoItem(frames.Length) };
        var prompt = new PromptBuilder(engine.Processor.Tokenizer, engine.Model.Variant).Build(
            [new PromptMessage(PromptRole.User, "<|video|>\nDescribe this video."), new PromptMessage(PromptRole.Assistant, "")], items);
        Assert.Equal(golden.Longs("case.processor_video.input_ids").Select(v => (int)v), prompt.InputIds);
        var pixels = frames.SelectMany(f => ImageProcessor.Process(f, engine.Processor.CropSize, cut: false).PixelValues).ToArray();
        Assert.Equal(golden.Floats("case.processor_video.pixel_values").Data, pixels);
    }
}
