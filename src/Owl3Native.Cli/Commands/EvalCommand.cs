using System.Text.Json.Nodes;
using Owl3Native.Eval;
using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;
using Owl3Native.Eval.Running;
using Owl3Native.Eval.Scoring;

namespace Owl3Native.Cli.Commands;

/// <summary>`owl3 eval run | merge | score` (spec/EVAL.md; CLI.md).</summary>
internal sealed class EvalCommand : Command
{
    public override string Name => "eval";
    public override string Usage =>
        "eval run --plan <plan.yaml> --model <dir> --data <root> --out <dir> [--device ...] [--shard i/N] [--limit N] [--task NAME]... | " +
        "eval merge <out-dir>... --out <dir> --data <root> | eval score --task <ds_name> --predictions <file.jsonl> --data <root> [--protocol original|official] [--json]";
    public override string Summary => "benchmark evaluation: run a plan (sharded, resumable), merge shards, score predictions";
    public override string? Details =>
        "run    answers every record of every task of the plan and appends {\"key\",\"index\",\"raw_model_answer\"} to <out>/<ds_name>.jsonl\n" +
        "       as each is answered; a rerun resumes; --shard i/N (0-based) takes records i, i+N, … after --limit; one --out per shard.\n" +
        "       A finished unsharded task writes <ds_name>.metrics.json and .md.\n" +
        "merge  combines shard folders in dataset order (refusing conflicts and gaps) and scores them.\n" +
        "score  scores a predictions file (joined on key, else index); numbers in percent.";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("plan", true, "run: plan file(s), comma-separated (.yaml or .jsonl)", ValueName: "P"),
        new("model", true, "run: checkpoint folder", ValueName: "DIR"),
        new("data", true, "folder holding dataset/ and images/", ValueName: "ROOT"),
        new("out", true, "output folder (run: one per shard; merge: the merged result)", ValueName: "DIR"),
        new("device", true, "run: auto (default), cpu or cuda", ValueName: "D"),
        new("threads", true, "run: CPU threads (default: all cores)", ValueName: "N"),
        new("shard", true, "run: i/N, 0-based", ValueName: "i/N"),
        new("limit", true, "run: first N records of each task (before sharding)", ValueName: "N"),
        new("task", true, "run: only this ds_name (repeatable); score: the task", Repeatable: true, ValueName: "NAME"),
        new("skip-undefined", false, "run: skip plan entries the original does not define (all.yaml's textvqa_val)"),
        new("seed", true, "run: seed of random clip sampling (MVBench clips with start > 0; default 0)", ValueName: "N"),
        new("predictions", true, "score: predictions .jsonl", ValueName: "FILE"),
        new("protocol", true, "score/merge/run: original (default) or official (spec/EVAL.md §9)", ValueName: "P"),
        new("json", false, "score: print {\"task\", \"metrics\", \"count\"}"),
    ];

    public override int Run(ParsedArgs args, Console console)
    {
        if (args.Positionals.Count == 0) throw new UsageException("eval needs a sub-command: run, merge or score");
        return args.Positionals[0] switch
        {
            "run" => RunPlan(args, console),
            "merge" => Merge(args, console),
            "score" => Score(args, console),
            var other => throw new UsageException($"unknown eval sub-command '{other}' (run, merge, score)"),
        };
    }

    private static ScoreProtocol Protocol(ParsedArgs args) => args.Value("protocol") switch
    {
        null or "original" => ScoreProtocol.Original,
        "official" => ScoreProtocol.Official,
        var p => throw new UsageException($"--protocol must be original or official, not '{p}'"),
    };

    private static string Required(ParsedArgs args, string name) => args.Value(name) ?? throw new UsageException($"--{name} is required");

    private static int RunPlan(ParsedArgs args, Console console)
    {
        args.NoMorePositionals(1);
        string plan = Required(args, "plan"), model = Required(args, "model"), data = Required(args, "data"), outDir = Required(args, "out");
        string device = args.Value("device") ?? "auto";
        if (device is not ("auto" or "cpu" or "cuda")) throw new UsageException($"--device must be auto, cpu or cuda, not '{device}'");
        Shard shard;
        try
        {
            shard = args.Value("shard") is { } s ? Shard.Parse(s) : Shard.All;
        }
        catch (FormatException e)
        {
            throw new UsageException(e.Message);
        }
        int? limit = args.Value("limit") is null ? null : args.Int("limit", 0, min: 0);
        var protocol = Protocol(args);
        var options = new EvalRunOptions(plan, data, outDir, shard, limit, args.Values("task") is { Count: > 0 } t ? t : null,
            args.Flag("skip-undefined"), args.Int("seed", 0, min: 0));
        if (!Directory.Exists(data)) throw new UserErrorException($"--data {data}: no such folder (it must hold dataset/ and images/)");
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        System.Console.CancelKeyPress += onCancel;
        try
        {
            using var engine = GenerateCommand.LoadEngine(model, new EngineOptions(Device: device, Threads: args.Int("threads", 0, min: 0, max: 1024), Progress: TerminalProgress.For(console, json: false)));
            var runner = new EvalRunner(new EngineEvalModel(engine, Path.GetFullPath(model)), (ds, p) => EvalScoring.Render(ds, p, protocol), console.Error,
                (ds, p, dir) => EvalScoring.WriteSubmission(ds, p, dir, protocol));
            var results = runner.Run(options, cancel.Token);
            foreach (var r in results)
                console.Out.WriteLine($"{r.Task}: {r.AnsweredBefore + r.AnsweredNow}/{r.Records} answered ({r.AnsweredNow} now) → {r.PredictionsPath}{(r.MetricsPath is null ? "" : $", metrics {r.MetricsPath}")}");
            return 0;
        }
        catch (OperationCanceledException)
        {
            console.Error.WriteLine("eval run: interrupted; every answered record is saved, rerun the same command to resume");
            return 130;
        }
        catch (Exception e) when (e is PlanException or DatasetNotFoundException or DatasetFormatException or EvalRecordException or InvalidOperationException or ArgumentException or FormatException)
        {
            throw new UserErrorException(e.Message);
        }
        finally
        {
            System.Console.CancelKeyPress -= onCancel;
        }
    }

    private static int Merge(ParsedArgs args, Console console)
    {
        var shards = args.Positionals.Skip(1).ToArray();
        if (shards.Length == 0) throw new UsageException("merge needs the shard output folders");
        string outDir = Required(args, "out"), data = Required(args, "data");
        var protocol = Protocol(args);
        try
        {
            var manifests = shards.Select(ReadManifest).ToArray();
            var plans = manifests.Select(m => (string?)m["plan"]).Distinct().ToArray();
            var limits = manifests.Select(m => m["limit"]?.ToJsonString() ?? "null").Distinct().ToArray();
            if (plans.Length > 1 || limits.Length > 1 || manifests.Select(m => (string?)m["model"]).Distinct().Count() > 1
                || manifests.Select(m => m["run_seed"]?.ToJsonString() ?? "null").Distinct().Count() > 1)
                throw new UserErrorException("the shard folders come from different runs (plan, model, limit or seed differ)");
            var shardIds = manifests.Select(m => Shard.Parse((string)m["shard"]!)).ToArray();
            int n = shardIds[0].Count;
            if (shardIds.Any(s => s.Count != n) || shardIds.Select(s => s.Index).Distinct().Count() != n || shardIds.Length != n)
                throw new UserErrorException($"merge needs every shard of one run exactly once; got {string.Join(", ", shardIds)}");
            int? limit = manifests[0]["limit"] is JsonValue lv ? (int)lv : null;
            var tasks = shards.SelectMany(d => Directory.GetFiles(d, "*.jsonl")).Select(Path.GetFileNameWithoutExtension).Distinct().Order(StringComparer.Ordinal).ToArray();
            var runner = new EvalRunner(new NoModel(), (ds, p) => EvalScoring.Render(ds, p, protocol), console.Error,
                (ds, p, dir) => EvalScoring.WriteSubmission(ds, p, dir, protocol));
            foreach (var task in tasks)
            {
                var files = shards.Select(d => Path.Combine(d, task + ".jsonl")).ToArray();
                var merged = PredictionMerge.Merge(files);
                var dataset = EvalDatasets.Load(EvalScoring.Entry(task!, plans[0]), new EvalPaths(data));
                var expected = Sharding.Indices(dataset.Records.Count, limit, Shard.All);
                var missing = expected.Except(merged.Select(p => p.Index)).ToArray();
                if (missing.Length > 0)
                    throw new UserErrorException($"{task}: {missing.Length} record(s) not answered by any shard (first: {string.Join(", ", missing.Take(5))}); finish the shard runs first");
                Directory.CreateDirectory(outDir);
                AtomicFile.WriteAllText(Path.Combine(outDir, task + ".jsonl"), string.Concat(merged.Select(p => p.ToJson() + "\n")));
                string? metrics = runner.WriteScore(dataset, merged, outDir);
                console.Out.WriteLine($"{task}: {merged.Count} records merged from {shards.Length} shards{(metrics is null ? "" : $", metrics {metrics}")}");
            }
            return 0;
        }
        catch (Exception e) when (e is PlanException or DatasetNotFoundException or DatasetFormatException or InvalidDataException or FormatException or ScoringException)
        {
            throw new UserErrorException(e.Message);
        }
    }

    private static JsonObject ReadManifest(string dir)
    {
        string path = Path.Combine(dir, "run.json");
        if (!File.Exists(path)) throw new UserErrorException($"{dir} is not an eval run folder (no run.json)");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new UserErrorException($"{path} is not a run manifest");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new UserErrorException($"{path} is not a run manifest ({e.Message})");
        }
    }

    private static int Score(ParsedArgs args, Console console)
    {
        args.NoMorePositionals(1);
        if (args.Values("task").Count != 1) throw new UsageException("score takes exactly one --task");
        string task = args.Values("task")[0], predictionsPath = Required(args, "predictions"), data = Required(args, "data");
        var protocol = Protocol(args);
        try
        {
            var dataset = EvalDatasets.Load(EvalScoring.Entry(task, args.Value("plan")), new EvalPaths(data));
            var predictions = PredictionLog.ReadAll(predictionsPath);
            var rendered = EvalScoring.Render(dataset, predictions, protocol)
                ?? throw new UserErrorException($"{task} has no local metric (submission only: upload the predictions to the benchmark's server)");
            console.Out.WriteLine(args.Flag("json") ? JsonNode.Parse(rendered.Json)!.ToJsonString() : rendered.Markdown);
            return 0;
        }
        catch (Exception e) when (e is PlanException or DatasetNotFoundException or DatasetFormatException or FormatException or ScoringException or FileNotFoundException)
        {
            throw new UserErrorException(e.Message);
        }
    }

    /// <summary>The merge scores; it never answers.</summary>
    private sealed class NoModel : IEvalModel
    {
        public string Name => "merge";
        public string Answer(Eval.Prompts.EvalInputs inputs, CancellationToken cancellation) => throw new InvalidOperationException("merge does not generate");
    }
}
