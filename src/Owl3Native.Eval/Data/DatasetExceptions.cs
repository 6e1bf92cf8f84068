namespace Owl3Native.Eval.Data;

/// <summary>A file or folder a dataset needs is missing; the message names the path the built-in table expects.</summary>
public sealed class DatasetNotFoundException : FileNotFoundException
{
    public DatasetNotFoundException(string dsName, string path, string what)
        : base($"{dsName}: {what} not found: {path}", path)
    {
        DsName = dsName;
    }

    /// <summary>The dataset whose file is missing.</summary>
    public string DsName { get; }
}

/// <summary>A dataset file exists but does not hold what the reader expects; the message names file, row and column.</summary>
public sealed class DatasetFormatException : Exception
{
    public DatasetFormatException(string file, string message, Exception? inner = null)
        : base($"{file}: {message}", inner)
    {
        File = file;
    }

    /// <summary>The offending file.</summary>
    public string File { get; }
}
