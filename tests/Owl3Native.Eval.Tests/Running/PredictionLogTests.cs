using System.Text;
using Owl3Native.Eval.Running;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Eval.Tests.Running;

public sealed class PredictionLogTests
{
    [Fact]
    public void Lines_round_trip_with_unicode_and_extra_fields()
    {
        var line = new PredictionLine("q\"1", 7, "答案: \"A\"\n", new System.Text.Json.Nodes.JsonObject { ["gt"] = "A", ["index"] = 99 });
        var back = PredictionLine.Parse(line.ToJson(), "t");
        Assert.Equal(("q\"1", 7, "答案: \"A\"\n"), (back.Key, back.Index, back.RawModelAnswer));
        Assert.Equal("A", (string?)back.Extra!["gt"]);
        Assert.DoesNotContain('\n', line.ToJson());
    }

    [Theory]
    [InlineData("{\"raw_model_answer\":\"x\"}", "needs \"key\" or \"index\"")]
    [InlineData("{\"key\":\"a\",\"index\":-1,\"raw_model_answer\":\"x\"}", "non-negative")]
    [InlineData("{\"key\":\"a\",\"index\":0}", "no \"raw_model_answer\"")]
    [InlineData("[1,2]", "not a JSON object")]
    [InlineData("{\"key\":", "not JSON")]
    public void Malformed_lines_say_what_is_wrong(string text, string message)
    {
        var e = Assert.Throws<FormatException>(() => PredictionLine.Parse(text, "f.jsonl:3"));
        Assert.Contains("f.jsonl:3", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Numeric_keys_are_kept_as_their_json_text()
    {
        var p = PredictionLine.Parse("{\"key\": 262148000, \"raw_model_answer\": \"yes\"}", "t");
        Assert.Equal("262148000", p.Key);
        Assert.Equal(-1, p.Index);
    }

    [Fact]
    public void A_killed_run_loses_at_most_the_torn_line_and_resumes_after_it()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "pope_random.jsonl");
        using (var log = PredictionLog.Open(path))
        {
            log.Append(new PredictionLine("a", 0, "yes"));
            log.Append(new PredictionLine("b", 2, "no"));
        }
        File.AppendAllText(path, "{\"key\":\"c\",\"index\":4,\"raw_mod", Encoding.UTF8); // the process died mid-write
        using (var log = PredictionLog.Open(path))
        {
            Assert.True(log.TornLineDropped);
            Assert.Equal([0, 2], log.Done.Order());
            log.Append(new PredictionLine("c", 4, "yes"));
            Assert.Throws<InvalidOperationException>(() => log.Append(new PredictionLine("a", 0, "again")));
        }
        var all = PredictionLog.ReadAll(path);
        Assert.Equal([0, 2, 4], all.Select(p => p.Index));
        Assert.All(File.ReadAllLines(path), l => PredictionLine.Parse(l, path));
    }

    [Fact]
    public void A_corrupt_complete_line_is_an_error_naming_file_and_line()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "x.jsonl");
        File.WriteAllText(path, "{\"key\":\"a\",\"index\":0,\"raw_model_answer\":\"y\"}\nnot json\n");
        var e = Assert.Throws<FormatException>(() => PredictionLog.Open(path));
        Assert.Contains("x.jsonl:2", e.Message);
    }

    [Fact]
    public void Atomic_writes_replace_the_whole_file_and_leave_no_temp_files()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "sub", "m.json");
        AtomicFile.WriteAllText(path, "first");
        AtomicFile.WriteAllText(path, "second");
        Assert.Equal("second", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void Shards_merge_in_dataset_order_and_conflicts_are_refused()
    {
        using var dir = new TempDirectory();
        string a = Path.Combine(dir.Path, "a.jsonl"), b = Path.Combine(dir.Path, "b.jsonl"), c = Path.Combine(dir.Path, "c.jsonl");
        File.WriteAllLines(a, [new PredictionLine("k3", 3, "z").ToJson(), new PredictionLine("k0", 0, "x").ToJson()]);
        File.WriteAllLines(b, [new PredictionLine("k1", 1, "y").ToJson(), new PredictionLine("k3", 3, "z").ToJson()]);
        var merged = PredictionMerge.Merge([a, b]);
        Assert.Equal([0, 1, 3], merged.Select(p => p.Index));
        Assert.Equal([2, 4], PredictionMerge.Missing(merged, 5));
        File.WriteAllLines(c, [new PredictionLine("k1", 1, "different").ToJson()]);
        var e = Assert.Throws<InvalidDataException>(() => PredictionMerge.Merge([a, b, c]));
        Assert.Contains("record 1", e.Message);
        Assert.Throws<FileNotFoundException>(() => PredictionMerge.Merge([Path.Combine(dir.Path, "none.jsonl")]));
    }

    [Fact]
    public void Progress_reports_rate_and_time_left()
    {
        var time = new ManualTime();
        var w = new StringWriter();
        var p = new EvalProgress("okvqa_val", total: 10, alreadyDone: 4, w, time);
        time.Advance(TimeSpan.FromSeconds(2));
        p.Tick();
        time.Advance(TimeSpan.FromSeconds(2));
        p.Tick(); // 2 records in 4 s → 0.5 rec/s = 2 s/rec; 4 left → 8 s
        Assert.Equal("okvqa_val: 6/10 (60.0 %), 2.0 s/rec, ETA 0:00:08", p.Line());
        var fast = new EvalProgress("pope", total: 100, alreadyDone: 0, new StringWriter(), time);
        fast.Tick(); fast.Tick(); fast.Tick();
        time.Advance(TimeSpan.FromSeconds(1)); // 3 records in 1 s
        Assert.StartsWith("pope: 3/100 (3.0 %), 3.00 rec/s, ETA 0:00:33", fast.Line());
        Assert.Equal(2, w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    private sealed class ManualTime : TimeProvider
    {
        private long _ticks = 1;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => _ticks;
        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
