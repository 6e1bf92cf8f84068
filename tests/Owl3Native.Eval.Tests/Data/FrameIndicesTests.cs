using Owl3Native.Eval.Data;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Eval.Tests.Data;

public sealed class FrameIndicesTests
{
    // spec/EVAL.md §7.6.
    [Theory]
    [InlineData(100, 8, new[] { 5, 18, 30, 43, 55, 68, 80, 93 })]
    [InlineData(10, 3, new[] { 1, 4, 7 })]
    [InlineData(5, 8, new[] { 0, 1, 2, 3, 4, 4, 4, 4 })]
    [InlineData(1, 4, new[] { 0, 0, 0, 0 })]
    public void Middle_sampling_matches_the_fixture_table(int vlen, int n, int[] expected)
    {
        Assert.Equal(expected, FrameIndices.Middle(vlen, n));
        Assert.Equal(expected, FrameIndices.ForVideo(vlen, 30, n, bound: null));
    }

    [Fact]
    public void Long_video_bench_bound_from_zero_takes_the_whole_video_path()
    {
        var bound = new VideoBound(0, 120);
        Assert.False(bound.IsSegment);
        Assert.Equal(FrameIndices.Middle(3600, 64), FrameIndices.ForVideo(3600, 30, 64, bound, SegmentSampling.Random, new Random(1)));
        Assert.Equal(FrameIndices.Middle(3600, 64), FrameIndices.ForVideo(3600, 30, 64, new VideoBound(5, 0)));
    }

    [Fact]
    public void Episodic_reasoning_frame_folder_rule_matches_the_fixture()
    {
        // start_idx = max(1, round(3·2)) = 6, end_idx = min(round(3·6), 30) = 18, seg = 3 → int(6 + 1.5 + round(3i)).
        Assert.Equal([7, 10, 13, 16], FrameIndices.FrameFolder(30, 4, new VideoBound(2.0, 6.0)));

        using var dir = new TempDirectory("owl3-frames");
        for (int i = 1; i <= 30; i++) dir.Write($"clip/{i:00000}.jpg", [0]);
        var files = FrameIndices.FrameFolderFiles(new EvalVideo(dir.File("clip"), 4, new VideoBound(2.0, 6.0), FrameFolderFps: 3));
        Assert.Equal(["00007.jpg", "00010.jpg", "00013.jpg", "00016.jpg"], files.Select(Path.GetFileName));
    }

    [Fact]
    public void Frame_folder_rule_rounds_half_to_even()
    {
        // start_idx 2, end_idx 7, n 2 → seg 2.5: f_1 = int(2 + 1.25 + round(2.5)); round-half-even gives 2 → 5 (half-up: 6).
        Assert.Equal([3, 5], FrameIndices.FrameFolder(100, 2, new VideoBound(2.0 / 3, 7.0 / 3), fps: 3));
    }

    [Fact]
    public void Segment_boundaries_follow_int_linspace_of_the_clip()
    {
        // s = 75, e = 225, k = 8, step 18.75 → 75, 93.75, 112.5, 131.25, 150, 168.75, 187.5, 206.25, 225 truncated.
        Assert.Equal([75, 93, 112, 131, 150, 168, 187, 206, 225], FrameIndices.SegmentBoundaries(300, 30, 8, new VideoBound(2.5, 7.5)));
        // end beyond the video: e = min(int(30·20), 300) = 300.
        Assert.Equal(300, FrameIndices.SegmentBoundaries(300, 30, 4, new VideoBound(5, 20))[^1]);
    }

    [Fact]
    public void Random_segment_sampling_draws_inside_each_interval_and_is_seeded()
    {
        var bound = new VideoBound(2.5, 7.5);
        var b = FrameIndices.SegmentBoundaries(300, 30, 8, bound);
        var outcomes = new HashSet<string>();
        for (int seed = 0; seed < 40; seed++)
        {
            var frames = FrameIndices.Segment(300, 30, 8, bound, SegmentSampling.Random, new Random(seed));
            for (int i = 0; i < 8; i++) Assert.InRange(frames[i], b[i], b[i + 1] - 2);
            Assert.Equal(frames, FrameIndices.Segment(300, 30, 8, bound, SegmentSampling.Random, new Random(seed)));
            outcomes.Add(string.Join(",", frames));
        }
        Assert.True(outcomes.Count > 10, "different seeds draw different frames");
    }

    [Fact]
    public void Middle_segment_sampling_takes_interval_midpoints()
    {
        Assert.Equal([83, 102, 121, 140, 158, 177, 196, 215], FrameIndices.Segment(300, 30, 8, new VideoBound(2.5, 7.5), SegmentSampling.Middle, new Random(0)));
    }

    [Fact]
    public void Too_short_intervals_fall_back_to_a_sorted_subset_and_pad()
    {
        // s = 1, e = 5, k = 4: every interval is one frame, so range(b_i, b_{i+1} − 1) is empty → sorted subset of 1..4.
        Assert.Equal([1, 2, 3, 4], FrameIndices.Segment(100, 1, 4, new VideoBound(1, 5), SegmentSampling.Random, new Random(3)));
        Assert.Equal([1, 2, 3, 4, 4, 4], FrameIndices.Segment(100, 1, 6, new VideoBound(1, 5), SegmentSampling.Random, new Random(3)));
    }

    [Fact]
    public void A_clip_without_frames_is_an_error()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => FrameIndices.ForVideo(100, 30, 8, new VideoBound(10, 20)));
        Assert.Contains("holds no frame", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Record_seeds_depend_on_run_dataset_and_index_only()
    {
        Assert.Equal(FrameIndices.SeedFor(0, "mvbench", 5), FrameIndices.SeedFor(0, "mvbench", 5));
        Assert.NotEqual(FrameIndices.SeedFor(0, "mvbench", 5), FrameIndices.SeedFor(0, "mvbench", 6));
        Assert.NotEqual(FrameIndices.SeedFor(0, "mvbench", 5), FrameIndices.SeedFor(1, "mvbench", 5));
        Assert.True(FrameIndices.SeedFor(7, "mvbench", 123) >= 0);
    }
}
