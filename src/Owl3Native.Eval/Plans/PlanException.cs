namespace Owl3Native.Eval.Plans;

/// <summary>
/// A plan file cannot be used: unreadable YAML/JSON (with its line), an entry without `type`/`ds_name`, an unregistered
/// task type, an unknown or inapplicable key, a bad value, or a `ds_name` the task type does not define. The message
/// names the file, the line, the 0-based entry index and the key.
/// </summary>
public sealed class PlanException : Exception
{
    /// <summary>A plan problem without a location; <see cref="File"/>, <see cref="Line"/>, <see cref="EntryIndex"/> and <see cref="Key"/> stay null.</summary>
    /// <param name="message">The whole message, location included if the caller has one.</param>
    public PlanException(string message) : base(message) { }

    /// <summary>A plan problem without a location, caused by <paramref name="inner"/> (a YAML/JSON parser or I/O error).</summary>
    /// <param name="message">The whole message.</param>
    /// <param name="inner">The underlying error.</param>
    public PlanException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception with the location prefix `file:line: entry i: `.</summary>
    internal PlanException(string file, int? line, int? entryIndex, string? key, string message, Exception? inner = null)
        : base(Format(file, line, entryIndex, message), inner)
    {
        File = file;
        Line = line;
        EntryIndex = entryIndex;
        Key = key;
    }

    /// <summary>The plan file.</summary>
    public string? File { get; }

    /// <summary>1-based line of the problem, when known.</summary>
    public int? Line { get; }

    /// <summary>0-based index of the entry in its file, when the problem belongs to one entry.</summary>
    public int? EntryIndex { get; }

    /// <summary>The offending key, when there is one.</summary>
    public string? Key { get; }

    private static string Format(string file, int? line, int? entry, string message) =>
        $"{file}{(line is { } l ? $":{l}" : "")}: {(entry is { } e ? $"plan entry {e}: " : "")}{message}";
}
