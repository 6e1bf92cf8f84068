using System.Text;

namespace Owl3Native.Eval.Data;

/// <summary>
/// A tab-separated file read like `pandas.read_csv(path, sep='\t')`: the first line is the header, a field that starts
/// with `"` is quoted (`""` inside is a quote; tabs and newlines allowed), cells stay strings (<see cref="IsNa"/> says
/// which ones pandas would turn into NaN). Used for the official MMBench TSV (§4.7).
/// </summary>
public sealed class TsvTable
{
    // pandas' default na_values (pandas._libs.parsers.STR_NA_VALUES).
    private static readonly HashSet<string> s_na =
    [
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL",
        "NaN", "None", "n/a", "nan", "null",
    ];

    private TsvTable(string file, IReadOnlyList<string> header, IReadOnlyList<DataRow> rows)
    {
        File = file;
        Header = header;
        Rows = rows;
    }

    /// <summary>The file.</summary>
    public string File { get; }

    /// <summary>Column names in file order.</summary>
    public IReadOnlyList<string> Header { get; }

    /// <summary>Data rows; every value is a string (missing trailing cells are empty strings).</summary>
    public IReadOnlyList<DataRow> Rows { get; }

    /// <summary>True when pandas would read <paramref name="cell"/> as NaN (its default `na_values`).</summary>
    public static bool IsNa(string? cell) => cell is null || s_na.Contains(cell);

    /// <summary>Reads <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DatasetFormatException">The file is empty, has a duplicate column or a row longer than the header.</exception>
    public static TsvTable Read(string path)
    {
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        var records = Parse(System.IO.File.ReadAllText(path, Encoding.UTF8));
        if (records.Count == 0) throw new DatasetFormatException(path, "empty TSV (no header line)");
        var header = records[0].Fields;
        if (header.Distinct(StringComparer.Ordinal).Count() != header.Count)
            throw new DatasetFormatException(path, $"duplicate column names in the header: {string.Join(", ", header)}");
        var rows = new List<DataRow>();
        for (int r = 1; r < records.Count; r++)
        {
            var (fields, line) = records[r];
            if (fields.Count == 1 && fields[0].Length == 0) continue; // blank line (pandas skip_blank_lines)
            if (fields.Count > header.Count)
                throw new DatasetFormatException(path, $"line {line}: {fields.Count} cells but the header has {header.Count} columns");
            var values = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (int c = 0; c < header.Count; c++) values[header[c]] = c < fields.Count ? fields[c] : "";
            rows.Add(new DataRow(values, path, $"line {line}"));
        }
        return new TsvTable(path, header, rows);
    }

    private static List<(List<string> Fields, int Line)> Parse(string text)
    {
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        var records = new List<(List<string>, int)>();
        var fields = new List<string>();
        var cell = new StringBuilder();
        int line = 1, recordLine = 1, i = 0;
        bool atFieldStart = true;
        while (i < text.Length)
        {
            char c = text[i];
            if (atFieldStart && c == '"')
            {
                i++;
                while (true)
                {
                    if (i >= text.Length) break; // unterminated quote: take the rest
                    char q = text[i++];
                    if (q == '"')
                    {
                        if (i < text.Length && text[i] == '"') { cell.Append('"'); i++; continue; }
                        break;
                    }
                    if (q == '\n') line++;
                    cell.Append(q);
                }
                atFieldStart = false;
                continue;
            }
            atFieldStart = false;
            i++;
            switch (c)
            {
                case '\t':
                    fields.Add(cell.ToString());
                    cell.Clear();
                    atFieldStart = true;
                    break;
                case '\r' when i < text.Length && text[i] == '\n':
                    break;
                case '\n' or '\r':
                    fields.Add(cell.ToString());
                    cell.Clear();
                    records.Add((fields, recordLine));
                    fields = [];
                    line++;
                    recordLine = line;
                    atFieldStart = true;
                    break;
                default:
                    cell.Append(c);
                    break;
            }
        }
        if (cell.Length > 0 || fields.Count > 0)
        {
            fields.Add(cell.ToString());
            records.Add((fields, recordLine));
        }
        return records;
    }
}
