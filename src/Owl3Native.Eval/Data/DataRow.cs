using System.Globalization;
using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Data;

/// <summary>
/// One row of a dataset file, whatever the format (JSON, JSON Lines, parquet, TSV), with values normalised to
/// `string`, `long`, `double`, `bool`, `byte[]`, `List&lt;object?&gt;`, `Dictionary&lt;string, object?&gt;` or null. The
/// getters fail with a <see cref="DatasetFormatException"/> naming the file, the row and the column.
/// </summary>
public sealed class DataRow
{
    /// <summary>A row as a reader produced it.</summary>
    /// <param name="values">Column name → value, already normalised to the types listed on the class.</param>
    /// <param name="file">The file the row came from, for error messages.</param>
    /// <param name="where">The row's place in that file (`row 3`, `line 4`), for error messages.</param>
    public DataRow(IReadOnlyDictionary<string, object?> values, string file, string where)
    {
        Values = values;
        File = file;
        Where = where;
    }

    /// <summary>The columns.</summary>
    public IReadOnlyDictionary<string, object?> Values { get; }

    /// <summary>The file the row came from.</summary>
    public string File { get; }

    /// <summary>Where in the file (`row 3`, `line 4`).</summary>
    public string Where { get; }

    /// <summary>True when the column exists and is not null.</summary>
    public bool Has(string column) => Values.TryGetValue(column, out var v) && v is not null;

    /// <summary>The raw value, or null.</summary>
    public object? Get(string column) => Values.GetValueOrDefault(column);

    /// <summary>A required string column.</summary>
    public string String(string column) => Get(column) switch
    {
        string s => s,
        null => throw Error(column, "is missing"),
        var v => throw Error(column, $"must be a string, not {Describe(v)}"),
    };

    /// <summary>A string column, or null when absent.</summary>
    public string? StringOrNull(string column) => Get(column) switch
    {
        null => null,
        string s => s,
        var v => throw Error(column, $"must be a string, not {Describe(v)}"),
    };

    /// <summary>A required integer column (an integral JSON number or a decimal string such as `"3"`).</summary>
    public long Integer(string column) => Get(column) switch
    {
        long l => l,
        double d when d == Math.Floor(d) && Math.Abs(d) < 1e15 => (long)d,
        string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) => l,
        null => throw Error(column, "is missing"),
        var v => throw Error(column, $"must be an integer, not {Describe(v)}"),
    };

    /// <summary>A required number column.</summary>
    public double Number(string column) => Get(column) switch
    {
        long l => l,
        double d => d,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
        null => throw Error(column, "is missing"),
        var v => throw Error(column, $"must be a number, not {Describe(v)}"),
    };

    /// <summary>A required list column.</summary>
    public IReadOnlyList<object?> List(string column) => Get(column) switch
    {
        IReadOnlyList<object?> l => l,
        null => throw Error(column, "is missing"),
        var v => throw Error(column, $"must be a list, not {Describe(v)}"),
    };

    /// <summary>A required list of strings.</summary>
    public IReadOnlyList<string> StringList(string column) =>
        List(column).Select((v, i) => v as string ?? throw Error(column, $"item {i} must be a string, not {Describe(v)}")).ToArray();

    /// <summary>A required mapping column.</summary>
    public IReadOnlyDictionary<string, object?> Map(string column) => Get(column) switch
    {
        IReadOnlyDictionary<string, object?> m => m,
        null => throw Error(column, "is missing"),
        var v => throw Error(column, $"must be an object, not {Describe(v)}"),
    };

    /// <summary>Python's `str(value)` for scalars (`True`/`False` for booleans, integers without a decimal point).</summary>
    public string Text(string column) => PyText.Str(Get(column) ?? throw Error(column, "is missing"));

    /// <summary>The row as JSON (binary values left out), for <see cref="EvalRecord.Fields"/>.</summary>
    public JsonObject ToJson() => (JsonObject)RowValues.ToJson(Values)!;

    /// <summary>An error about <paramref name="column"/> of this row.</summary>
    public DatasetFormatException Error(string column, string problem) => new(File, $"{Where}: column `{column}` {problem}");

    /// <summary>An error about this row.</summary>
    public DatasetFormatException Error(string problem) => new(File, $"{Where}: {problem}");

    internal static string Describe(object? v) => v switch
    {
        null => "null",
        string s => $"the string \"{(s.Length > 40 ? s[..40] + "…" : s)}\"",
        long or double => $"the number {PyText.Str(v)}",
        bool b => b ? "true" : "false",
        byte[] b => $"{b.Length} bytes",
        LazyBytes => "binary data",
        IReadOnlyList<object?> => "a list",
        IReadOnlyDictionary<string, object?> => "an object",
        _ => v.GetType().Name,
    };
}
