using System.Globalization;

namespace Owl3Native.Eval.Plans;

/// <summary>
/// A format-neutral view of one plan value, so YAML and JSONL entries are validated by the same code. Scalars keep
/// their text and whether they were quoted (a quoted YAML scalar or a JSON string is always a string, as in PyYAML).
/// </summary>
internal abstract record PlanNode(int Line)
{
    /// <summary>A short description for error messages.</summary>
    public abstract string Describe();
}

internal sealed record PlanNull(int Line) : PlanNode(Line)
{
    public override string Describe() => "null";
}

internal sealed record PlanScalar(string Text, bool Quoted, int Line) : PlanNode(Line)
{
    // PyYAML's YAML 1.1 boolean forms (yaml.Loader resolver: no y/n).
    private static readonly HashSet<string> s_true = ["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"];
    private static readonly HashSet<string> s_false = ["no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"];

    public bool? AsBool() => Quoted ? null : s_true.Contains(Text) ? true : s_false.Contains(Text) ? false : null;

    public long? AsInteger()
    {
        if (Quoted) return null;
        string t = Text.Replace("_", "", StringComparison.Ordinal);
        return long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v : null;
    }

    public override string Describe() => Quoted ? $"the string \"{Text}\"" : $"`{Text}`";
}

internal sealed record PlanMapping(IReadOnlyList<KeyValuePair<string, PlanNode>> Items, int Line) : PlanNode(Line)
{
    public override string Describe() => Items.Count == 0 ? "an empty mapping" : "a mapping";
}

internal sealed record PlanSequence(IReadOnlyList<PlanNode> Items, int Line) : PlanNode(Line)
{
    public override string Describe() => Items.Count == 0 ? "an empty list" : "a list";
}
