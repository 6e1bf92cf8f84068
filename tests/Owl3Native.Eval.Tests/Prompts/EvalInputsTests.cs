using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;
using Owl3Native.Eval.Prompts;
using Owl3Native.Eval.Tests.Data;
using Owl3Native.Processing;
using Owl3Native.Processing.Images;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Eval.Tests.Prompts;

public sealed class EvalInputsTests
{
    private static EvalInputBuilder.FrameDecoder Frames(int count) =>
        _ => Enumerable.Range(0, count).Select(_ => new RgbImage(2, 2, new byte[12])).ToArray();

    [Fact]
    public void Image_record_becomes_three_messages_and_one_image_file()
    {
        var entry = PlanEntry.ForDataset("okvqa_val");
        var prompt = EvalPrompts.Build(entry, DataFixtures.Load(entry).Records[0]);

        var inputs = EvalInputBuilder.Build(prompt, Frames(0));

        Assert.True(inputs.Cut);
        Assert.Equal([PromptRole.System, PromptRole.User, PromptRole.Assistant], inputs.Messages.Select(m => m.Role));
        Assert.Equal(["", prompt.Text, "None"], inputs.Messages.Select(m => m.Content));
        var image = Assert.IsType<ImageSource>(Assert.Single(inputs.Media));
        Assert.Equal(DataFixtures.File("images/mscoco/images/val2014/COCO_val2014_000000000001.jpg"), image.Path);
    }

    [Fact]
    public void Embedded_images_become_byte_sources()
    {
        var record = new EvalRecord { DsName = "nlvr2", Index = 0, Key = "0", Question = "s", Images = [EvalImage.Embedded([1, 2], "l"), EvalImage.Embedded([3], "r")] };
        var inputs = EvalInputBuilder.Build(EvalPrompts.Build(PlanEntry.ForDataset("nlvr2"), record), Frames(0));
        Assert.Equal([[1, 2], [3]], inputs.Media.Cast<ImageSource>().Select(s => s.Data!));
    }

    [Fact]
    public void Missing_image_file_fails_loudly_naming_it()
    {
        var record = new EvalRecord { DsName = "gqa_testdev", Index = 0, Key = "1", Question = "q", Images = [EvalImage.File("/nonexistent/n1.jpg")] };
        var prompt = EvalPrompts.Build(PlanEntry.ForDataset("gqa_testdev"), record);
        var e = Assert.Throws<FileNotFoundException>(() => EvalInputBuilder.Build(prompt, Frames(0)));
        Assert.Equal("/nonexistent/n1.jpg", e.FileName);
    }

    [Fact]
    public void Video_frames_replace_the_video_marker()
    {
        var entry = PlanEntry.ForDataset("next_qa_mc") with { NumFrames = 3 };
        var prompt = EvalPrompts.Build(entry, DataFixtures.Load(entry).Records[0]);

        var inputs = EvalInputBuilder.Build(prompt, Frames(3));

        Assert.False(inputs.Cut);
        Assert.Equal(3, inputs.Media.Count);
        Assert.All(inputs.Media, m => Assert.NotNull(Assert.IsType<ImageSource>(m).Decoded));
        Assert.Equal([PromptRole.User, PromptRole.Assistant], inputs.Messages.Select(m => m.Role));
        Assert.StartsWith("<|image|><|image|><|image|>\nQuestion: what is the boy doing?", inputs.Messages[0].Content, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => EvalInputBuilder.Build(prompt, Frames(2)));
    }

    [Fact]
    public void Frame_folder_frames_are_image_files_of_the_mvbench_rule()
    {
        using var dir = new TempDirectory("owl3-frames");
        for (int i = 1; i <= 30; i++) dir.Write($"clip/{i:00000}.jpg", [0]);
        var record = new EvalRecord
        {
            DsName = "mvbench", Index = 0, Key = "0", Question = "Why?", Options = ["a", "b"],
            Videos = [new EvalVideo(dir.File("clip"), 4, new VideoBound(2, 6), FrameFolderFps: 3)],
        };
        var prompt = EvalPrompts.Build(PlanEntry.ForDataset("mvbench") with { NumFrames = 4 }, record);

        var inputs = EvalInputBuilder.Build(prompt, _ => throw new InvalidOperationException("no video decoding for frame folders"));

        Assert.Equal(["00007.jpg", "00010.jpg", "00013.jpg", "00016.jpg"], inputs.Media.Cast<ImageSource>().Select(s => Path.GetFileName(s.Path)));
        Assert.StartsWith("<|image|><|image|><|image|><|image|>\nQuestion: Why?\nOptions:\nA. a\nB. b\n", inputs.Messages[0].Content, StringComparison.Ordinal);
    }

    [RequiresToolFact("ffmpeg")]
    public void Ffmpeg_decoder_samples_interval_middles_of_a_real_video()
    {
        using var dir = new TempDirectory("owl3-video");
        string video = dir.File("clip.mp4");
        var ffmpeg = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("ffmpeg",
            ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=32x24:rate=10", "-t", "2", "-pix_fmt", "yuv420p", video]) { RedirectStandardError = true })!;
        ffmpeg.WaitForExit();
        Assert.Equal(0, ffmpeg.ExitCode);
        var record = new EvalRecord { DsName = "next_qa_mc", Index = 0, Key = "v_1", Question = "q", Options = ["a", "b"], Videos = [new EvalVideo(video, 4)] };
        var prompt = EvalPrompts.Build(PlanEntry.ForDataset("next_qa_mc") with { NumFrames = 4 }, record);

        var inputs = EvalInputBuilder.Build(prompt, EvalInputBuilder.FfmpegDecoder(record));

        Assert.Equal(4, inputs.Media.Count);
        Assert.All(inputs.Media, m => Assert.Equal((32, 24), (((ImageSource)m).Decoded!.Width, ((ImageSource)m).Decoded!.Height)));
        Assert.Equal(4, PromptTemplates.Count(inputs.Messages[0].Content, "<|image|>"));
    }
}
