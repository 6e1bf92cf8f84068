namespace Owl3Native.Processing.Video;

/// <summary>Which frames of a video become images (spec/PROCESSOR.md §4, spec/EVAL.md §3.3).</summary>
public static class FrameSampler
{
    /// <summary>The original's default recipe and the engine default for chat.</summary>
    public const int DefaultMaxFrames = 16;

    /// <summary>
    /// README / demo recipe: one frame per second (`step = round(avg_fps)`, Python's half-to-even), then, beyond
    /// <paramref name="maxFrames"/>, a uniform subset: `gap = count / n`, candidates `int(i·gap + gap/2)`.
    /// </summary>
    public static int[] OnePerSecond(int frameCount, double averageFps, int maxFrames = DefaultMaxFrames)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frameCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrames, 1);
        int step = Math.Max(1, (int)Math.Round(averageFps, MidpointRounding.ToEven));
        var candidates = new List<int>();
        for (int i = 0; i < frameCount; i += step) candidates.Add(i);
        if (candidates.Count <= maxFrames) return candidates.ToArray();
        double gap = (double)candidates.Count / maxFrames;
        return Enumerable.Range(0, maxFrames).Select(i => candidates[(int)(i * gap + gap / 2)]).ToArray();
    }

    /// <summary>
    /// Evaluation recipe ("middle", whole-video mode): `k = min(n, vlen)` intervals with boundaries
    /// `trunc(i·(vlen/k))` (NumPy linspace, last = vlen), the middle frame `(b_i + b_{i+1} − 1) div 2` of each, padded
    /// with the last index up to n.
    /// </summary>
    public static int[] Middle(int frameCount, int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frameCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        int k = Math.Min(n, frameCount);
        double step = (double)frameCount / k;
        var bounds = new int[k + 1];
        for (int i = 0; i < k; i++) bounds[i] = (int)(i * step);
        bounds[k] = frameCount;
        var frames = new int[n];
        for (int i = 0; i < k; i++) frames[i] = (bounds[i] + bounds[i + 1] - 1) / 2;
        for (int i = k; i < n; i++) frames[i] = frames[k - 1];
        return frames;
    }
}
