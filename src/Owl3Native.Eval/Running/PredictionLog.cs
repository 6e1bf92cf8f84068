using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Running;

/// <summary>
/// One answered record: `{"key", "index", "raw_model_answer"}` plus optional extra fields. The one parser of the format:
/// a file from elsewhere may lack the key (null) or the index (−1), never both.
/// </summary>
public sealed record PredictionLine(string? Key, int Index, string RawModelAnswer, JsonObject? Extra = null)
{
    /// <summary>The line's JSON (one line, no trailing newline). Extra fields never override the three required ones.</summary>
    public string ToJson()
    {
        var o = new JsonObject { ["key"] = Key, ["index"] = Index >= 0 ? Index : null, ["raw_model_answer"] = RawModelAnswer };
        if (Extra is not null)
            foreach (var (k, v) in Extra)
                if (k is not ("key" or "index" or "raw_model_answer")) o[k] = v?.DeepClone();
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    /// <summary>
    /// Parses one line. `key` may be a string or a number (kept as its JSON text); `index` a non-negative integer;
    /// a line must carry at least one of them.
    /// </summary>
    /// <exception cref="FormatException">Not a JSON object, or neither key nor index, or a malformed field.</exception>
    public static PredictionLine Parse(string line, string where)
    {
        JsonObject o;
        try
        {
            o = JsonNode.Parse(line) as JsonObject ?? throw new FormatException($"{where}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{where}: not JSON ({e.Message})", e);
        }
        string? key = o["key"] switch
        {
            null => null,
            JsonValue v when v.TryGetValue(out string? s) => s,
            JsonValue v => v.ToJsonString(),
            _ => throw new FormatException($"{where}: \"key\" must be a string or a number"),
        };
        int index = -1;
        if (o["index"] is JsonNode idx)
        {
            if (idx is not JsonValue iv || !iv.TryGetValue(out int i) || i < 0)
                throw new FormatException($"{where}: \"index\" must be a non-negative integer");
            index = i;
        }
        if (key is null && index < 0) throw new FormatException($"{where}: a prediction needs \"key\" or \"index\" (neither is present)");
        string answer = o["raw_model_answer"] switch
        {
            null => throw new FormatException($"{where}: no \"raw_model_answer\""),
            JsonValue v when v.TryGetValue(out string? s) => s!,
            _ => throw new FormatException($"{where}: \"raw_model_answer\" must be a string"),
        };
        var extra = new JsonObject();
        foreach (var (k, v) in o)
            if (k is not ("key" or "index" or "raw_model_answer")) extra[k] = v?.DeepClone();
        return new PredictionLine(key, index, answer, extra.Count > 0 ? extra : null);
    }
}

/// <summary>
/// The append-only predictions file of one task (`&lt;out&gt;/&lt;ds_name&gt;.jsonl`), crash-safe and resumable: each answer
/// is one line written with a single write and flushed to the disk before the next record starts, so a killed run loses
/// at most the record in flight; reopening drops a torn last line (no newline) and reports the indices already answered.
/// </summary>
public sealed class PredictionLog : IDisposable
{
    private readonly FileStream _stream;
    private readonly HashSet<int> _done = [];

    private PredictionLog(string path, FileStream stream, IReadOnlyList<PredictionLine> existing, bool tornLineDropped)
    {
        Path = path;
        _stream = stream;
        Existing = existing;
        TornLineDropped = tornLineDropped;
        foreach (var p in existing) _done.Add(p.Index);
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Lines already in the file when it was opened (complete lines only).</summary>
    public IReadOnlyList<PredictionLine> Existing { get; }

    /// <summary>True when opening removed an incomplete last line left by a killed run.</summary>
    public bool TornLineDropped { get; }

    /// <summary>Indices answered so far (existing and appended).</summary>
    public IReadOnlySet<int> Done => _done;

    /// <summary>Opens (creating) the log; a torn last line is cut off, a malformed complete line is an error.</summary>
    /// <exception cref="FormatException">A complete line that is not a prediction (names the file and line).</exception>
    public static PredictionLog Open(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            int end = Array.LastIndexOf(bytes, (byte)'\n') + 1; // complete lines end at the last newline
            bool torn = end < bytes.Length;
            var lines = new List<PredictionLine>();
            int lineNo = 0, start = 0;
            for (int i = 0; i < end; i++)
            {
                if (bytes[i] != '\n') continue;
                lineNo++;
                string text = Encoding.UTF8.GetString(bytes, start, i - start).TrimEnd('\r');
                start = i + 1;
                if (text.Length == 0) continue;
                var line = PredictionLine.Parse(text, $"{path}:{lineNo}");
                if (line.Index < 0) throw new FormatException($"{path}:{lineNo}: a run's log line needs \"index\"");
                lines.Add(line);
            }
            if (torn)
            {
                stream.SetLength(end);
                stream.Flush(flushToDisk: true);
            }
            stream.Seek(0, SeekOrigin.End);
            return new PredictionLog(path, stream, lines, torn);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Appends one answer as one line and flushes it to the disk.</summary>
    /// <exception cref="InvalidOperationException">The index was already answered.</exception>
    public void Append(PredictionLine line)
    {
        if (line.Index < 0) throw new ArgumentException("a run's log line needs an index", nameof(line));
        if (!_done.Add(line.Index)) throw new InvalidOperationException($"{Path}: record {line.Index} is already answered");
        var bytes = Encoding.UTF8.GetBytes(line.ToJson() + "\n");
        _stream.Write(bytes);
        _stream.Flush(flushToDisk: true);
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _stream.Dispose();

    /// <summary>Reads every line of a predictions file (any producer: `key` and/or `index`), in file order.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="FormatException">A malformed line (names file and line).</exception>
    public static IReadOnlyList<PredictionLine> ReadAll(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"predictions file not found: {path}", path);
        var result = new List<PredictionLine>();
        int lineNo = 0;
        foreach (var text in File.ReadLines(path))
        {
            lineNo++;
            if (text.Trim().Length == 0) continue;
            result.Add(PredictionLine.Parse(text, $"{path}:{lineNo}"));
        }
        return result;
    }
}

/// <summary>Whole-file writes that never leave a half-written file: write a sibling temp file, then rename over.</summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="text"/> (UTF-8) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = $"{full}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var s = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                s.Write(Encoding.UTF8.GetBytes(text));
                s.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
