namespace Owl3Native.Eval.Scoring;

// Ground-truth records the scorers take. Each documents which dataset column fills each field (spec/EVAL.md §4) and
// which column is the key a predictions line's "key" should carry. Values are passed as read: the scorers apply the
// reference's own mapping (e.g. AI2D "2" → "C", NLVR2 'False' → "no").

/// <summary>
/// OK-VQA / TextVQA (§4.2, §4.3), from the VQA-format annotation file (<c>annotations[]</c>).
/// </summary>
/// <param name="Key"><c>question_id</c> as a decimal string (the predictions key).</param>
/// <param name="Answers">The <c>answers[].answer</c> strings, in file order (10 in practice; at least one).</param>
/// <param name="QuestionType"><c>question_type</c> (keys of <c>perQuestionType</c>).</param>
/// <param name="AnswerType"><c>answer_type</c> (keys of <c>perAnswerType</c>).</param>
public sealed record VqaGroundTruth(string Key, IReadOnlyList<string> Answers, string QuestionType, string AnswerType) : IGroundTruth;

/// <summary>
/// A record whose ground truth is one answer string:
/// GQA (§4.5: <c>Key</c> = <c>question_id</c>, <c>Answer</c> = <c>answer</c>);
/// POPE (§4.6: <c>Key</c> = <c>question_id</c> or <c>data_id</c>, <c>Answer</c> = <c>answer</c>, <c>yes</c>/<c>no</c>);
/// NLVR2 (§4.10: <c>Key</c> = the record index as a string unless the loader has a better id, <c>Answer</c> = the
/// <c>answer</c> column, <c>'True'</c>/<c>'False'</c>);
/// AI2D (§4.9: <c>Key</c> = the record index as a string, <c>Answer</c> = the <c>answer</c> column, <c>"0"</c>…<c>"3"</c>);
/// the submission-only VQAv2 / VizWiz / MM-Vet (<c>Key</c> = <c>question_id</c> / <c>question_id</c> (the image file name)
/// / <c>v1_{i}</c>; <c>Answer</c> unused, may be empty).
/// </summary>
/// <param name="Key">See above.</param>
/// <param name="Answer">See above.</param>
public sealed record AnswerGroundTruth(string Key, string Answer) : IGroundTruth;

/// <summary>Q-Bench2 (§4.11), from the HF <c>dev</c> split.</summary>
/// <param name="Key"><c>id</c> (or the record index as a string).</param>
/// <param name="Options"><c>option0</c>…<c>option3</c> as read, <c>'N/A'</c> included (the scorer drops them).</param>
/// <param name="CorrectChoice"><c>correct_choice</c>, a letter indexing the options that remain after dropping <c>'N/A'</c>.</param>
/// <param name="QuestionType"><c>question_type</c> (0 Yes/No, 1 What, 2 How); optional, only for the extra breakdown.</param>
/// <param name="QuestionConcern"><c>question_concern</c> (0 Distortion, 1 Other, 2 IC-Distortion, 3 IC-Other); optional, likewise.</param>
public sealed record QBench2GroundTruth(string Key, IReadOnlyList<string> Options, string CorrectChoice, int? QuestionType = null, int? QuestionConcern = null) : IGroundTruth;

/// <summary>NExT-QA multiple choice (§4.14), HF <c>lmms-lab/NExTQA</c> config <c>MC</c>, split <c>test</c>.</summary>
/// <param name="Video"><c>video</c>.</param>
/// <param name="Qid"><c>qid</c>.</param>
/// <param name="Type"><c>type</c>: CW, CH, TN, TP, TC, DC, DL or DO.</param>
/// <param name="Answer"><c>answer</c>, 0–4.</param>
public sealed record NextQaGroundTruth(string Video, string Qid, string Type, int Answer) : IGroundTruth
{
    /// <summary><c>"{video}_{qid}"</c>, the reference's <c>qns_id</c>.</summary>
    public string Key => $"{Video}_{Qid}";
}

/// <summary>MVBench (§4.15), one row of <c>json/&lt;task&gt;.json</c>.</summary>
/// <param name="Key">The record index in the concatenated 20-task set (as a string).</param>
/// <param name="Task">The config name (<c>action_sequence</c>, …), the reference's <c>category</c>.</param>
/// <param name="Candidates"><c>candidates</c>.</param>
/// <param name="Answer"><c>answer</c> (the text of the right candidate).</param>
public sealed record MvBenchGroundTruth(string Key, string Task, IReadOnlyList<string> Candidates, string Answer) : IGroundTruth;

/// <summary>Video-MME (§4.16), HF <c>lmms-lab/Video-MME</c> split <c>test</c>.</summary>
/// <param name="Key"><c>question_id</c>.</param>
/// <param name="Duration"><c>duration</c>: short, medium or long.</param>
/// <param name="Domain"><c>domain</c> (one of the 6 domains).</param>
/// <param name="SubCategory"><c>sub_category</c> (one of the 30).</param>
/// <param name="TaskType"><c>task_type</c> (one of the 12).</param>
/// <param name="Answer"><c>answer</c>, a letter A–D.</param>
public sealed record VideoMmeGroundTruth(string Key, string Duration, string Domain, string SubCategory, string TaskType, string Answer) : IGroundTruth;

/// <summary>LongVideoBench (§4.17), one entry of <c>lvb_val.json</c>.</summary>
/// <param name="Key"><c>id</c>.</param>
/// <param name="Candidates"><c>candidates</c>.</param>
/// <param name="CorrectChoice"><c>correct_choice</c> (0-based); <see langword="null"/> when absent (the reference then builds <c>"@. {candidates[0]}"</c>).</param>
/// <param name="DurationGroup"><c>duration_group</c> (15, 60, 600 or 3600 s); optional, only for the extra breakdown.</param>
public sealed record LongVideoBenchGroundTruth(string Key, IReadOnlyList<string> Candidates, int? CorrectChoice, int? DurationGroup = null) : IGroundTruth;

/// <summary>LLaVA-NeXT-Interleave-Bench (§4.12), one record of <c>multi_image_{ds_name}.json</c>.</summary>
/// <param name="Key"><c>sample_id</c>.</param>
/// <param name="Answer"><c>conversations[1].value</c>.</param>
/// <param name="SubTask"><c>metadata.dataset</c> (BLINK, Mantis, …).</param>
/// <param name="QuestionType"><c>metadata.question_type</c>: <c>multi-choice</c> or <c>open-ended</c>.</param>
public sealed record InterleaveGroundTruth(string Key, string Answer, string SubTask, string QuestionType) : IGroundTruth;

/// <summary>
/// MMBench (§4.7), one row of the official TSV (<c>mmbench_{dev,test}_{en,cn}_20231003.tsv</c>). Cells are passed as
/// the raw TSV text; the scorer reproduces pandas' missing-value reading under <see cref="ScoreProtocol.Original"/>.
/// </summary>
/// <param name="Key"><c>index</c> (as written in the TSV).</param>
/// <param name="Image"><c>image</c> (base64 or whatever the TSV holds; only compared for grouping).</param>
/// <param name="Question"><c>question</c>.</param>
/// <param name="Answer"><c>answer</c> (a letter; <see langword="null"/> on test sets).</param>
/// <param name="OptionCells">The cells of columns <c>A</c>, <c>B</c>, <c>C</c>, <c>D</c> (<see langword="null"/> for a column the file lacks).</param>
/// <param name="L2Category"><c>l2-category</c> (<see langword="null"/> when the column is absent).</param>
public sealed record MmBenchGroundTruth(string Key, string? Image, string? Question, string? Answer, IReadOnlyList<string?> OptionCells, string? L2Category) : IGroundTruth;

/// <summary>
/// MI-Bench (§4.13), one of the rotated copies the reference makes of each record.
/// </summary>
/// <param name="Key">A key unique per copy (e.g. <c>"{id}#{copy}"</c>).</param>
/// <param name="Id">The record's <c>id</c> (copies of one record share it).</param>
/// <param name="Category">The record's <c>task</c>.</param>
/// <param name="CategoryTop">The file it came from: <c>multi_image_instruction</c> or <c>multimodal_knowledge_seeking</c>.</param>
/// <param name="AnswerLetter">The letter of <c>answer</c> among this copy's rotated options.</param>
public sealed record MiBenchGroundTruth(string Key, string Id, string Category, string CategoryTop, string AnswerLetter) : IGroundTruth;
