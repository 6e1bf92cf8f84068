namespace Owl3Native.Eval.Data;

/// <summary>A file or folder a dataset needs is missing; the message names the path the built-in table expects.</summary>
public sealed class DatasetNotFoundException : FileNotFoundException
{
    /// <summary>Message: `{dsName}: {what} not found: {path}`.</summary>
    /// <param name="dsName">The dataset's `ds_name`.</param>
    /// <param name="path">The path that does not exist (also <see cref="FileNotFoundException.FileName"/>).</param>
    /// <param name="what">What the path should have held (`the records file`, `the image folder`, ...).</param>
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
    /// <summary>Message: `{file}: {message}`.</summary>
    /// <param name="file">The offending file.</param>
    /// <param name="message">What is wrong, naming the row and column where there is one.</param>
    /// <param name="inner">The parser's exception, if one caused this.</param>
    public DatasetFormatException(string file, string message, Exception? inner = null)
        : base($"{file}: {message}", inner)
    {
        File = file;
    }

    /// <summary>The offending file.</summary>
    public string File { get; }
}
