using Owl3Native.Eval.Plans;

namespace Owl3Native.Eval.Data;

/// <summary>
/// The benchmarks read from Hugging Face snapshot folders (spec/EVAL.md §4.9 AI2D, §4.10 NLVR2, §4.11 Q-Bench2, §4.14
/// NExT-QA, §4.16 Video-MME). Image columns may be HF `Image` objects `{bytes, path}` (bytes kept encoded), encoded
/// bytes, or a path string; paths are resolved under the snapshot folder.
/// </summary>
internal static class HfBenchReaders
{
    private const string NotApplicable = "N/A";

    public static IReadOnlyList<EvalRecord> Read(ReaderContext ctx)
    {
        string folder = ctx.NeedFolder(ctx.Spec.Sources[0], "HF dataset snapshot folder");
        var rows = HfSnapshot.ReadRows(folder, ctx.Spec.HfConfig, ctx.Spec.HfSplit!);
        var records = new EvalRecord[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            records[i] = ctx.Task.Type switch
            {
                TaskTypes.Ai2dBench => Ai2d(ctx, row, i, folder),
                TaskTypes.Nlvr2Bench => Nlvr2(ctx, row, i, folder),
                TaskTypes.QbenchTask => QBench2(ctx, row, i, folder),
                TaskTypes.NextQaTask => NextQa(ctx, row, i),
                TaskTypes.VideoMmeBench => VideoMme(ctx, row, i),
                var t => throw new NotSupportedException($"{t} is not read from an HF snapshot"),
            };
        }
        return records;
    }

    /// <summary>AI2D: `question`, `options` (4 strings), `answer` ("0"–"3"), `image`; Answer = letter (digit with use_number).</summary>
    private static EvalRecord Ai2d(ReaderContext ctx, DataRow row, int i, string folder)
    {
        long answer = row.Integer("answer");
        return Base(ctx, row, i) with
        {
            Question = row.String("question"),
            Images = [Image(row, "image", folder)],
            Options = row.StringList("options"),
            Answer = ctx.Task.UseNumber ? answer.ToString(System.Globalization.CultureInfo.InvariantCulture) : PyText.Letter((int)answer),
        };
    }

    /// <summary>NLVR2: `left_image`, `right_image`, `question` (the statement), `answer` ('True'/'False'); Answer = `no` iff 'False'.</summary>
    private static EvalRecord Nlvr2(ReaderContext ctx, DataRow row, int i, string folder) => Base(ctx, row, i) with
    {
        Question = row.String("question"),
        Images = [Image(row, "left_image", folder), Image(row, "right_image", folder)],
        Answer = row.Text("answer") == "False" ? "no" : "yes",
    };

    /// <summary>
    /// Q-Bench2: `image1`, `image2`, `question`, `option0..3` (`N/A` or null = absent), `correct_choice` (A–D),
    /// `question_type`, `question_concern`. Options = present options; Answer = the letter of the first option whose text
    /// equals the option `correct_choice` names.
    /// </summary>
    private static EvalRecord QBench2(ReaderContext ctx, DataRow row, int i, string folder)
    {
        var all = Enumerable.Range(0, 4).Select(k => row.Has($"option{k}") ? row.Text($"option{k}") : NotApplicable).ToArray();
        var choices = all.Where(o => o != NotApplicable).ToList();
        string correct = row.String("correct_choice").Trim();
        int named = correct.Length == 1 ? correct[0] - 'A' : -1;
        if (named is < 0 or > 3 || all[named] == NotApplicable)
            throw row.Error("correct_choice", $"`{correct}` does not name a present option");
        int gt = choices.IndexOf(all[named]);
        return Base(ctx, row, i) with
        {
            Question = row.String("question"),
            Images = [Image(row, "image1", folder), Image(row, "image2", folder)],
            Options = choices,
            Answer = PyText.Letter(gt),
            QuestionType = row.Has("question_type") ? row.Text("question_type") : null,
            Category = row.Has("question_concern") ? row.Text("question_concern") : null,
        };
    }

    /// <summary>NExT-QA (config MC): `video`, `qid`, `type`, `question`, `a0..a9`, `answer` (0–4); Key `{video}_{qid}`; video `{video}.mp4`.</summary>
    private static EvalRecord NextQa(ReaderContext ctx, DataRow row, int i)
    {
        string video = row.Text("video");
        var options = new List<string>();
        for (int k = 0; k < 10 && row.Values.ContainsKey($"a{k}"); k++) options.Add(row.Text($"a{k}"));
        return Base(ctx, row, i) with
        {
            Key = $"{video}_{row.Text("qid")}",
            Question = row.String("question"),
            Videos = [new EvalVideo(ctx.Media($"{video}.mp4"), ctx.Task.NumFrames!.Value)],
            Options = options,
            Answer = PyText.Letter((int)row.Integer("answer")),
            QuestionType = row.Text("type"),
        };
    }

    /// <summary>Video-MME: `videoID`, `question_id`, `duration`, `task_type`, `question`, `options` (`A. …`), `answer` (letter).</summary>
    private static EvalRecord VideoMme(ReaderContext ctx, DataRow row, int i) => Base(ctx, row, i) with
    {
        Key = row.Text("question_id"),
        Question = row.String("question"),
        Videos = [new EvalVideo(ctx.Media($"{row.Text("videoID")}.mp4"), ctx.Task.NumFrames!.Value)],
        Options = row.StringList("options"),
        Answer = row.String("answer"),
        Category = row.StringOrNull("duration"),
        QuestionType = row.StringOrNull("task_type"),
    };

    private static EvalRecord Base(ReaderContext ctx, DataRow row, int i) => new()
    {
        DsName = ctx.DsName,
        Index = i,
        Key = i.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Fields = row.ToJson(),
    };

    /// <summary>An image cell: `{bytes, path}` (bytes preferred), raw bytes, or a path relative to <paramref name="folder"/>.</summary>
    internal static EvalImage Image(DataRow row, string column, string folder)
    {
        string name = $"{row.File}#{row.Where} {column}";
        return row.Get(column) switch
        {
            byte[] b => EvalImage.Embedded(b, name),
            LazyBytes l => EvalImage.Embedded(l.Load, name),
            IReadOnlyDictionary<string, object?> m when m.GetValueOrDefault("bytes") is byte[] b => EvalImage.Embedded(b, name),
            IReadOnlyDictionary<string, object?> m when m.GetValueOrDefault("bytes") is LazyBytes l => EvalImage.Embedded(l.Load, name),
            IReadOnlyDictionary<string, object?> m when m.GetValueOrDefault("path") is string p => EvalImage.File(Path.GetFullPath(Path.Combine(folder, p))),
            string p => EvalImage.File(Path.GetFullPath(Path.Combine(folder, p))),
            null => throw row.Error(column, "is missing"),
            var v => throw row.Error(column, $"must be an image ({{bytes, path}}, bytes or a path), not {DataRow.Describe(v)}"),
        };
    }
}
