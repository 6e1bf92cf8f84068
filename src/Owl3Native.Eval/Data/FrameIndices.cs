using System.Globalization;
using Owl3Native.Processing.Video;

namespace Owl3Native.Eval.Data;

/// <summary>How frames are drawn inside a clip (segment mode, spec/EVAL.md §3.3 step 4).</summary>
public enum SegmentSampling
{
    /// <summary>
    /// The original: one frame drawn uniformly from `b_i … b_{i+1}−2` of each interval (a random sorted subset of the clip
    /// when an interval is too short). The original's Python `random` is unseeded; here the caller passes a seeded
    /// <see cref="System.Random"/> (<see cref="FrameIndices.SeedFor"/>), so a run is reproducible but draws other frames.
    /// </summary>
    Random,
    /// <summary>Deterministic alternative: the middle `(b_i + b_{i+1} − 1) div 2` of each interval of the clip.</summary>
    Middle,
}

/// <summary>
/// Which frames of a video a record uses (spec/EVAL.md §3.3, §4.15): whole-video "middle" sampling, clip sampling when
/// both ends of the bound are non-zero, and MVBench's rule for folders of frame images.
/// </summary>
public static class FrameIndices
{
    /// <summary>Whole-video mode: `k = min(n, vlen)` intervals, the middle frame of each, padded with the last up to n.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vlen"/> or <paramref name="n"/> is below 1.</exception>
    public static int[] Middle(int vlen, int n) => FrameSampler.Middle(vlen, n);

    /// <summary>
    /// The frames of a video of <paramref name="vlen"/> frames at <paramref name="fps"/>: clip sampling when
    /// <paramref name="bound"/> has both ends non-zero (<see cref="VideoBound.IsSegment"/>), else whole-video middle sampling
    /// (so LongVideoBench's `[0, duration]` and MVBench clips starting at 0 use the whole video, §9 #16–17).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is below 1, or the clip holds no frame.</exception>
    public static int[] ForVideo(int vlen, double fps, int n, VideoBound? bound, SegmentSampling sampling = SegmentSampling.Random, Random? random = null) =>
        bound is { IsSegment: true } b ? Segment(vlen, fps, n, b, sampling, random ?? new Random(0)) : Middle(vlen, n);

    /// <summary>
    /// The intervals of clip mode: `s = max(int(fps·start), 0)`, `e = min(int(fps·end), vlen)`, `k = min(n, e − s)`,
    /// boundaries `int(linspace(s, e, k+1))`; interval i is `[b_i, b_{i+1} − 1]`.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is below 1, or the clip holds no frame.</exception>
    public static int[] SegmentBoundaries(int vlen, double fps, int n, VideoBound bound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vlen, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        int s = Math.Max((int)(fps * bound.Start), 0);
        int e = Math.Min((int)(fps * bound.End), vlen);
        int k = Math.Min(n, e - s);
        if (k < 1)
            throw new ArgumentOutOfRangeException(nameof(bound),
                $"the clip [{bound.Start.ToString(CultureInfo.InvariantCulture)}, {bound.End.ToString(CultureInfo.InvariantCulture)}] s at {fps.ToString(CultureInfo.InvariantCulture)} fps holds no frame of the {vlen}-frame video (frames {s}..{e - 1})");
        double step = (double)(e - s) / k;
        var b = new int[k + 1];
        for (int i = 0; i < k; i++) b[i] = (int)(i * step + s);
        b[k] = e;
        return b;
    }

    /// <summary>Clip mode (§3.3 step 4), padded with the last index up to n.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is below 1, or the clip holds no frame.</exception>
    public static int[] Segment(int vlen, double fps, int n, VideoBound bound, SegmentSampling sampling, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var b = SegmentBoundaries(vlen, fps, n, bound);
        int k = b.Length - 1;
        var frames = new int[n];
        if (sampling == SegmentSampling.Middle)
            for (int i = 0; i < k; i++) frames[i] = (b[i] + b[i + 1] - 1) / 2;
        else if (Enumerable.Range(0, k).All(i => b[i + 1] - 1 > b[i]))
            for (int i = 0; i < k; i++) frames[i] = random.Next(b[i], b[i + 1] - 1);
        else
        {
            int s = b[0], e = b[k];
            var pool = Enumerable.Range(s, e - s).ToArray();
            random.Shuffle(pool);
            var chosen = pool[..k];
            Array.Sort(chosen);
            chosen.CopyTo(frames, 0);
        }
        for (int i = k; i < n; i++) frames[i] = frames[k - 1];
        return frames;
    }

    /// <summary>
    /// MVBench's own rule for frame folders (Episodic Reasoning, §4.15): `start_idx = max(1, round(fps·start))`,
    /// `end_idx = min(round(fps·end), fileCount)`, `seg = (end_idx − start_idx)/n`, `f_i = int(start_idx + seg/2 +
    /// round(seg·i))` (round half to even). The numbers name files `{f_i:05d}.jpg`.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> is below 1.</exception>
    public static int[] FrameFolder(int fileCount, int n, VideoBound bound, double fps = MvBenchReader.FrameFolderFps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        int start = Math.Max(1, (int)Math.Round(fps * bound.Start, MidpointRounding.ToEven));
        int end = Math.Min((int)Math.Round(fps * bound.End, MidpointRounding.ToEven), fileCount);
        double seg = (double)(end - start) / n;
        return Enumerable.Range(0, n).Select(i => (int)(start + seg / 2 + Math.Round(seg * i, MidpointRounding.ToEven))).ToArray();
    }

    /// <summary>The frame files of a folder video (<see cref="EvalVideo.IsFrameFolder"/>): <see cref="FrameFolder"/> over the folder's file count.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="ArgumentException">The video is not a frame folder or has no bound.</exception>
    public static IReadOnlyList<string> FrameFolderFiles(EvalVideo video)
    {
        ArgumentNullException.ThrowIfNull(video);
        if (video.FrameFolderFps is not { } fps || video.Bound is not { } bound)
            throw new ArgumentException($"{video.Path} is not a bounded frame folder", nameof(video));
        if (!Directory.Exists(video.Path)) throw new DirectoryNotFoundException($"frame folder not found: {video.Path}");
        int count = Directory.GetFiles(video.Path).Length;
        return FrameFolder(count, video.NumFrames, bound, fps).Select(f => Path.Combine(video.Path, $"{f:00000}.jpg")).ToArray();
    }

    /// <summary>
    /// A per-record seed for <see cref="SegmentSampling.Random"/>: the same run seed, dataset and record always draw the
    /// same frames, whatever the sharding (FNV-1a over the dataset name, mixed with the record index and run seed).
    /// </summary>
    public static int SeedFor(int runSeed, string dsName, int recordIndex)
    {
        ArgumentNullException.ThrowIfNull(dsName);
        uint h = 2166136261;
        foreach (char c in dsName) h = (h ^ c) * 16777619;
        h = (h ^ (uint)recordIndex) * 16777619;
        h = (h ^ (uint)runSeed) * 16777619;
        return (int)(h & 0x7fffffff);
    }
}
