using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;

namespace Owl3Native.Eval.Tests.Data;

/// <summary>The fixture data root of spec/EVAL.md §7 (`Fixtures/eval`, copied next to the test assembly).</summary>
internal static class DataFixtures
{
    public static string Root { get; } = Path.Combine(AppContext.BaseDirectory, "Fixtures", "eval");

    public static EvalPaths Paths { get; } = new(Root);

    public static string Plan(string name) => Path.Combine(Root, "plans", name);

    public static string File(string relative) => Path.GetFullPath(Path.Combine(Root, relative));

    /// <summary>The records of <paramref name="dsName"/> under the fixture root with the dataset's default entry.</summary>
    public static EvalDataset Load(string dsName) => EvalDatasets.Load(PlanEntry.ForDataset(dsName), Paths);

    public static EvalDataset Load(PlanEntry entry) => EvalDatasets.Load(entry, Paths);
}
