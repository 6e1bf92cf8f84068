using Owl3Native.Eval.Data;

namespace Owl3Native.Eval.Plans;

/// <summary>Checks one plan entry (§2.1–§2.2) and resolves it against <see cref="DatasetCatalog"/>.</summary>
internal static class PlanValidator
{
    internal readonly record struct Result(PlanEntry? Entry, SkippedPlanEntry? Skipped);

    public static Result Validate(PlanNode node, string file, int index, PlanLoadOptions options)
    {
        if (node is not PlanMapping map)
            throw new PlanException(file, node.Line, index, null, $"expected a mapping with `type` and `ds_name`, not {node.Describe()}");

        var values = new Dictionary<string, PlanNode>(StringComparer.Ordinal);
        foreach (var (key, value) in map.Items)
            if (!values.TryAdd(key, value))
                throw new PlanException(file, value.Line, index, key, $"duplicate key `{key}`");

        string type = RequiredName(values, "type", file, map.Line, index);
        string dsName = RequiredName(values, "ds_name", file, map.Line, index);
        if (!TaskTypes.IsRegistered(type))
            throw new PlanException(file, values["type"].Line, index, "type",
                $"unknown task type `{type}`; registered types: {string.Join(", ", TaskTypes.All)}");

        var accepted = TaskTypes.AcceptedKeys(type);
        foreach (var (key, value) in map.Items)
        {
            if (!TaskTypes.AllKeys.Contains(key))
                throw new PlanException(file, value.Line, index, key,
                    $"unknown key `{key}` in the {type} entry for `{dsName}`; accepted keys: {string.Join(", ", accepted)}");
            if (!accepted.Contains(key))
                throw new PlanException(file, value.Line, index, key,
                    $"key `{key}` does not apply to {type} (entry for `{dsName}`); accepted keys: {string.Join(", ", accepted)}");
        }

        bool cut = values.TryGetValue("cut_cfg", out var cutCfg) && cutCfg switch
        {
            PlanNull => false,
            PlanMapping m => m.Items.Count > 0,
            _ => throw new PlanException(file, cutCfg.Line, index, "cut_cfg", $"`cut_cfg` must be a mapping (its presence turns cutting on), not {cutCfg.Describe()}"),
        };
        int? numFrames = Integer(values, "num_frames", file, index, min: 1);
        bool? useNumber = Bool(values, "use_number", file, index);
        bool? imageIndex = Bool(values, "image_index", file, index);
        bool? llavaStyle = Bool(values, "use_llava_style", file, index);
        int? fewShot = Integer(values, "num_few_shot", file, index, min: 0);
        if (fewShot > 0)
            throw new PlanException(file, values["num_few_shot"].Line, index, "num_few_shot",
                $"`num_few_shot: {fewShot}` is not supported: few-shot prompting needs training examples that no built-in dataset provides (spec/EVAL.md §4.19); use 0");

        var spec = DatasetCatalog.Find(dsName);
        if (spec is null || spec.TaskType != type)
        {
            string reason = Undefined(type, dsName, spec);
            if (options.SkipUndefined)
                return new Result(null, new SkippedPlanEntry(file, index, map.Line, type, dsName, reason));
            throw new PlanException(file, values["ds_name"].Line, index, "ds_name", reason + "; pass --skip-undefined to skip such entries");
        }

        return new Result(new PlanEntry
        {
            Type = type,
            DsName = dsName,
            Dataset = spec,
            Cut = cut,
            NumFrames = TaskTypes.IsVideoTask(type) ? numFrames ?? spec.DefaultFrames : null,
            UseNumber = useNumber ?? false,
            ImageIndex = imageIndex ?? true,
            UseLlavaStyle = llavaStyle ?? false,
            NumFewShot = fewShot ?? 0,
            File = file,
            EntryIndex = index,
            Line = map.Line,
        }, null);
    }

    private static string Undefined(string type, string dsName, DatasetSpec? spec)
    {
        if (spec is not null)
            return $"`{dsName}` is a {spec.TaskType} dataset, not defined for {type}";
        var ofType = DatasetCatalog.All.Where(d => d.TaskType == type).Select(d => d.DsName).ToArray();
        string known = ofType.Length == 0 ? $"{type} has no built-in datasets (spec/EVAL.md §4.19)" : $"{type} defines: {string.Join(", ", ofType)}";
        string hint = dsName == "textvqa_val"
            ? " (the original's all.yaml lists it, but its VQA table has no such entry, so the original aborts here too: spec/EVAL.md §9 #1; the TextVQA set is `textvqa_val_ocr_v2`)"
            : "";
        return $"ds_name `{dsName}` is not defined for {type}{hint}; {known}";
    }

    private static string RequiredName(Dictionary<string, PlanNode> values, string key, string file, int line, int index)
    {
        if (!values.TryGetValue(key, out var node))
            throw new PlanException(file, line, index, key, $"missing required key `{key}`");
        if (node is not PlanScalar { Text.Length: > 0 } s)
            throw new PlanException(file, node.Line, index, key, $"`{key}` must be a non-empty name, not {node.Describe()}");
        return s.Text;
    }

    private static int? Integer(Dictionary<string, PlanNode> values, string key, string file, int index, int min)
    {
        if (!values.TryGetValue(key, out var node) || node is PlanNull) return null;
        if (node is PlanScalar s && s.AsInteger() is { } v && v >= min && v <= int.MaxValue) return (int)v;
        throw new PlanException(file, node.Line, index, key, $"`{key}` must be an integer ≥ {min}, not {node.Describe()}");
    }

    private static bool? Bool(Dictionary<string, PlanNode> values, string key, string file, int index)
    {
        if (!values.TryGetValue(key, out var node) || node is PlanNull) return null;
        if (node is PlanScalar s && s.AsBool() is { } b) return b;
        throw new PlanException(file, node.Line, index, key, $"`{key}` must be True or False, not {node.Describe()}");
    }
}
