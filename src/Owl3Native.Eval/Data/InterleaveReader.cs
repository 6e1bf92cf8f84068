namespace Owl3Native.Eval.Data;

/// <summary>
/// LLaVA-NeXT-Interleave-Bench (spec/EVAL.md §4.12): `multi_image_{out_domain|in_domain}.json`, a list of `{sample_id,
/// image: [paths], conversations: [{from: human, value}, {from: gpt, value}], metadata: {dataset, question_type}}`;
/// `blink` = the out-domain records whose `metadata.dataset` is `BLINK` (renumbered from 0). Images under
/// `eval_images_fix/`. Question = the first turn's value (with `&lt;image&gt;` placeholders); Answer = the second turn's;
/// Category = `metadata.dataset`; QuestionType = `metadata.question_type`; Key = `sample_id`.
/// </summary>
internal static class InterleaveReader
{
    public static IReadOnlyList<EvalRecord> Read(ReaderContext ctx)
    {
        string file = ctx.NeedFile(ctx.Spec.Sources[0], "records file");
        var records = new List<EvalRecord>();
        foreach (var row in JsonRows.Read(file))
        {
            var meta = row.Map("metadata");
            string dataset = meta.GetValueOrDefault("dataset") as string ?? throw row.Error("metadata", "has no `dataset`");
            if (ctx.DsName == "blink" && dataset != "BLINK") continue;
            var turns = row.List("conversations");
            if (turns.Count < 2 || turns[0] is not IReadOnlyDictionary<string, object?> human || turns[1] is not IReadOnlyDictionary<string, object?> gpt
                || human.GetValueOrDefault("value") is not string question || gpt.GetValueOrDefault("value") is not string answer)
                throw row.Error("conversations", "must hold a human turn and a gpt turn with string `value`s");
            var images = row.Get("image") switch
            {
                string s => [s],
                _ => row.StringList("image"),
            };
            records.Add(new EvalRecord
            {
                DsName = ctx.DsName,
                Index = records.Count,
                Key = row.Text("sample_id"),
                Question = question,
                Images = images.Select(p => EvalImage.File(ctx.Media(p))).ToArray(),
                Answer = answer,
                Category = dataset,
                QuestionType = meta.GetValueOrDefault("question_type") as string,
                Fields = row.ToJson(),
            });
        }
        return records;
    }
}
