using System.Text.Json;

namespace Owl3Native.Eval.Data;

/// <summary>Rows of JSON files: a top-level array of objects, or JSON Lines (one object per line).</summary>
public static class JsonRows
{
    private static readonly JsonDocumentOptions s_options = new() { AllowTrailingCommas = false, MaxDepth = 256 };

    /// <summary>
    /// Reads <paramref name="path"/>: JSON Lines when the name ends in `.jsonl` or the first non-blank character is not
    /// `[`, otherwise one JSON array of objects.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DatasetFormatException">The file is not valid JSON or holds something other than objects.</exception>
    public static IReadOnlyList<DataRow> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        bool lines = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || FirstChar(path) != '[';
        return lines ? ReadLines(path) : ReadArray(path);
    }

    /// <summary>Parses a whole JSON file (for the object-shaped files: MM-Vet, VQA questions/annotations).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DatasetFormatException">The file is not valid JSON.</exception>
    public static JsonDocument ReadDocument(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        using var stream = File.OpenRead(path);
        try
        {
            return JsonDocument.Parse(stream, s_options);
        }
        catch (JsonException e)
        {
            throw new DatasetFormatException(path, $"invalid JSON (line {e.LineNumber + 1}): {e.Message}", e);
        }
    }

    private static int FirstChar(string path)
    {
        using var reader = new StreamReader(path);
        int c;
        while ((c = reader.Read()) >= 0 && (char.IsWhiteSpace((char)c) || c == '\uFEFF')) { }
        return c;
    }

    private static List<DataRow> ReadArray(string path)
    {
        using var doc = ReadDocument(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            throw new DatasetFormatException(path, "expected a JSON array of records");
        var rows = new List<DataRow>();
        int i = 0;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Object)
                throw new DatasetFormatException(path, $"record {i}: expected a JSON object, not {e.ValueKind}");
            rows.Add(new DataRow(RowValues.FromJsonObject(e), path, $"record {i}"));
            i++;
        }
        return rows;
    }

    private static List<DataRow> ReadLines(string path)
    {
        var rows = new List<DataRow>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line, s_options);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new DatasetFormatException(path, $"line {lineNo}: expected a JSON object, not {doc.RootElement.ValueKind}");
                rows.Add(new DataRow(RowValues.FromJsonObject(doc.RootElement), path, $"line {lineNo}"));
            }
            catch (JsonException e)
            {
                throw new DatasetFormatException(path, $"line {lineNo}: invalid JSON: {e.Message}", e);
            }
        }
        return rows;
    }
}
