using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Owl3Native.Eval.Scoring;
using Xunit;

namespace Owl3Native.Eval.Tests.Scoring;

/// <summary>
/// Reads the spec/EVAL.md §7 fixture files under <c>Fixtures/eval</c> (real file formats) into the scorers' ground-truth
/// records. This is a test-side stand-in for the data loader: it maps only the columns each record documents.
/// </summary>
internal static class ScoringFixtures
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "eval-scoring"); // scoring fixtures (spec/EVAL.md 7.1-7.5); Fixtures/eval holds the loaders' data

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    public static IReadOnlyList<ScoredAnswer> PredictionsOf(string task) => Predictions.ReadJsonl(PathOf($"predictions/{task}.jsonl"));

    public static JsonObject Expected(string task) => (JsonObject)JsonNode.Parse(File.ReadAllText(PathOf($"expected/{task}.metrics.json")))!;

    public static IReadOnlyList<IGroundTruth> GroundTruth(string task) => task switch
    {
        "okvqa_val" => OkVqa(),
        "gqa_testdev" => Jsonl("dataset/gqa/testdev_balanced.jsonl").Select(r => (IGroundTruth)new AnswerGroundTruth(Str(r["question_id"]), Str(r["answer"]))).ToList(),
        "pope_random" => Jsonl("dataset/pope/ImageQA_POPE_random.jsonl").Select(r => (IGroundTruth)new AnswerGroundTruth(Str(r["question_id"]), Str(r["answer"]))).ToList(),
        "ai2d" => Jsonl("dataset/ai2d/test.jsonl").Select((r, i) => (IGroundTruth)new AnswerGroundTruth(I(i), Str(r["answer"]))).ToList(),
        "nlvr2" => Jsonl("dataset/NLVR2/unbalanced_test_public.jsonl").Select((r, i) => (IGroundTruth)new AnswerGroundTruth(I(i), Str(r["answer"]))).ToList(),
        "q_bench2" => Jsonl("dataset/qbench2/dev.jsonl").Select((r, i) => (IGroundTruth)new QBench2GroundTruth(
            I(i), Enumerable.Range(0, 4).Select(k => Str(r[$"option{k}"])).ToArray(), Str(r["correct_choice"]),
            r["question_type"]!.GetValue<int>(), r["question_concern"]!.GetValue<int>())).ToList(),
        "next_qa_mc" => Jsonl("dataset/nextqa/MC/test.jsonl").Select(r => (IGroundTruth)new NextQaGroundTruth(
            Str(r["video"]), Str(r["qid"]), Str(r["type"]), r["answer"]!.GetValue<int>())).ToList(),
        "mvbench" => MvBench(),
        "videomme" => Jsonl("dataset/videomme/test.jsonl").Select(r => (IGroundTruth)new VideoMmeGroundTruth(
            Str(r["question_id"]), Str(r["duration"]), Str(r["domain"]), Str(r["sub_category"]), Str(r["task_type"]), Str(r["answer"]))).ToList(),
        "long_video_bench_dev" => JsonArrayFile("dataset/LongVideoBench/lvb_val.json").Select(r => (IGroundTruth)new LongVideoBenchGroundTruth(
            Str(r!["id"]), r["candidates"]!.AsArray().Select(c => Str(c)).ToArray(), r["correct_choice"]?.GetValue<int>(),
            r["duration_group"]?.GetValue<int>())).ToList(),
        "out_domain" => JsonArrayFile("dataset/LLaVA-NeXT-Interleave-Bench/multi_image_out_domain.json").Select(r => (IGroundTruth)new InterleaveGroundTruth(
            Str(r!["sample_id"]), Str(r["conversations"]![1]!["value"]), Str(r["metadata"]!["dataset"]), Str(r["metadata"]!["question_type"]))).ToList(),
        "mmbench_dev_en_20231003" => MmBench("dataset/mmbench/mmbench_dev_en_20231003.tsv"),
        "vqav2_test" => JsonArrayFile("dataset/vqav2/vqav2_test.json").Select(r => (IGroundTruth)new AnswerGroundTruth(Str(r!["question_id"]), "")).ToList(),
        "vizwiz_test" => Jsonl("dataset/vizwiz/vizwiz_test.jsonl").Select(r => (IGroundTruth)new AnswerGroundTruth(Str(r["question_id"]), "")).ToList(),
        _ => throw new ArgumentException($"no fixture for {task}"),
    };

    public static IReadOnlyList<T> GroundTruth<T>(string task) => GroundTruth(task).Cast<T>().ToList();

    private static List<IGroundTruth> OkVqa()
    {
        // Record order comes from okvqa_val.json; answers and types from the VQA-format annotation file.
        var annotations = JsonNode.Parse(File.ReadAllText(PathOf("dataset/okvqa/mscoco_val2014_annotations.json")))!["annotations"]!.AsArray()
            .ToDictionary(a => Str(a!["question_id"]), a => a!);
        return JsonArrayFile("dataset/okvqa/okvqa_val.json").Select(r =>
        {
            JsonNode a = annotations[Str(r!["question_id"])];
            return (IGroundTruth)new VqaGroundTruth(Str(r["question_id"]), a["answers"]!.AsArray().Select(x => Str(x!["answer"])).ToArray(),
                Str(a["question_type"]), Str(a["answer_type"]));
        }).ToList();
    }

    private static List<IGroundTruth> MvBench()
    {
        // The reference's concatenation order (§4.15); tasks without a fixture file are empty.
        string[] order = ["action_sequence", "action_prediction", "action_antonym", "fine_grained_action", "unexpected_action", "object_existence"];
        var list = new List<IGroundTruth>();
        foreach (string task in order)
        {
            string path = PathOf($"dataset/mvbench/json/{task}.json");
            if (!File.Exists(path)) continue;
            foreach (JsonNode? r in JsonNode.Parse(File.ReadAllText(path))!.AsArray())
                list.Add(new MvBenchGroundTruth(I(list.Count), task, r!["candidates"]!.AsArray().Select(c => Str(c)).ToArray(), Str(r["answer"])));
        }
        return list;
    }

    public static List<IGroundTruth> MmBench(string relative)
    {
        string[] lines = File.ReadAllLines(PathOf(relative));
        string[] head = lines[0].Split('\t');
        int Col(string name) => Array.IndexOf(head, name);
        string? Cell(string[] row, string name) => Col(name) is int c && c >= 0 ? row[c] : null;
        return lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t')).Select(row => (IGroundTruth)new MmBenchGroundTruth(
            Cell(row, "index")!, Cell(row, "image"), Cell(row, "question"), Cell(row, "answer"),
            new[] { "A", "B", "C", "D" }.Select(c => Cell(row, c)).ToArray(), Cell(row, "l2-category"))).ToList();
    }

    private static IEnumerable<JsonObject> Jsonl(string relative) =>
        File.ReadLines(PathOf(relative)).Where(l => l.Length > 0).Select(l => (JsonObject)JsonNode.Parse(l)!);

    private static JsonArray JsonArrayFile(string relative) => JsonNode.Parse(File.ReadAllText(PathOf(relative)))!.AsArray();

    private static string I(int i) => i.ToString(CultureInfo.InvariantCulture);

    private static string Str(JsonNode? n) => n!.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : n.ToJsonString();
}

/// <summary>Structural comparison of metric objects: same keys, equal strings / nulls, numbers within a tolerance.</summary>
internal static class JsonAssert
{
    public static void Near(JsonNode? expected, JsonNode? actual, double tolerance = 1e-9, string path = "$")
    {
        if (expected is null)
        {
            Assert.True(actual is null, $"{path}: expected null, got {actual?.ToJsonString()}");
            return;
        }
        Assert.True(actual is not null, $"{path}: expected {expected.ToJsonString()}, got null");
        switch (expected)
        {
            case JsonObject eo:
                var ao = Assert.IsType<JsonObject>(actual);
                Assert.True(eo.Select(p => p.Key).OrderBy(k => k, StringComparer.Ordinal).SequenceEqual(ao.Select(p => p.Key).OrderBy(k => k, StringComparer.Ordinal)),
                    $"{path}: keys differ: expected [{string.Join(", ", eo.Select(p => p.Key))}], got [{string.Join(", ", ao.Select(p => p.Key))}]");
                foreach (var (k, v) in eo) Near(v, ao[k], tolerance, $"{path}.{k}");
                break;
            case JsonArray ea:
                var aa = Assert.IsType<JsonArray>(actual);
                Assert.Equal(ea.Count, aa.Count);
                for (int i = 0; i < ea.Count; i++) Near(ea[i], aa[i], tolerance, $"{path}[{i}]");
                break;
            default:
                if (expected.GetValueKind() == JsonValueKind.Number)
                {
                    Assert.Equal(JsonValueKind.Number, actual!.GetValueKind());
                    double e = ToDouble(expected), a = ToDouble(actual);
                    Assert.True(Math.Abs(e - a) <= tolerance * Math.Max(1, Math.Abs(e)), $"{path}: expected {e}, got {a}");
                }
                else Assert.Equal(expected.ToJsonString(), actual!.ToJsonString());
                break;
        }
    }

    private static double ToDouble(JsonNode n) => double.Parse(n.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
}
