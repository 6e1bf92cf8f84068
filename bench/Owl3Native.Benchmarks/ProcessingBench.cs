using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Owl3Native.Processing;
using Owl3Native.Processing.Images;
using Owl3Native.Processing.Text;
using Owl3Native.Processing.Video;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Owl3Native.Benchmarks;

/// <summary>
/// Input processing: Qwen2 encode throughput on the spec text (real tokenizer from ../shared), a 4K photo-sized image
/// through decode + PIL-exact resize + 2×3-or-so cut at 378 px, and a 60-second 1080p video sampled at 1 fps (60 frames)
/// through ffmpeg + per-frame resize. Inputs are generated in GlobalSetup (a noisy gradient PNG, an ffmpeg testsrc clip).
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class ProcessingBench
{
    private Qwen2Tokenizer _tokenizer = null!;
    private string _text = "";
    private string _photo = "", _video = "";

    [GlobalSetup]
    public void Setup()
    {
        string shared = Environment.GetEnvironmentVariable("OWL3_SHARED") ?? Path.GetFullPath(Path.Combine(FindRepo(), "..", "shared"));
        _tokenizer = Qwen2Tokenizer.Load(Path.Combine(shared, "tokenizer", "qwen2"));
        _text = string.Concat(Enumerable.Repeat(File.ReadAllText(Path.Combine(shared, "spec", "MODEL.md")), 4)); // ~150 KB of mixed prose and code
        string dir = Directory.CreateTempSubdirectory("owl3-processing-bench").FullName;
        _photo = Path.Combine(dir, "photo-3840x2160.png");
        using (var img = new Image<Rgb24>(3840, 2160))
        {
            var rng = new Random(1);
            for (int y = 0; y < img.Height; y++)
                for (int x = 0; x < img.Width; x++)
                    img[x, y] = new Rgb24((byte)(x * 255 / 3839 ^ rng.Next(16)), (byte)(y * 255 / 2159), (byte)((x + y) % 256));
            img.SaveAsPng(_photo);
        }
        _video = Path.Combine(dir, "clip-1080p-60s.mp4");
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true };
        foreach (var a in $"-v error -f lavfi -i testsrc2=duration=60:size=1920x1080:rate=30 -pix_fmt yuv420p -y {_video}".Split(' ')) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.WaitForExit();
    }

    [Benchmark(Description = "tokenize ~150 KB (real Qwen2 vocab)")]
    public int Tokenize() => _tokenizer.Encode(_text).Length;

    [Benchmark(Description = "3840x2160 PNG: decode + cut at 378")]
    public int Photo4K() => ImageProcessor.Process(ImageLoader.Load(_photo), 378, cut: true).Crops;

    [Benchmark(Description = "60 s 1080p video: 60 frames at 1 fps + resize")]
    public int Video60s()
    {
        var info = VideoDecoder.Probe(_video);
        var frames = VideoDecoder.Decode(_video, info, FrameSampler.OnePerSecond(info.FrameCount, info.AverageFps, maxFrames: 60));
        int crops = 0;
        foreach (var f in frames) crops += ImageProcessor.Process(new RgbImage(f.Width, f.Height, f.Rgb), 378, cut: false).Crops;
        return crops;
    }

    public double TextMegabytes => System.Text.Encoding.UTF8.GetByteCount(_text) / 1e6;

    private static string FindRepo()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "Owl3Native.sln"))) d = d.Parent;
        return d?.FullName ?? Directory.GetCurrentDirectory();
    }
}
