using System.Globalization;
using System.IO.Compression;
using System.Security;
using System.Text;
using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Scoring;

/// <summary>One row of the MMBench submission workbook (§4.7): columns <c>index, question, prediction, A, B, C, D</c>.</summary>
/// <param name="Index">The TSV <c>index</c>.</param>
/// <param name="Question">The TSV <c>question</c> (empty when missing).</param>
/// <param name="Prediction">The raw model answer.</param>
/// <param name="Options">The A–D cells (<see langword="null"/> = empty cell).</param>
public sealed record MmBenchSubmissionRow(long Index, string? Question, string Prediction, IReadOnlyList<string?> Options);

/// <summary>
/// Submission content for the tasks without a local score (spec/EVAL.md §4.1, §4.4, §4.7, §4.8). Rows come out in
/// dataset order.
/// </summary>
public static class Submissions
{
    /// <summary>
    /// VQAv2 (EvalAI): <c>[{"question_id": int, "answer": N2(raw)}]</c>; <see cref="AnswerGroundTruth.Key"/> is the
    /// question id.
    /// </summary>
    public static JsonArray VqaV2(IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<AnswerGroundTruth> groundTruth)
    {
        var array = new JsonArray();
        foreach (var j in Predictions.Join(predictions, groundTruth))
        {
            if (!long.TryParse(j.Truth.Key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long qid))
                throw new ScoringException($"vqav2_test: question_id '{j.Truth.Key}' is not an integer");
            array.Add(new JsonObject { ["question_id"] = qid, ["answer"] = AnswerPostProcess.VqaV2(j.Prediction.RawModelAnswer) });
        }
        return array;
    }

    /// <summary>
    /// VizWiz: <c>[{"image": question_id, "answer": cut(raw)}]</c> (the question id is the image file name; the answer is
    /// the text before the first <c>.</c> then <c>,</c>, trimmed).
    /// </summary>
    public static JsonArray VizWiz(IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<AnswerGroundTruth> groundTruth)
    {
        var array = new JsonArray();
        foreach (var j in Predictions.Join(predictions, groundTruth))
            array.Add(new JsonObject { ["image"] = j.Truth.Key, ["answer"] = AnswerPostProcess.VizWiz(j.Prediction.RawModelAnswer) });
        return array;
    }

    /// <summary>MM-Vet (GPT grader): <c>{"v1_0": raw, …}</c>; the key is <c>v1_{i}</c>.</summary>
    public static JsonObject MmVet(IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<AnswerGroundTruth> groundTruth)
    {
        var o = new JsonObject();
        foreach (var j in Predictions.Join(predictions, groundTruth)) o[j.Truth.Key] = j.Prediction.RawModelAnswer;
        return o;
    }

    /// <summary>
    /// MMBench rows for the server. Under <see cref="ScoreProtocol.Original"/> the question and option cells pandas reads
    /// as missing (<see cref="MmBenchScorer.IsPandasNa"/>) are written empty, as the reference's DataFrame does.
    /// </summary>
    public static IReadOnlyList<MmBenchSubmissionRow> MmBench(IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<MmBenchGroundTruth> groundTruth,
        ScoreProtocol protocol = ScoreProtocol.Original)
    {
        string? Cell(string? c) => protocol == ScoreProtocol.Original && MmBenchScorer.IsPandasNa(c) ? null : c;
        var rows = new List<MmBenchSubmissionRow>();
        foreach (var j in Predictions.Join(predictions, groundTruth))
        {
            if (!long.TryParse(j.Truth.Key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long index))
                throw new ScoringException($"mmbench: TSV index '{j.Truth.Key}' is not an integer");
            var options = Enumerable.Range(0, 4).Select(i => i < j.Truth.OptionCells.Count ? Cell(j.Truth.OptionCells[i]) : null).ToArray();
            rows.Add(new MmBenchSubmissionRow(index, Cell(j.Truth.Question), j.Prediction.RawModelAnswer, options));
        }
        return rows;
    }

    /// <summary>The MMBench submission columns, in order.</summary>
    public static readonly IReadOnlyList<string> MmBenchColumns = ["index", "question", "prediction", "A", "B", "C", "D"];

    /// <summary>Writes MMBench rows as an <c>.xlsx</c> workbook (one sheet, header row <see cref="MmBenchColumns"/>).</summary>
    public static void WriteMmBenchXlsx(Stream output, IReadOnlyList<MmBenchSubmissionRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var table = rows.Select(r => new object?[] { r.Index, r.Question, r.Prediction }.Concat(r.Options.Cast<object?>()).ToArray()).ToList();
        Xlsx.Write(output, MmBenchColumns, table);
    }
}

/// <summary>A minimal single-sheet <c>.xlsx</c> writer (inline strings, numbers for integral values).</summary>
public static class Xlsx
{
    /// <summary>Writes <paramref name="header"/> then <paramref name="rows"/>; <see langword="null"/> cells are left empty.</summary>
    public static void Write(Stream output, IReadOnlyList<string> header, IReadOnlyList<object?[]> rows)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(rows);
        using var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true);
        Entry(zip, "[Content_Types].xml",
            """<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>""");
        Entry(zip, "_rels/.rels",
            """<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>""");
        Entry(zip, "xl/workbook.xml",
            """<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>""");
        Entry(zip, "xl/_rels/workbook.xml.rels",
            """<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>""");
        var sb = new StringBuilder();
        sb.Append("""<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>""");
        AppendRow(sb, 1, header.Cast<object?>().ToArray());
        for (int i = 0; i < rows.Count; i++) AppendRow(sb, i + 2, rows[i]);
        sb.Append("</sheetData></worksheet>");
        Entry(zip, "xl/worksheets/sheet1.xml", sb.ToString());
    }

    /// <summary>The A1-style column name of a 0-based column.</summary>
    public static string ColumnName(int column)
    {
        string name = "";
        for (int c = column + 1; c > 0; c = (c - 1) / 26) name = (char)('A' + (c - 1) % 26) + name;
        return name;
    }

    private static void AppendRow(StringBuilder sb, int row, object?[] cells)
    {
        sb.Append(CultureInfo.InvariantCulture, $"<row r=\"{row}\">");
        for (int c = 0; c < cells.Length; c++)
        {
            string reference = ColumnName(c) + row.ToString(CultureInfo.InvariantCulture);
            switch (cells[c])
            {
                case null:
                    break;
                case long or int:
                    sb.Append(CultureInfo.InvariantCulture, $"<c r=\"{reference}\"><v>{cells[c]}</v></c>");
                    break;
                default:
                    string text = XmlText(Convert.ToString(cells[c], CultureInfo.InvariantCulture) ?? "");
                    sb.Append(CultureInfo.InvariantCulture, $"<c r=\"{reference}\" t=\"inlineStr\"><is><t xml:space=\"preserve\">{text}</t></is></c>");
                    break;
            }
        }
        sb.Append("</row>");
    }

    // XML-escapes and drops characters XML 1.0 cannot carry (control characters other than tab, LF, CR).
    private static string XmlText(string s)
    {
        var clean = new StringBuilder(s.Length);
        foreach (char ch in s)
            if (ch >= 0x20 || ch is '\t' or '\n' or '\r') clean.Append(ch);
        return SecurityElement.Escape(clean.ToString());
    }

    private static void Entry(ZipArchive zip, string name, string content)
    {
        ZipArchiveEntry entry = zip.CreateEntry(name, CompressionLevel.Optimal);
        using var writer = new StreamWriter(entry.Open(), new UTF8Encoding(false));
        writer.Write(content);
    }
}
