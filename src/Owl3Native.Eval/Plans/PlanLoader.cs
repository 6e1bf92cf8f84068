using System.Text.Json;
using System.Text.Json.Nodes;
using Owl3Native.Eval.Data;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Owl3Native.Eval.Plans;

/// <summary>
/// Reads evaluation plans (spec/EVAL.md §2.1): a YAML file whose top level is a list of mappings, or a `.jsonl` file
/// with one mapping per line; several files may be given separated by commas and their tasks are concatenated. Every
/// entry is validated and resolved before anything runs, so one bad entry fails the whole plan, as in the original.
/// </summary>
public static class PlanLoader
{
    /// <summary>Loads the comma-separated plan files of <paramref name="paths"/> (`EVAL_PLAN` / `--plan`).</summary>
    /// <exception cref="PlanException">A file is missing or invalid, or an entry is rejected.</exception>
    public static EvalPlan Load(string paths, PlanLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var files = paths.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (files.Length == 0) throw new PlanException($"no plan file given (`{paths}`)");
        return Load(files, options);
    }

    /// <summary>Loads <paramref name="files"/> in order and concatenates their tasks.</summary>
    /// <exception cref="PlanException">A file is missing or invalid, or an entry is rejected.</exception>
    public static EvalPlan Load(IReadOnlyList<string> files, PlanLoadOptions? options = null)
    {
        var tasks = new List<PlanEntry>();
        var skipped = new List<SkippedPlanEntry>();
        foreach (var file in files)
        {
            if (!System.IO.File.Exists(file)) throw new PlanException($"plan file not found: {file}");
            var plan = Parse(System.IO.File.ReadAllText(file), file, options);
            tasks.AddRange(plan.Tasks);
            skipped.AddRange(plan.Skipped);
        }
        return new EvalPlan(tasks, skipped, files.ToArray());
    }

    /// <summary>
    /// Parses one plan's text; <paramref name="fileName"/> picks the format (`.jsonl` → JSON Lines, anything else → YAML)
    /// and names the file in errors.
    /// </summary>
    /// <exception cref="PlanException">The text is invalid or an entry is rejected.</exception>
    public static EvalPlan Parse(string text, string fileName, PlanLoadOptions? options = null)
    {
        options ??= new PlanLoadOptions();
        var entries = fileName.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? ReadJsonl(text, fileName) : ReadYaml(text, fileName);
        var tasks = new List<PlanEntry>();
        var skipped = new List<SkippedPlanEntry>();
        for (int i = 0; i < entries.Count; i++)
        {
            var result = PlanValidator.Validate(entries[i], fileName, i, options);
            if (result.Entry is { } e) tasks.Add(e);
            else skipped.Add(result.Skipped!);
        }
        return new EvalPlan(tasks, skipped, [fileName]);
    }

    private static List<PlanNode> ReadYaml(string text, string file)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new PlanException(file, (int)e.Start.Line, null, null, $"invalid YAML (line {e.Start.Line}, column {e.Start.Column}): {e.Message}", e);
        }
        if (stream.Documents.Count == 0) throw new PlanException(file, null, null, null, "the plan is empty (expected a list of task mappings)");
        if (stream.Documents.Count > 1) throw new PlanException(file, (int)stream.Documents[1].RootNode.Start.Line, null, null, "the plan holds several YAML documents; expected one list");
        var root = Convert(stream.Documents[0].RootNode, file);
        if (root is not PlanSequence seq)
            throw new PlanException(file, root.Line, null, null, $"the top level of a plan must be a list of task mappings, not {root.Describe()}");
        return seq.Items.ToList();
    }

    private static PlanNode Convert(YamlNode node, string file)
    {
        int line = (int)node.Start.Line;
        switch (node)
        {
            case YamlScalarNode s:
                bool plain = s.Style is ScalarStyle.Plain or ScalarStyle.Any;
                if (plain && s.Value is null or "" or "~" or "null" or "Null" or "NULL") return new PlanNull(line);
                return new PlanScalar(s.Value ?? "", !plain, line);
            case YamlSequenceNode q:
                return new PlanSequence(q.Children.Select(c => Convert(c, file)).ToArray(), line);
            case YamlMappingNode m:
                var items = new List<KeyValuePair<string, PlanNode>>();
                foreach (var (k, v) in m.Children)
                {
                    if (k is not YamlScalarNode key)
                        throw new PlanException(file, (int)k.Start.Line, null, null, "a mapping key must be a plain name");
                    items.Add(new(key.Value ?? "", Convert(v, file)));
                }
                return new PlanMapping(items, line);
            default:
                throw new PlanException(file, line, null, null, $"unsupported YAML node {node.NodeType}");
        }
    }

    private static List<PlanNode> ReadJsonl(string text, string file)
    {
        var entries = new List<PlanNode>();
        using var reader = new StringReader(text);
        int lineNo = 0;
        for (string? line; (line = reader.ReadLine()) is not null;)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(line);
            }
            catch (JsonException e)
            {
                throw new PlanException(file, lineNo, null, null, $"invalid JSON: {e.Message}", e);
            }
            entries.Add(Convert(node, lineNo));
        }
        if (entries.Count == 0) throw new PlanException(file, null, null, null, "the plan is empty (expected one JSON object per line)");
        return entries;
    }

    private static PlanNode Convert(JsonNode? node, int line) => node switch
    {
        null => new PlanNull(line),
        JsonObject o => new PlanMapping(o.Select(kv => new KeyValuePair<string, PlanNode>(kv.Key, Convert(kv.Value, line))).ToArray(), line),
        JsonArray a => new PlanSequence(a.Select(v => Convert(v, line)).ToArray(), line),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => new PlanScalar(v.GetValue<string>(), true, line),
        JsonValue v when v.GetValueKind() == JsonValueKind.True => new PlanScalar("true", false, line),
        JsonValue v when v.GetValueKind() == JsonValueKind.False => new PlanScalar("false", false, line),
        JsonValue v => new PlanScalar(v.ToJsonString(), false, line),
        _ => new PlanNull(line),
    };
}
