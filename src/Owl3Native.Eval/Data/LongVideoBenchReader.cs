namespace Owl3Native.Eval.Data;

/// <summary>
/// LongVideoBench (spec/EVAL.md §4.17): `lvb_val.json`, a list of `{video_path, duration, question, candidates,
/// correct_choice, id}`; video `videos/{video_path}` with bound `[0, duration]` (start 0 → whole-video sampling).
/// Answer = `{letter}. {candidate}` of `correct_choice`; Options = `candidates`; Key = `id`.
/// </summary>
internal static class LongVideoBenchReader
{
    public static IReadOnlyList<EvalRecord> Read(ReaderContext ctx)
    {
        string file = ctx.NeedFile(ctx.Spec.Sources[0], "records file");
        var rows = JsonRows.Read(file);
        var records = new EvalRecord[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var candidates = row.StringList("candidates");
            int correct = (int)row.Integer("correct_choice");
            if (correct < 0 || correct >= candidates.Count)
                throw row.Error("correct_choice", $"{correct} is outside the {candidates.Count} candidates");
            records[i] = new EvalRecord
            {
                DsName = ctx.DsName,
                Index = i,
                Key = row.Text("id"),
                Question = row.String("question"),
                Videos = [new EvalVideo(ctx.Media(row.String("video_path")), ctx.Task.NumFrames!.Value, new VideoBound(0, row.Number("duration")))],
                Options = candidates,
                Answer = $"{PyText.Letter(correct)}. {candidates[correct]}",
                Fields = row.ToJson(),
            };
        }
        return records;
    }
}
