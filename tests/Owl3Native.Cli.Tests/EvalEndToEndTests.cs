using System.Text.Json;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Cli.Tests;

/// <summary>
/// `owl3 eval` end to end on the tiny golden checkpoint (random weights: the plumbing and file formats are under test,
/// not the answers) over the loaders' fixture datasets: a full run, a killed run resumed, three shards merged.
/// </summary>
public sealed class EvalEndToEndTests
{
    private static readonly string Data = Path.Combine(RepoRoot(), "tests", "Owl3Native.Eval.Tests", "Fixtures", "eval");

    private const string Plan = """
        - type: VQATask
          ds_name: pope_random
          cut_cfg: {anchors: grid_squ_6, anchor_strategy: docowl, cut_prompt: v2, add_global: True, cut_prob: 1.0}
        - type: VQATask
          ds_name: gqa_testdev
          cut_cfg: {anchors: grid_squ_6, anchor_strategy: docowl, cut_prompt: v2, add_global: True, cut_prob: 1.0}
        - type: VQATask
          ds_name: vqav2_test
          cut_cfg: {anchors: grid_squ_6, anchor_strategy: docowl, cut_prompt: v2, add_global: True, cut_prob: 1.0}
        """;

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Owl3Native.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("no Owl3Native.sln above the test assembly");
    }

    private static CliResult Run(string plan, string outDir, params string[] extra) =>
        CliRunner.Run(["eval", "run", "--plan", plan, "--model", SharedData.Golden("tiny-a"), "--data", Data, "--out", outDir, "--threads", "2", .. extra]);

    [Fact]
    public void A_plan_runs_resumes_after_a_kill_and_three_shards_merge_to_the_single_run()
    {
        using var dir = new TempDirectory("owl3-eval");
        string plan = Path.Combine(dir.Path, "plan.yaml");
        File.WriteAllText(plan, Plan);

        // One full run: one line per record in dataset order, metrics for both tasks.
        string full = Path.Combine(dir.Path, "full");
        var r = Run(plan, full);
        Assert.True(r.ExitCode == 0, r.Error);
        foreach (var (task, count) in new[] { ("pope_random", 6), ("gqa_testdev", 5) })
        {
            var lines = File.ReadAllLines(Path.Combine(full, $"{task}.jsonl"));
            Assert.Equal(count, lines.Length);
            for (int i = 0; i < count; i++)
            {
                using var doc = JsonDocument.Parse(lines[i]);
                Assert.Equal(i, doc.RootElement.GetProperty("index").GetInt32());
                Assert.True(doc.RootElement.TryGetProperty("key", out _));
                Assert.Equal(JsonValueKind.String, doc.RootElement.GetProperty("raw_model_answer").ValueKind);
            }
            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(full, $"{task}.metrics.json")));
            Assert.Equal(task, metrics.RootElement.GetProperty("task").GetString());
            Assert.Equal(count, metrics.RootElement.GetProperty("count").GetInt32());
            Assert.True(File.Exists(Path.Combine(full, $"{task}.metrics.md")));
        }

        // A submission-only task gets its submission file (EvalAI format: one entry per record), no metrics.
        Assert.False(File.Exists(Path.Combine(full, "vqav2_test.metrics.json")));
        using (var submission = JsonDocument.Parse(File.ReadAllText(Path.Combine(full, "vqav2_test_submission.json"))))
            Assert.Equal(File.ReadAllLines(Path.Combine(full, "vqav2_test.jsonl")).Length, submission.RootElement.GetArrayLength());

        // A run killed while writing record 3 of pope_random: the torn line is dropped, only the lost records are redone,
        // and the result is the uninterrupted run's, byte for byte.
        string killed = Path.Combine(dir.Path, "killed");
        Directory.CreateDirectory(killed);
        var fullPope = File.ReadAllLines(Path.Combine(full, "pope_random.jsonl"));
        File.Copy(Path.Combine(full, "run.json"), Path.Combine(killed, "run.json"));
        File.WriteAllText(Path.Combine(killed, "pope_random.jsonl"), string.Concat(fullPope.Take(3).Select(l => l + "\n")) + fullPope[3][..10]);
        r = Run(plan, killed);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("pope_random: 6/6 answered (3 now)", r.Out);
        Assert.Contains("dropped an incomplete last line", r.Error);
        foreach (var task in new[] { "pope_random", "gqa_testdev" })
        {
            Assert.Equal(File.ReadAllText(Path.Combine(full, $"{task}.jsonl")), File.ReadAllText(Path.Combine(killed, $"{task}.jsonl")));
            Assert.Equal(File.ReadAllText(Path.Combine(full, $"{task}.metrics.json")), File.ReadAllText(Path.Combine(killed, $"{task}.metrics.json")));
        }
        // Rerunning a finished run answers nothing; another shard in the same folder is refused.
        r = Run(plan, killed);
        Assert.Contains("pope_random: 6/6 answered (0 now)", r.Out);
        r = Run(plan, killed, "--shard", "1/3");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("shard", r.Error);

        // Three shards in their own folders, merged: the single run's predictions and metrics.
        var shardDirs = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            string s = Path.Combine(dir.Path, $"shard{i}");
            shardDirs.Add(s);
            r = Run(plan, s, "--shard", $"{i}/3");
            Assert.True(r.ExitCode == 0, r.Error);
            Assert.False(File.Exists(Path.Combine(s, "pope_random.metrics.json")), "a shard is scored by the merge, not alone");
        }
        Assert.Equal(2, File.ReadAllLines(Path.Combine(shardDirs[1], "pope_random.jsonl")).Length); // records 1, 4
        string merged = Path.Combine(dir.Path, "merged");
        r = CliRunner.Run(["eval", "merge", .. shardDirs, "--out", merged, "--data", Data]);
        Assert.True(r.ExitCode == 0, r.Error);
        foreach (var task in new[] { "pope_random", "gqa_testdev" })
        {
            Assert.Equal(File.ReadAllText(Path.Combine(full, $"{task}.jsonl")), File.ReadAllText(Path.Combine(merged, $"{task}.jsonl")));
            Assert.Equal(File.ReadAllText(Path.Combine(full, $"{task}.metrics.json")), File.ReadAllText(Path.Combine(merged, $"{task}.metrics.json")));
        }

        // A merge with a shard missing names the gap.
        r = CliRunner.Run(["eval", "merge", shardDirs[0], shardDirs[2], "--out", Path.Combine(dir.Path, "bad"), "--data", Data]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("every shard", r.Error);

        // A shard folder whose manifest is damaged is a user error naming the file.
        File.WriteAllText(Path.Combine(shardDirs[2], "run.json"), "{ not json");
        r = CliRunner.Run(["eval", "merge", .. shardDirs, "--out", Path.Combine(dir.Path, "bad2"), "--data", Data]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("is not a run manifest", r.Error);
        Assert.DoesNotContain("internal error", r.Error);

        // score on the merged file prints the same metrics JSON.
        r = CliRunner.Run("eval", "score", "--task", "pope_random", "--predictions", Path.Combine(merged, "pope_random.jsonl"), "--data", Data, "--json");
        Assert.True(r.ExitCode == 0, r.Error);
        var printed = System.Text.Json.Nodes.JsonNode.Parse(r.Out)!;
        var written = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(full, "pope_random.metrics.json")))!;
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(written, printed), $"{written.ToJsonString()} vs {printed.ToJsonString()}");
    }

    [Fact]
    public void A_missing_dataset_file_names_the_path_the_plan_expects()
    {
        using var dir = new TempDirectory("owl3-eval");
        string plan = Path.Combine(dir.Path, "plan.yaml");
        File.WriteAllText(plan, "- type: VQATask\n  ds_name: textvqa_val_ocr_v2\n");
        var r = Run(plan, Path.Combine(dir.Path, "out"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("textvqa", r.Error);
        Assert.Contains(Path.Combine(Data, "dataset"), r.Error);
    }
}
