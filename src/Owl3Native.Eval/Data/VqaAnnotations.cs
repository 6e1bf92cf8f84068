using System.Text.Json;

namespace Owl3Native.Eval.Data;

/// <summary>One question of a VQA annotation file (`annotations[]`).</summary>
/// <param name="QuestionId">`question_id` as text.</param>
/// <param name="QuestionType">`question_type`.</param>
/// <param name="AnswerType">`answer_type`.</param>
/// <param name="Answers">`answers[].answer` in file order (10 for VQA-format sets).</param>
public sealed record VqaAnnotation(string QuestionId, string? QuestionType, string? AnswerType, IReadOnlyList<string> Answers);

/// <summary>The official VQA annotation and question files (OK-VQA, TextVQA; spec/EVAL.md §4.2).</summary>
public static class VqaAnnotations
{
    /// <summary>The questions file's top-level keys the original's VQA API requires (§4.2).</summary>
    public static IReadOnlyList<string> RequiredQuestionKeys { get; } = ["info", "task_type", "data_type", "data_subtype", "license", "questions"];

    /// <summary>Reads an annotations file (`{annotations: [{question_id, question_type, answer_type, answers: [{answer, …}]}]}`), keyed by question id text.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DatasetFormatException">The file lacks `annotations` or an entry is malformed.</exception>
    public static IReadOnlyDictionary<string, VqaAnnotation> Read(string path)
    {
        using var doc = JsonRows.ReadDocument(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("annotations", out var list) || list.ValueKind != JsonValueKind.Array)
            throw new DatasetFormatException(path, "expected an object with an `annotations` list");
        var result = new Dictionary<string, VqaAnnotation>(StringComparer.Ordinal);
        int i = 0;
        foreach (var e in list.EnumerateArray())
        {
            var row = new DataRow(RowValues.FromJsonObject(e), path, $"annotation {i++}");
            string qid = row.Text("question_id");
            var answers = row.List("answers").Select((a, k) => a is IReadOnlyDictionary<string, object?> m && m.GetValueOrDefault("answer") is { } v
                ? PyText.Str(v)
                : throw row.Error("answers", $"item {k} has no `answer`")).ToArray();
            result[qid] = new VqaAnnotation(qid, row.StringOrNull("question_type"), row.StringOrNull("answer_type"), answers);
        }
        return result;
    }

    /// <summary>Reads a questions file and checks the keys the VQA API needs; returns question id text → question.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DatasetFormatException">A required top-level key is missing or a question is malformed.</exception>
    public static IReadOnlyDictionary<string, string> ReadQuestions(string path)
    {
        using var doc = JsonRows.ReadDocument(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new DatasetFormatException(path, "expected a JSON object");
        foreach (var key in RequiredQuestionKeys)
            if (!doc.RootElement.TryGetProperty(key, out _))
                throw new DatasetFormatException(path, $"missing top-level key `{key}` (the VQA API needs {string.Join(", ", RequiredQuestionKeys)})");
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = 0;
        foreach (var e in doc.RootElement.GetProperty("questions").EnumerateArray())
        {
            var row = new DataRow(RowValues.FromJsonObject(e), path, $"question {i++}");
            result[row.Text("question_id")] = row.String("question");
        }
        return result;
    }
}
