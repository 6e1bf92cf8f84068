using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Owl3Native.Processing.Video;

/// <summary>One decoded frame: interleaved 8-bit RGB at the video's resolution.</summary>
public sealed record VideoFrame(int Index, int Width, int Height, byte[] Rgb);

/// <summary>What ffprobe says about a video stream.</summary>
public sealed record VideoInfo(int FrameCount, double AverageFps, int Width, int Height, double DurationSeconds);

/// <summary>
/// Frames through the system's ffmpeg/ffprobe (Debian's `ffmpeg`): the frame count and average fps from ffprobe
/// (every packet counted, as decord's `len()`), then only the wanted frames decoded to RGB through a pipe
/// (`select` filter), full resolution, so they are resized exactly like still images.
/// </summary>
public static class VideoDecoder
{
    /// <summary>Largest frame accepted (pixels), against hostile streams.</summary>
    public const long MaxFramePixels = 64L << 20;

    /// <summary>Reads the stream's frame count, fps and size.</summary>
    /// <exception cref="VideoDecodeException">ffprobe is missing, or the file has no video stream.</exception>
    public static VideoInfo Probe(string path)
    {
        CheckFile(path);
        string json = Run(path, Tool("ffprobe", path), ["-v", "error", "-select_streams", "v:0", "-count_packets",
            "-show_entries", "stream=nb_read_packets,avg_frame_rate,r_frame_rate,width,height:format=duration", "-of", "json", path], out _);
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (!doc.RootElement.TryGetProperty("streams", out var streams) || streams.GetArrayLength() == 0)
                throw new VideoDecodeException(path, "not a video: no video stream");
            var s = streams[0];
            int frames = int.Parse(s.GetProperty("nb_read_packets").GetString()!, CultureInfo.InvariantCulture);
            double fps = Rate(s.GetProperty("avg_frame_rate").GetString()) is > 0 and var a ? a : Rate(s.GetProperty("r_frame_rate").GetString());
            int w = s.GetProperty("width").GetInt32(), h = s.GetProperty("height").GetInt32();
            double duration = doc.RootElement.TryGetProperty("format", out var f) && f.TryGetProperty("duration", out var d)
                && double.TryParse(d.GetString(), CultureInfo.InvariantCulture, out var dd) ? dd : frames / Math.Max(fps, 1e-9);
            if (frames <= 0 || w <= 0 || h <= 0) throw new VideoDecodeException(path, $"not a decodable video ({frames} frames of {w}x{h})");
            if ((long)w * h > MaxFramePixels) throw new VideoDecodeException(path, $"frames of {w}x{h} exceed the {MaxFramePixels}-pixel limit");
            return new VideoInfo(frames, fps, w, h, duration);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or FormatException or InvalidOperationException)
        {
            throw new VideoDecodeException(path, "ffprobe gave no usable stream information (not a video?)", e);
        }
    }

    /// <summary>Decodes the frames at <paramref name="indices"/> (ascending or not; duplicates allowed) in the order given.</summary>
    /// <exception cref="VideoDecodeException">ffmpeg is missing or fails, or fewer frames than asked come back.</exception>
    public static IReadOnlyList<VideoFrame> Decode(string path, VideoInfo info, IReadOnlyList<int> indices, CancellationToken cancellation = default) =>
        Decode(path, info, indices, cancellation, null);

    /// <summary>As <see cref="Decode(string, VideoInfo, IReadOnlyList{int}, CancellationToken)"/>, calling <paramref name="onFrame"/>
    /// with (frames decoded, frames requested) after each distinct frame.</summary>
    public static IReadOnlyList<VideoFrame> Decode(string path, VideoInfo info, IReadOnlyList<int> indices, CancellationToken cancellation, Action<int, int>? onFrame)
    {
        if (indices.Count == 0) return [];
        var distinct = indices.Distinct().Order().ToArray();
        if (distinct[0] < 0 || distinct[^1] >= info.FrameCount)
            throw new ArgumentOutOfRangeException(nameof(indices), $"frame indices must be within 0..{info.FrameCount - 1}");
        string select = string.Join("+", distinct.Select(i => $"eq(n\\,{i})"));
        var args = new List<string> { "-v", "error", "-nostdin", "-i", path, "-map", "0:v:0", "-vf", $"select='{select}'",
            "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-" };
        int frameBytes = checked(info.Width * info.Height * 3);
        var frames = new Dictionary<int, VideoFrame>();
        RunBinary(path, Tool("ffmpeg", path), args, stdout =>
        {
            for (int k = 0; k < distinct.Length; k++)
            {
                cancellation.ThrowIfCancellationRequested();
                var buffer = new byte[frameBytes];
                int read = 0;
                while (read < frameBytes)
                {
                    int n = stdout.Read(buffer, read, frameBytes - read);
                    if (n == 0) throw new VideoDecodeException(path, $"ffmpeg returned {k} of {distinct.Length} requested frames");
                    read += n;
                }
                frames[distinct[k]] = new VideoFrame(distinct[k], info.Width, info.Height, buffer);
                onFrame?.Invoke(k + 1, distinct.Length);
            }
        });
        return indices.Select(i => frames[i]).ToArray();
    }

    private static double Rate(string? text)
    {
        if (text is null) return 0;
        var parts = text.Split('/');
        if (parts.Length == 2 && double.TryParse(parts[0], CultureInfo.InvariantCulture, out var n) && double.TryParse(parts[1], CultureInfo.InvariantCulture, out var d) && d != 0)
            return n / d;
        return double.TryParse(text, CultureInfo.InvariantCulture, out var v) ? v : 0;
    }

    private static void CheckFile(string path)
    {
        if (!File.Exists(path)) throw new VideoDecodeException(path, "file not found");
    }

    /// <summary>The tool on PATH, or a clear error saying how to get it.</summary>
    public static string Tool(string name, string forPath) => Tool(name, forPath, Environment.GetEnvironmentVariable("PATH") ?? "");

    /// <summary>The tool on a given search path (tests pass an empty one).</summary>
    internal static string Tool(string name, string forPath, string searchPath)
    {
        foreach (var dir in searchPath.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new VideoDecodeException(forPath, $"{name} not found on PATH: video input needs ffmpeg (Debian: apt-get install ffmpeg)");
    }

    private static string Run(string path, string exe, IEnumerable<string> args, out string stderr)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new VideoDecodeException(path, $"could not start {exe}");
        var errTask = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        stderr = errTask.Result;
        if (p.ExitCode != 0)
            throw new VideoDecodeException(path, $"{Path.GetFileName(exe)} failed (exit {p.ExitCode}): {FirstLine(stderr)} (not a video?)");
        return output;
    }

    private static void RunBinary(string path, string exe, IEnumerable<string> args, Action<Stream> read)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new VideoDecodeException(path, $"could not start {exe}");
        var errTask = p.StandardError.ReadToEndAsync();
        try
        {
            read(p.StandardOutput.BaseStream);
        }
        catch
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { /* already exited */ }
            throw;
        }
        p.StandardOutput.BaseStream.CopyTo(Stream.Null); // drain anything extra so ffmpeg can exit
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new VideoDecodeException(path, $"ffmpeg failed (exit {p.ExitCode}): {FirstLine(errTask.Result)}");
    }

    private static string FirstLine(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "(no message)";
}
