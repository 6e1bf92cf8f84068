using System.Diagnostics;
using Owl3Native.Processing.Video;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Tests.Processing.Video;

public sealed class FrameSamplerTests
{
    [Fact]
    public void One_per_second_then_uniform_as_the_readme_recipe()
    {
        Assert.Equal([0, 10, 20], FrameSampler.OnePerSecond(30, 10.0));
        Assert.Equal([0, 2, 4], FrameSampler.OnePerSecond(5, 2.5)); // round(2.5) = 2 (half to even)
        Assert.Equal([0, 4, 8], FrameSampler.OnePerSecond(9, 3.5)); // round(3.5) = 4
        // 60 s at 30 fps → 60 candidates; 16 of them: gap 3.75, int(i·3.75 + 1.875) → candidates 1, 5, ..., 58
        int[] picked = FrameSampler.OnePerSecond(1800, 30.0, 16);
        Assert.Equal(16, picked.Length);
        Assert.Equal(30, picked[0]);
        Assert.Equal(150, picked[1]);
        Assert.Equal(1740, picked[^1]); // int(15·3.75 + 1.875) = 58 → frame 58·30
    }

    [Fact]
    public void Middle_sampling_matches_numpy_linspace_and_pads_short_videos()
    {
        // vlen 100, n 8: bounds trunc(i·12.5) = 0 12 25 37 50 62 75 87 100 → middles 5 18 30 43 55 68 80 93
        Assert.Equal([5, 18, 30, 43, 55, 68, 80, 93], FrameSampler.Middle(100, 8));
        Assert.Equal([0, 1, 2, 2, 2], FrameSampler.Middle(3, 5));
        Assert.Equal([0], FrameSampler.Middle(1, 1));
    }
}

public sealed class VideoDecoderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string MakeClip(string args, string name)
    {
        string path = Path.Combine(_dir.Path, name);
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in $"-v error -f lavfi -i {args} -pix_fmt yuv420p {path}".Split(' ')) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, p.StandardError.ReadToEnd());
        return path;
    }

    [RequiresToolFact("ffmpeg")]
    public void Probe_and_decode_selected_frames()
    {
        string clip = MakeClip("testsrc=duration=3:size=96x64:rate=10", "t.mp4");
        var info = VideoDecoder.Probe(clip);
        Assert.Equal(30, info.FrameCount);
        Assert.Equal(10.0, info.AverageFps, 3);
        Assert.Equal((96, 64), (info.Width, info.Height));
        var frames = VideoDecoder.Decode(clip, info, FrameSampler.OnePerSecond(info.FrameCount, info.AverageFps));
        Assert.Equal([0, 10, 20], frames.Select(f => f.Index));
        Assert.All(frames, f => Assert.Equal(96 * 64 * 3, f.Rgb.Length));
        Assert.False(frames[0].Rgb.AsSpan().SequenceEqual(frames[1].Rgb)); // testsrc's counter changes every frame
        // Duplicates and any order come back as asked.
        var again = VideoDecoder.Decode(clip, info, [20, 0, 20]);
        Assert.Equal(frames[2].Rgb, again[0].Rgb);
        Assert.Equal(frames[0].Rgb, again[1].Rgb);
    }

    [RequiresToolFact("ffmpeg")]
    public void A_file_that_is_not_a_video_gets_a_clear_error()
    {
        string notVideo = Path.Combine(_dir.Path, "x.mp4");
        File.WriteAllText(notVideo, "this is not a video");
        var e = Assert.Throws<VideoDecodeException>(() => VideoDecoder.Probe(notVideo));
        Assert.Contains("not a video", e.Message);
        Assert.Contains("file not found", Assert.Throws<VideoDecodeException>(() => VideoDecoder.Probe(Path.Combine(_dir.Path, "missing.mp4"))).Message);
    }

    [Fact]
    public void Missing_ffmpeg_says_how_to_install_it()
    {
        var e = Assert.Throws<VideoDecodeException>(() => VideoDecoder.Tool("ffmpeg", "clip.mp4", searchPath: ""));
        Assert.Contains("apt-get install ffmpeg", e.Message);
    }
}
