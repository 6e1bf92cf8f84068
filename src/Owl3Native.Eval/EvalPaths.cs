namespace Owl3Native.Eval;

/// <summary>
/// The folder layout a plan's datasets live in (spec/EVAL.md §3.1): `--data` holds `dataset/` and `images/`, and every
/// path of a task's built-in table is relative to one of them.
/// </summary>
public sealed record EvalPaths(string DataRoot)
{
    /// <summary>`&lt;data&gt;/dataset`.</summary>
    public string Dataset => Path.Combine(DataRoot, "dataset");

    /// <summary>`&lt;data&gt;/images`.</summary>
    public string Images => Path.Combine(DataRoot, "images");
}
