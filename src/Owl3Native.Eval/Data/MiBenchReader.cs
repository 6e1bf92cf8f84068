using System.Globalization;

namespace Owl3Native.Eval.Data;

/// <summary>
/// MI-Bench (spec/EVAL.md §4.13; not in the shipped plan, path a port choice): records `{id, task, question, options,
/// answer, image: [paths]}` from both files in order, each expanded into len(options) copies with the options rotated
/// left k times (copy 0 = the original order). `answer` is read as an option letter when it is one capital letter naming
/// an option, else as the option text (inferred, the files were not available); Answer = the correct option's letter in
/// that copy; Key = `{id}_{k}`; Category = `task`.
/// </summary>
internal static class MiBenchReader
{
    public static IReadOnlyList<EvalRecord> Read(ReaderContext ctx)
    {
        var records = new List<EvalRecord>();
        foreach (var source in ctx.Spec.Sources)
        {
            foreach (var row in JsonRows.Read(ctx.NeedFile(source, "records file")))
            {
                var options = row.StringList("options");
                string answer = row.Text("answer");
                string correct = answer.Length == 1 && answer[0] - 'A' is var n && n >= 0 && n < options.Count ? options[n] : answer;
                if (!options.Contains(correct)) throw row.Error("answer", $"`{answer}` is neither an option letter nor an option");
                var images = row.Get("image") is string one ? [one] : row.StringList("image");
                for (int k = 0; k < options.Count; k++)
                {
                    var rotated = options.Skip(k).Concat(options.Take(k)).ToArray();
                    var fields = row.ToJson();
                    fields["copy"] = k;
                    fields["source_file"] = Path.GetFileNameWithoutExtension(source); // the scorer's top category

                    records.Add(new EvalRecord
                    {
                        DsName = ctx.DsName,
                        Index = records.Count,
                        Key = $"{row.Text("id")}_{k.ToString(CultureInfo.InvariantCulture)}",
                        Question = row.String("question"),
                        Images = images.Select(p => EvalImage.File(ctx.Media(p))).ToArray(),
                        Options = rotated,
                        Answer = PyText.Letter(Array.IndexOf(rotated, correct)),
                        Category = row.StringOrNull("task"),
                        Fields = fields,
                    });
                }
            }
        }
        return records;
    }
}
