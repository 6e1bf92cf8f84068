using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Data;

/// <summary>
/// MMBench (spec/EVAL.md §4.7). Records come from the converted JSONL (`{index, image, hint, question, choices,
/// [answer]}`, image relative to `images/`), joined by `index` with the official TSV (`index, question, hint, A, B, C, D,
/// [answer], category, l2-category, image, …`), whose row is kept under <c>Fields["tsv"]</c>.
/// Port extension: when the JSONL is absent the records are converted from the TSV as the converter does (choices = the
/// A–D cells pandas does not read as NaN, hint `N/A` when NaN, the base64 `image` decoded to bytes; an image cell of at
/// most 64 characters that names another row's `index` refers to that row's image, the VLMEvalKit convention for
/// circular copies).
/// Answer = letter of the JSONL `answer` (0-based) else the TSV `answer`, `N/A` when neither; Category = TSV `l2-category`.
/// </summary>
internal static class MmBenchReader
{
    public static IReadOnlyList<EvalRecord> Read(ReaderContext ctx)
    {
        string jsonl = ctx.Full(ctx.Spec.Sources[0]);
        string tsv = ctx.Full(ctx.Spec.Tsv!);
        if (!File.Exists(jsonl) && !File.Exists(tsv))
            throw new DatasetNotFoundException(ctx.DsName, jsonl, $"records file (nor the official TSV {tsv})");
        var table = File.Exists(tsv) ? TsvTable.Read(tsv) : null;
        var byIndex = new Dictionary<string, DataRow>(StringComparer.Ordinal);
        if (table is not null)
        {
            if (!table.Header.Contains("index")) throw new DatasetFormatException(tsv, "no `index` column");
            foreach (var r in table.Rows) byIndex[r.String("index").Trim()] = r;
        }
        return File.Exists(jsonl) ? FromJsonl(ctx, jsonl, byIndex) : FromTsv(ctx, table!, byIndex);
    }

    private static EvalRecord[] FromJsonl(ReaderContext ctx, string file, Dictionary<string, DataRow> tsv)
    {
        var rows = JsonRows.Read(file);
        var records = new EvalRecord[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            string key = row.Text("index");
            tsv.TryGetValue(key, out var t);
            string answer = row.Has("answer") ? PyText.Letter((int)row.Integer("answer")) : TsvAnswer(t);
            var fields = row.ToJson();
            if (t is not null) fields["tsv"] = TsvJson(t);
            records[i] = new EvalRecord
            {
                DsName = ctx.DsName,
                Index = i,
                Key = key,
                Question = row.String("question"),
                Images = [EvalImage.File(ctx.Media(row.String("image")))],
                Answer = answer,
                Options = row.StringList("choices"),
                Category = Cell(t, "l2-category"),
                Fields = fields,
            };
        }
        return records;
    }

    private static EvalRecord[] FromTsv(ReaderContext ctx, TsvTable table, Dictionary<string, DataRow> byIndex)
    {
        var records = new EvalRecord[table.Rows.Count];
        for (int i = 0; i < table.Rows.Count; i++)
        {
            var t = table.Rows[i];
            string key = t.String("index").Trim();
            var choices = new List<string>();
            foreach (var letter in new[] { "A", "B", "C", "D" })
                if (Cell(t, letter) is { } c) choices.Add(c);
            var fields = new JsonObject
            {
                ["index"] = key,
                ["hint"] = Cell(t, "hint") ?? "N/A",
                ["question"] = t.String("question"),
                ["choices"] = new JsonArray(choices.Select(c => (JsonNode?)JsonValue.Create(c)).ToArray()),
                ["tsv"] = TsvJson(t),
            };
            records[i] = new EvalRecord
            {
                DsName = ctx.DsName,
                Index = i,
                Key = key,
                Question = t.String("question"),
                Images = [Base64Image(t, byIndex)],
                Answer = TsvAnswer(t),
                Options = choices,
                Category = Cell(t, "l2-category"),
                Fields = fields,
            };
        }
        return records;
    }

    private static EvalImage Base64Image(DataRow row, Dictionary<string, DataRow> byIndex)
    {
        string cell = row.String("image");
        if (cell.Length <= 64 && byIndex.TryGetValue(cell.Trim(), out var target) && !ReferenceEquals(target, row))
            cell = target.String("image");
        try
        {
            return EvalImage.Embedded(Convert.FromBase64String(cell), $"{row.File}#{row.Where} image");
        }
        catch (FormatException e)
        {
            throw new DatasetFormatException(row.File, $"{row.Where}: column `image` is not base64 image data ({e.Message})", e);
        }
    }

    private static string TsvAnswer(DataRow? t) => Cell(t, "answer") is { } a ? PyText.Strip(a) : "N/A";

    /// <summary>A TSV cell, or null when absent or NaN for pandas.</summary>
    private static string? Cell(DataRow? t, string column) =>
        t?.Get(column) is string s && !TsvTable.IsNa(s) ? s : null;

    private static JsonObject TsvJson(DataRow t)
    {
        var o = new JsonObject();
        foreach (var (k, v) in t.Values)
            if (k != "image") o[k] = v is string s ? JsonValue.Create(s) : null;
        return o;
    }
}
