using Owl3Native.Eval.Plans;

namespace Owl3Native.Eval.Data;

/// <summary>The records of one plan task, in dataset order.</summary>
/// <param name="Task">The plan entry (dataset, cut, frames, options).</param>
/// <param name="Records">The records; <c>Records[i].Index == i</c>.</param>
public sealed record EvalDataset(PlanEntry Task, IReadOnlyList<EvalRecord> Records);

/// <summary>Reads the records of a plan task from the folder layout of spec/EVAL.md §3.1.</summary>
public static class EvalDatasets
{
    /// <summary>
    /// Reads every record of <paramref name="task"/> under <paramref name="paths"/>, with the reader its dataset's
    /// <see cref="DatasetSpec.Format"/> names.
    /// </summary>
    /// <exception cref="DatasetNotFoundException">A file or folder of the dataset is missing (the message names the expected path).</exception>
    /// <exception cref="DatasetFormatException">A file does not hold what the dataset's format needs (file, row and column named).</exception>
    public static EvalDataset Load(PlanEntry task, EvalPaths paths)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(paths);
        var ctx = new ReaderContext(task, paths);
        IReadOnlyList<EvalRecord> records = task.Dataset.Format switch
        {
            DatasetFormat.Vqa => VqaReader.Read(ctx),
            DatasetFormat.MmBench => MmBenchReader.Read(ctx),
            DatasetFormat.MmVet => MmVetReader.Read(ctx),
            DatasetFormat.HfSnapshot => HfBenchReaders.Read(ctx),
            DatasetFormat.MvBench => MvBenchReader.Read(ctx),
            DatasetFormat.LongVideoBench => LongVideoBenchReader.Read(ctx),
            DatasetFormat.Interleave => InterleaveReader.Read(ctx),
            DatasetFormat.MiBench => MiBenchReader.Read(ctx),
            _ => throw new NotSupportedException($"no reader for {task.Dataset.Format}"),
        };
        return new EvalDataset(task, records);
    }
}

/// <summary>What a reader needs: the task, the data root, and path helpers that fail with the expected path.</summary>
internal sealed class ReaderContext(PlanEntry task, EvalPaths paths)
{
    public PlanEntry Task { get; } = task;
    public DatasetSpec Spec => Task.Dataset;
    public string DsName => Task.DsName;
    public EvalPaths Paths { get; } = paths;

    /// <summary>The full path of a data-root-relative path.</summary>
    public string Full(string relative) => Path.GetFullPath(Path.Combine(Paths.DataRoot, relative));

    /// <summary>The full path of a file the dataset needs; throws naming it when it does not exist.</summary>
    public string NeedFile(string relative, string what)
    {
        string full = Full(relative);
        return File.Exists(full) ? full : throw new DatasetNotFoundException(DsName, full, what);
    }

    /// <summary>The full path of a folder the dataset needs; throws naming it when it does not exist.</summary>
    public string NeedFolder(string relative, string what)
    {
        string full = Full(relative);
        return Directory.Exists(full) ? full : throw new DatasetNotFoundException(DsName, full, what);
    }

    /// <summary>A media path of a record: absolute paths kept, relative ones under the dataset's media root.</summary>
    public string Media(string relative) =>
        Path.IsPathRooted(relative) ? relative : Path.GetFullPath(Path.Combine(Paths.DataRoot, Spec.MediaRoot ?? "", relative));
}
