using System.Text.Json;

namespace Owl3Native.Eval.Data;

/// <summary>
/// MM-Vet (spec/EVAL.md §4.8): one JSON object keyed `v1_0 … v1_{N-1}` with `{imagename, question, answer, capability}`;
/// record i is key `v1_{i}` (keys must be contiguous). Image `images/mmvet/images/{imagename}`; Answer = `answer`.
/// </summary>
internal static class MmVetReader
{
    public static IReadOnlyList<EvalRecord> Read(ReaderContext ctx)
    {
        string file = ctx.NeedFile(ctx.Spec.Sources[0], "records file");
        using var doc = JsonRows.ReadDocument(file);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new DatasetFormatException(file, "expected a JSON object keyed v1_0, v1_1, …");
        var items = RowValues.FromJsonObject(doc.RootElement);
        var records = new EvalRecord[items.Count];
        for (int i = 0; i < items.Count; i++)
        {
            string key = $"v1_{i}";
            if (items.GetValueOrDefault(key) is not IReadOnlyDictionary<string, object?> values)
                throw new DatasetFormatException(file, $"key `{key}` is missing or not an object (keys must run v1_0 … v1_{items.Count - 1})");
            var row = new DataRow(values, file, key);
            records[i] = new EvalRecord
            {
                DsName = ctx.DsName,
                Index = i,
                Key = key,
                Question = row.String("question"),
                Images = [EvalImage.File(ctx.Media(row.String("imagename")))],
                Answer = row.Has("answer") ? row.Text("answer") : null,
                Fields = row.ToJson(),
            };
        }
        return records;
    }
}
