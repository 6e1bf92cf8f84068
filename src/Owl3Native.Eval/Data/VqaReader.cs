namespace Owl3Native.Eval.Data;

/// <summary>
/// VQAv2, OK-VQA, TextVQA, VizWiz, GQA and POPE records (spec/EVAL.md §4.1–§4.6): Qwen-VL style `{image, question,
/// question_id, [answer]}` in a JSON array or JSON Lines. `images` (one path string) is read when `image` is absent and
/// `data_id` when `question_id` is, as the original's loader does; `question` is required (the original's prompt reads it).
/// OK-VQA/TextVQA also join the VQA annotation file: <see cref="EvalRecord.Answers"/> = the 10 `answers[].answer`,
/// <see cref="EvalRecord.QuestionType"/> = `question_type`, <see cref="EvalRecord.Category"/> = `answer_type`.
/// </summary>
internal static class VqaReader
{
    public static IReadOnlyList<EvalRecord> Read(ReaderContext ctx)
    {
        string file = ctx.NeedFile(ctx.Spec.Sources[0], "records file");
        IReadOnlyDictionary<string, VqaAnnotation>? annotations = null;
        if (ctx.Spec.Questions is { } q) ctx.NeedFile(q, "VQA questions file");
        if (ctx.Spec.Annotations is { } a) annotations = VqaAnnotations.Read(ctx.NeedFile(a, "VQA annotations file"));

        var rows = JsonRows.Read(file);
        var records = new EvalRecord[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            string question = row.String("question");
            string image = row.Has("image") ? row.String("image") : row.Get("images") switch
            {
                string s => s,
                null => throw row.Error("image", "is missing (and there is no `images`)"),
                var v => throw row.Error("images", $"must be one path string, not {DataRow.Describe(v)}"),
            };
            string key = row.Has("question_id") ? row.Text("question_id") : row.Has("data_id") ? row.Text("data_id") : throw row.Error("question_id", "is missing");
            VqaAnnotation? ann = null;
            annotations?.TryGetValue(key, out ann);
            records[i] = new EvalRecord
            {
                DsName = ctx.DsName,
                Index = i,
                Key = key,
                Question = question,
                Images = [EvalImage.File(ctx.Full(ImagePath(image, ctx.DsName)))],
                Answer = row.Has("answer") ? row.Text("answer") : null,
                Answers = ann?.Answers ?? [],
                QuestionType = ann?.QuestionType,
                Category = ann?.AnswerType,
                Fields = row.ToJson(),
            };
        }
        return records;
    }

    /// <summary>
    /// The original's image path rewrite (§4.1), first rule that applies, on the path string: `test2015` →
    /// `images/mscoco/images/test2015/&lt;basename&gt;`; `val2014` → `images/mscoco/images/val2014/&lt;basename&gt;`; `ocrvqa` →
    /// `images/ocrvqa/&lt;path&gt;`; `gqa` → `images/gqa/images/&lt;basename&gt;`; task `vizwiz_test` →
    /// `images/vizwiz/test/&lt;basename&gt;`; `textvqa` → `images/textvqa/text_vqa/&lt;basename&gt;`; otherwise unchanged. The
    /// result is relative to the data root.
    /// </summary>
    public static string ImagePath(string path, string dsName)
    {
        string basename = path[(path.LastIndexOf('/') + 1)..];
        if (path.Contains("test2015", StringComparison.Ordinal)) return $"images/mscoco/images/test2015/{basename}";
        if (path.Contains("val2014", StringComparison.Ordinal)) return $"images/mscoco/images/val2014/{basename}";
        if (path.Contains("ocrvqa", StringComparison.Ordinal)) return $"images/ocrvqa/{path}";
        if (path.Contains("gqa", StringComparison.Ordinal)) return $"images/gqa/images/{basename}";
        if (dsName == "vizwiz_test") return $"images/vizwiz/test/{basename}";
        if (path.Contains("textvqa", StringComparison.Ordinal)) return $"images/textvqa/text_vqa/{basename}";
        return path;
    }
}
