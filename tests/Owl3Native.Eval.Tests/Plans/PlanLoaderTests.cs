using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;
using Owl3Native.Eval.Tests.Data;
using Xunit;

namespace Owl3Native.Eval.Tests.Plans;

public sealed class PlanLoaderTests
{
    // spec/EVAL.md §2.3, in order: (type, ds_name, cut, frames).
    private static readonly (string Type, string DsName, bool Cut, int? Frames)[] s_allYaml =
    [
        ("MMBenchTask", "mmbench_test_en_20231003", true, null), ("MMBenchTask", "mmbench_test_cn_20231003", true, null),
        ("MMVetBench", "mmvet", true, null), ("VQATask", "pope_random", true, null), ("VQATask", "pope_popular", true, null),
        ("VQATask", "pope_adversarial", true, null), ("AI2DBench", "ai2d", true, null), ("VQATask", "okvqa_val", true, null),
        ("VQATask", "textvqa_val_ocr_v2", true, null), ("VQATask", "vizwiz_test", true, null),
        ("VQATask", "vqav2_test", true, null), ("VQATask", "gqa_testdev", true, null), ("NextQATask", "next_qa_mc", false, 8),
        ("VideoMMEBench", "videomme", false, 128), ("LongVideoBenchTask", "long_video_bench_dev", false, 64), ("MvBenchTask", "mvbench", false, 16),
        ("NLVR2Bench", "nlvr2", false, null), ("QbenchTask", "q_bench2", false, null), ("LlavaInterleaveBenchTask", "out_domain", false, null),
    ];

    [Fact]
    public void Shipped_all_yaml_loads_when_undefined_entries_are_skipped()
    {
        var plan = PlanLoader.Load(DataFixtures.Plan("all.yaml"), new PlanLoadOptions(SkipUndefined: true));

        Assert.Equal(s_allYaml, plan.Tasks.Select(t => (t.Type, t.DsName, t.Cut, t.NumFrames)).ToArray());
        var skipped = Assert.Single(plan.Skipped);
        Assert.Equal(("VQATask", "textvqa_val", 8), (skipped.Type, skipped.DsName, skipped.EntryIndex));
        Assert.Contains("§9 #1", skipped.Reason, StringComparison.Ordinal);
        var ai2d = plan.Tasks.Single(t => t.DsName == "ai2d");
        Assert.False(ai2d.UseNumber);
        Assert.True(plan.Tasks.Single(t => t.DsName == "out_domain").ImageIndex);
        Assert.All(plan.Tasks, t => Assert.Same(DatasetCatalog.Find(t.DsName), t.Dataset));
    }

    [Fact]
    public void Shipped_all_yaml_is_rejected_at_textvqa_val_by_default()
    {
        string file = DataFixtures.Plan("all.yaml");
        var e = Assert.Throws<PlanException>(() => PlanLoader.Load(file));

        Assert.Equal(8, e.EntryIndex);
        Assert.Equal("ds_name", e.Key);
        Assert.Equal(file, e.File);
        Assert.Equal(File.ReadLines(file).ToList().FindIndex(l => l.Contains("ds_name: textvqa_val", StringComparison.Ordinal) && !l.Contains("ocr", StringComparison.Ordinal)) + 1, e.Line);
        Assert.Contains("`textvqa_val`", e.Message, StringComparison.Ordinal);
        Assert.Contains("textvqa_val_ocr_v2", e.Message, StringComparison.Ordinal);
        Assert.Contains("--skip-undefined", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("two_tasks.yaml")]
    [InlineData("two_tasks.jsonl")]
    public void Two_entry_plan_gives_cut_on_for_vqa_and_four_frames_for_nextqa(string name)
    {
        var plan = PlanLoader.Load(DataFixtures.Plan(name));

        Assert.Equal(2, plan.Tasks.Count);
        var (vqa, nextQa) = (plan.Tasks[0], plan.Tasks[1]);
        Assert.Equal(("VQATask", "okvqa_val", true, (int?)null), (vqa.Type, vqa.DsName, vqa.Cut, vqa.NumFrames));
        Assert.Equal(("NextQATask", "next_qa_mc", false, (int?)4), (nextQa.Type, nextQa.DsName, nextQa.Cut, nextQa.NumFrames));
        Assert.Equal((0, 1), (vqa.EntryIndex, nextQa.EntryIndex));
    }

    [Fact]
    public void Comma_separated_paths_concatenate_tasks_in_order()
    {
        var plan = PlanLoader.Load($"{DataFixtures.Plan("two_tasks.yaml")}, {DataFixtures.Plan("two_tasks.jsonl")}");

        Assert.Equal(["okvqa_val", "next_qa_mc", "okvqa_val", "next_qa_mc"], plan.Tasks.Select(t => t.DsName));
        Assert.Equal(2, plan.Files.Count);
        Assert.EndsWith(".jsonl", plan.Tasks[3].File, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_key_is_rejected_naming_file_entry_line_and_key()
    {
        string file = DataFixtures.Plan("unknown_key.yaml");
        var e = Assert.Throws<PlanException>(() => PlanLoader.Load(file));

        int line = File.ReadLines(file).ToList().FindIndex(l => l.Contains("max_frames", StringComparison.Ordinal)) + 1;
        Assert.Equal((file, 1, "max_frames", line), (e.File, e.EntryIndex, e.Key, e.Line));
        Assert.Contains("unknown key `max_frames`", e.Message, StringComparison.Ordinal);
        Assert.StartsWith($"{file}:{line}: plan entry 1: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_yaml_is_rejected_naming_its_line()
    {
        string file = DataFixtures.Plan("bad_syntax.yaml");
        var e = Assert.Throws<PlanException>(() => PlanLoader.Load(file));

        Assert.Equal(file, e.File);
        Assert.NotNull(e.Line);
        Assert.InRange(e.Line!.Value, 4, 5); // the unclosed `[` opens on line 4; the parser notices at the end of the text
        Assert.Contains("invalid YAML", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_key_is_rejected_with_its_line()
    {
        var e = Assert.Throws<PlanException>(() => PlanLoader.Parse("- type: VQATask\n  ds_name: okvqa_val\n  type: VQATask\n", "inline.yaml"));
        Assert.Equal(3, e.Line);
        Assert.Contains("duplicate key", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Missing_plan_file_is_named()
    {
        var e = Assert.Throws<PlanException>(() => PlanLoader.Load("/nonexistent/plan.yaml"));
        Assert.Contains("/nonexistent/plan.yaml", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("- type: VQATask\n  ds_name: okvqa_val\n  num_frames: 8\n", "num_frames", "does not apply to VQATask")]
    [InlineData("- type: VQATask\n", "ds_name", "missing required key `ds_name`")]
    [InlineData("- ds_name: okvqa_val\n", "type", "missing required key `type`")]
    [InlineData("- type: VqaTask\n  ds_name: okvqa_val\n", "type", "unknown task type `VqaTask`")]
    [InlineData("- type: VQATask\n  ds_name: nlvr2\n", "ds_name", "`nlvr2` is a NLVR2Bench dataset")]
    [InlineData("- type: VQATask\n  ds_name: no_such_set\n", "ds_name", "VQATask defines: vqav2_test, okvqa_val")]
    [InlineData("- type: VideoQA\n  ds_name: msvd\n", "ds_name", "VideoQA has no built-in datasets")]
    [InlineData("- type: AI2DBench\n  ds_name: ai2d\n  use_number: maybe\n", "use_number", "must be True or False")]
    [InlineData("- type: NextQATask\n  ds_name: next_qa_mc\n  num_frames: 0\n", "num_frames", "integer ≥ 1")]
    [InlineData("- type: NextQATask\n  ds_name: next_qa_mc\n  num_frames: '4'\n", "num_frames", "integer ≥ 1")]
    [InlineData("- type: VQATask\n  ds_name: okvqa_val\n  num_few_shot: 2\n", "num_few_shot", "not supported")]
    [InlineData("- type: VQATask\n  ds_name: okvqa_val\n  cut_cfg: v2\n", "cut_cfg", "must be a mapping")]
    public void Bad_entries_are_rejected_naming_the_key(string yaml, string key, string message)
    {
        var e = Assert.Throws<PlanException>(() => PlanLoader.Parse(yaml, "inline.yaml"));
        Assert.Equal(key, e.Key);
        Assert.Equal(0, e.EntryIndex);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("type: VQATask\nds_name: okvqa_val\n", "must be a list")]
    [InlineData("", "empty")]
    [InlineData("- just a string\n", "expected a mapping")]
    public void Plan_shape_is_checked(string yaml, string message)
    {
        var e = Assert.Throws<PlanException>(() => PlanLoader.Parse(yaml, "inline.yaml"));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cut_cfg: {}", false)]
    [InlineData("cut_cfg:", false)]
    [InlineData("cut_cfg: {cut_prob: 0.0}", true)] // contents are ignored: any non-empty mapping cuts
    [InlineData("generate_config: {max_new_tokens: 5}", false)]
    public void Cut_is_on_iff_cut_cfg_is_a_non_empty_mapping(string line, bool cut)
    {
        var plan = PlanLoader.Parse($"- type: VQATask\n  ds_name: gqa_testdev\n  {line}\n", "inline.yaml");
        Assert.Equal(cut, Assert.Single(plan.Tasks).Cut);
    }

    [Fact]
    public void Yaml_options_take_pyyaml_scalars()
    {
        var plan = PlanLoader.Parse(
            "- {type: AI2DBench, ds_name: ai2d, use_number: yes}\n- {type: LlavaInterleaveBenchTask, ds_name: blink, image_index: off}\n" +
            "- {type: VQATask, ds_name: okvqa_val, use_llava_style: TRUE, num_few_shot: 0}\n- {type: MvBenchTask, ds_name: mvbench, num_frames: 1_6}\n",
            "inline.yaml");
        Assert.True(plan.Tasks[0].UseNumber);
        Assert.False(plan.Tasks[1].ImageIndex);
        Assert.True(plan.Tasks[2].UseLlavaStyle);
        Assert.Equal(16, plan.Tasks[3].NumFrames);
    }

    [Fact]
    public void Jsonl_errors_name_the_line()
    {
        var e = Assert.Throws<PlanException>(() => PlanLoader.Parse("{\"type\": \"VQATask\", \"ds_name\": \"okvqa_val\"}\n\n{\"type\": \"VQATask\", \"ds_name\": \"gqa_testdev\", \"bogus\": 1}\n", "p.jsonl"));
        Assert.Equal((3, 1, "bogus"), (e.Line, e.EntryIndex, e.Key));

        var syntax = Assert.Throws<PlanException>(() => PlanLoader.Parse("{\"type\": \"VQATask\",\n", "p.jsonl"));
        Assert.Equal(1, syntax.Line);
        Assert.Contains("invalid JSON", syntax.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_entry_of_a_dataset_follows_the_shipped_plan()
    {
        var mv = PlanEntry.ForDataset("mvbench");
        Assert.Equal(("MvBenchTask", false, (int?)16), (mv.Type, mv.Cut, mv.NumFrames));
        var pope = PlanEntry.ForDataset("pope_random");
        Assert.Equal(("VQATask", true, (int?)null), (pope.Type, pope.Cut, pope.NumFrames));
        Assert.Throws<KeyNotFoundException>(() => PlanEntry.ForDataset("textvqa_val"));
    }

    [Fact]
    public void Registered_task_types_are_the_fourteen_of_the_original()
    {
        Assert.Equal(14, TaskTypes.All.Count);
        Assert.All(TaskTypes.All, t => Assert.True(TaskTypes.IsRegistered(t)));
        Assert.False(TaskTypes.IsRegistered("vqatask"));
        Assert.Equal(["type", "ds_name", "cut_cfg", "generate_config", "use_number"], TaskTypes.AcceptedKeys("AI2DBench"));
    }
}
