using System.Text.Json;
using System.Text.Json.Nodes;
using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;
using Owl3Native.Eval.Prompts;

namespace Owl3Native.Eval.Running;

/// <summary>What answers one record: the engine in production, a canned model in tests.</summary>
public interface IEvalModel
{
    /// <summary>A name recorded in the run manifest (the checkpoint folder), so a resumed run cannot mix models.</summary>
    string Name { get; }

    /// <summary>The raw model answer (the original's decode_text result) for one record's inputs.</summary>
    string Answer(EvalInputs inputs, CancellationToken cancellation);
}

/// <summary>`owl3 eval run` options.</summary>
/// <param name="Plan">Plan file(s), comma-separated (YAML or JSONL).</param>
/// <param name="Data">The folder that holds `dataset/` and `images/`.</param>
/// <param name="Out">Output folder: one per shard.</param>
/// <param name="Shard">Records i, i+N, … of each task (after <paramref name="Limit"/>).</param>
/// <param name="Limit">First N records of each task (before sharding).</param>
/// <param name="Tasks">Only these ds_names (null: every task of the plan).</param>
/// <param name="SkipUndefined">Skip plan entries whose ds_name the original does not define (all.yaml's textvqa_val).</param>
/// <param name="RunSeed">Seed of the random clip sampling some video tasks use (MVBench clips with start &gt; 0).</param>
public sealed record EvalRunOptions(string Plan, string Data, string Out, Shard Shard, int? Limit = null, IReadOnlyList<string>? Tasks = null,
    bool SkipUndefined = false, int RunSeed = 0);

/// <summary>One task's outcome in a run.</summary>
public sealed record EvalTaskResult(string Task, int Records, int AnsweredBefore, int AnsweredNow, string PredictionsPath, string? MetricsPath);

/// <summary>
/// Runs a plan (spec/EVAL.md §1): every task's dataset is loaded before any inference (a bad entry fails in seconds,
/// not hours in), then each task's records of this shard are answered in dataset order and appended to
/// `&lt;out&gt;/&lt;ds_name&gt;.jsonl` as soon as they are answered. Resumable: a rerun skips what the file already holds; a
/// `run.json` manifest makes a rerun with another plan, shard, limit or model fail instead of mixing results. A task that
/// is complete and unsharded is scored (`&lt;ds_name&gt;.metrics.json` + `.md`); shards are scored by the merge.
/// </summary>
public sealed class EvalRunner(IEvalModel model, Func<EvalDataset, IReadOnlyList<PredictionLine>, (string Json, string Markdown)?> score, TextWriter log,
    Func<EvalDataset, IReadOnlyList<PredictionLine>, string, string?>? submit = null)
{
    /// <summary>Runs the plan; cancellation stops between records (the record in flight is not written).</summary>
    /// <exception cref="PlanException">The plan is invalid.</exception>
    /// <exception cref="DatasetNotFoundException">A dataset file is missing (names the path the plan expects).</exception>
    /// <exception cref="InvalidOperationException">The output folder belongs to a different run configuration.</exception>
    public IReadOnlyList<EvalTaskResult> Run(EvalRunOptions options, CancellationToken cancellation = default)
    {
        var plan = PlanLoader.Load(options.Plan, new PlanLoadOptions(options.SkipUndefined));
        foreach (var s in plan.Skipped) log.WriteLine($"skipping {s.DsName} ({s.File}:{s.Line}): {s.Reason}");
        var entries = plan.Tasks.ToList();
        if (options.Tasks is { Count: > 0 } wanted)
        {
            var unknown = wanted.Where(t => entries.All(e => e.DsName != t)).ToArray();
            if (unknown.Length > 0)
                throw new ArgumentException($"--task {string.Join(", ", unknown)} is not in the plan (its tasks: {string.Join(", ", entries.Select(e => e.DsName))})");
            entries = entries.Where(e => wanted.Contains(e.DsName)).ToList();
        }
        var paths = new EvalPaths(options.Data);
        var datasets = entries.Select(e => EvalDatasets.Load(e, paths)).ToArray(); // all first, as the original
        Directory.CreateDirectory(options.Out);
        CheckManifest(options, datasets);

        var results = new List<EvalTaskResult>();
        foreach (var ds in datasets)
        {
            cancellation.ThrowIfCancellationRequested();
            var records = Sharding.Select(ds.Records, options.Limit, options.Shard);
            string predictions = Path.Combine(options.Out, $"{ds.Task.DsName}.jsonl");
            using var file = PredictionLog.Open(predictions);
            if (file.TornLineDropped) log.WriteLine($"{ds.Task.DsName}: dropped an incomplete last line left by an interrupted run");
            var mine = records.Select(r => r.Index).ToHashSet();
            var foreign = file.Existing.Where(p => !mine.Contains(p.Index)).Select(p => p.Index).Take(5).ToArray();
            if (foreign.Length > 0)
                throw new InvalidOperationException($"{predictions} holds records that are not in this shard ({string.Join(", ", foreign)}…); use one --out per shard");
            int before = file.Done.Count;
            var progress = new EvalProgress(ds.Task.DsName, records.Count, before, log);
            foreach (var record in records)
            {
                if (file.Done.Contains(record.Index)) continue;
                cancellation.ThrowIfCancellationRequested();
                string answer;
                try
                {
                    var prompt = EvalPrompts.Build(ds.Task, record);
                    var inputs = EvalInputBuilder.Build(prompt, EvalInputBuilder.FfmpegDecoder(record, runSeed: options.RunSeed));
                    answer = model.Answer(inputs, cancellation);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    throw new EvalRecordException(ds.Task.DsName, record, e);
                }
                file.Append(new PredictionLine(record.Key, record.Index, answer));
                progress.Tick();
            }
            string? metrics = null;
            if (options.Shard.Count == 1 && file.Done.Count == records.Count)
                metrics = WriteScore(ds, PredictionLog.ReadAll(predictions), options.Out);
            results.Add(new EvalTaskResult(ds.Task.DsName, records.Count, before, file.Done.Count - before, predictions, metrics));
        }
        return results;
    }

    /// <summary>Scores <paramref name="predictions"/> of a task and writes `&lt;ds_name&gt;.metrics.json` and `.md` atomically.</summary>
    /// <returns>The metrics path, or null for a task without a local score (submission only).</returns>
    public string? WriteScore(EvalDataset dataset, IReadOnlyList<PredictionLine> predictions, string outDir)
    {
        var scored = score(dataset, predictions);
        if (scored is not { } s)
        {
            string? submission = submit?.Invoke(dataset, predictions, outDir);
            log.WriteLine($"{dataset.Task.DsName}: no local metric (submission only); {(submission is null ? $"predictions are in {outDir}" : $"submission file {submission}")}");
            return null;
        }
        string json = Path.Combine(outDir, $"{dataset.Task.DsName}.metrics.json");
        AtomicFile.WriteAllText(json, s.Json);
        AtomicFile.WriteAllText(Path.Combine(outDir, $"{dataset.Task.DsName}.metrics.md"), s.Markdown);
        return json;
    }

    private void CheckManifest(EvalRunOptions options, IReadOnlyList<EvalDataset> datasets)
    {
        var manifest = new JsonObject
        {
            ["plan"] = string.Join(",", options.Plan.Split(',').Select(p => Path.GetFullPath(p.Trim()))),
            ["model"] = model.Name,
            ["shard"] = options.Shard.ToString(),
            ["limit"] = options.Limit,
            ["run_seed"] = options.RunSeed,
            ["tasks"] = new JsonArray(datasets.Select(d => (JsonNode)JsonValue.Create(d.Task.DsName)!).ToArray()),
        };
        string path = Path.Combine(options.Out, "run.json");
        if (File.Exists(path))
        {
            var old = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidOperationException($"{path} is not a run manifest");
            foreach (var key in new[] { "plan", "model", "shard", "limit", "run_seed" })
                if (!JsonNode.DeepEquals(old[key], manifest[key]))
                    throw new InvalidOperationException($"{options.Out} holds a run with {key} = {old[key]?.ToJsonString() ?? "null"}, not {manifest[key]?.ToJsonString() ?? "null"}; resume with the same settings or use another --out");
        }
        AtomicFile.WriteAllText(path, manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}

/// <summary>A record that could not be turned into inputs or answered: names the task, key, index and cause.</summary>
public sealed class EvalRecordException(string task, EvalRecord record, Exception inner)
    : Exception($"{task}: record {record.Index} (key {record.Key}): {inner.Message}", inner)
{
    /// <summary>The task's ds_name.</summary>
    public string Task { get; } = task;

    /// <summary>The record's 0-based dataset index.</summary>
    public int Index { get; } = record.Index;
}
