using System.Globalization;
using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;
using static Owl3Native.Eval.Prompts.PromptTemplates;

namespace Owl3Native.Eval.Prompts;

/// <summary>
/// Builds the user turn of each benchmark exactly as the original does (spec/EVAL.md §4; `\n` is one newline, the
/// multiple-choice instruction ends in U+2019 `’s`). The media list follows placeholder order; the placeholder count is
/// checked against it, so a record whose text and media disagree fails here rather than in the processor.
/// </summary>
public static class EvalPrompts
{
    /// <summary>The prompt of <paramref name="record"/> under <paramref name="task"/>'s template and options.</summary>
    /// <exception cref="EvalPromptException">The record cannot be turned into the task's prompt (placeholder/media mismatch, a fifth BLINK image, a missing field).</exception>
    public static EvalPrompt Build(PlanEntry task, EvalRecord record)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(record);
        var prompt = task.Dataset.Prompt switch
        {
            PromptStyle.Vqa => Vqa(record, task.UseLlavaStyle, vizWiz: false),
            PromptStyle.VizWiz => Vqa(record, task.UseLlavaStyle, vizWiz: true),
            PromptStyle.MmBench => MmBench(record),
            PromptStyle.MmVet => Images(record, $"{Image}\n{Data.PyText.Strip(record.Question)}"),
            PromptStyle.Ai2d => Ai2d(record, task.UseNumber),
            PromptStyle.Nlvr2 => Images(record, $"Left image: {Image} Right image: {Image}\n{record.Question}\n{Nlvr2Instruction}"),
            PromptStyle.QBench2 => Images(record, $"Image 1: {Image}\nImage 2: {Image}\nQuestion: {record.Question}\nOptions: {Options(record.Options)}\n{LetterInstruction}"),
            PromptStyle.Interleave => Interleave(record, task.ImageIndex),
            PromptStyle.MiBench => Images(record, $"{record.Question.Replace("<image>", Image, StringComparison.Ordinal)}\nOptions: {Options(record.Options)}\n{LetterInstruction}"),
            PromptStyle.NextQa => Videos(record, $"{Video}\nQuestion: {record.Question}\nOptions: {Options(record.Options)}\n{LetterInstruction}"),
            PromptStyle.MvBench => MvBench(record),
            PromptStyle.VideoMme => Videos(record, $"{Video}\nQuestion: {record.Question}\nOptions: {string.Join("\n", record.Options)}\n{LetterInstruction}"),
            PromptStyle.LongVideoBench => Videos(record,
                $"Question: {Video}\n{record.Question.Replace(Video, "", StringComparison.Ordinal)}\nOptions: {Options(record.Options)}\n{LetterInstruction}"),
            var s => throw new NotSupportedException($"no prompt template for {s}"),
        };
        prompt = prompt with
        {
            Cut = task.Cut,
            NumFrames = record.Videos.Count > 0 ? record.Videos[0].NumFrames : null,
            EmptySystemMessage = task.Dataset.Prompt is PromptStyle.Vqa or PromptStyle.VizWiz or PromptStyle.MmBench or PromptStyle.Interleave,
        };
        Check(prompt, record);
        return prompt;
    }

    /// <summary>VQA (§4.1): `&lt;|image|&gt;{question} {instruction}`; LLaVA style puts a newline after the marker and before the instruction.</summary>
    private static EvalPrompt Vqa(EvalRecord r, bool llava, bool vizWiz)
    {
        string instruction = vizWiz ? $"{VizWizInstruction}{(llava ? "\n" : " ")}{VqaInstruction}" : VqaInstruction;
        return Images(r, llava ? $"{Image}\n{r.Question}\n{instruction}" : $"{Image}{r.Question} {instruction}");
    }

    /// <summary>MMBench (§4.7): `&lt;|image|&gt;Context: {hint or N/A}\nQuestion: …\nOptions: A. …\n{instruction}`.</summary>
    private static EvalPrompt MmBench(EvalRecord r)
    {
        string hint = r.Fields["hint"]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? r.Fields["hint"]!.GetValue<string>() : "";
        if (hint.Length == 0) hint = "N/A";
        return Images(r, $"{Image}Context: {hint}\nQuestion: {r.Question}\nOptions: {Options(r.Options)}\n{LetterInstruction}");
    }

    /// <summary>AI2D (§4.9): options on their own lines after `Options:`; numbers and "option’s number" with use_number.</summary>
    private static EvalPrompt Ai2d(EvalRecord r, bool numbers) =>
        Images(r, $"{Image}\nQuestion: {r.Question}\nOptions:\n{Options(r.Options, numbers)}\n{(numbers ? NumberInstruction : LetterInstruction)}");

    /// <summary>
    /// Interleave (§4.12): each `&lt;image&gt;` in turn becomes `Image {k}: &lt;|image|&gt; ` (BLINK: `the first image: &lt;|image|&gt; `…,
    /// at most four); SciVerse swaps its ASCII instruction for the longer one; other multi-choice sets except Mantis,
    /// MathVerse and SciVerse get `\n` + the U+2019 instruction.
    /// </summary>
    private static EvalPrompt Interleave(EvalRecord r, bool imageIndex)
    {
        string text = r.Question;
        string dataset = r.Category ?? "";
        if (imageIndex)
        {
            int k = 0;
            for (int at; (at = text.IndexOf("<image>", StringComparison.Ordinal)) >= 0; k++)
            {
                string label;
                if (dataset == "BLINK")
                {
                    if (k >= BlinkOrdinals.Count)
                        throw new EvalPromptException(r, $"BLINK prompts name at most {BlinkOrdinals.Count} images (`the fourth image`), this one has more");
                    label = $"the {BlinkOrdinals[k]} image: {Image} ";
                }
                else label = $"Image {(k + 1).ToString(CultureInfo.InvariantCulture)}: {Image} ";
                text = string.Concat(text.AsSpan(0, at), label, text.AsSpan(at + "<image>".Length));
            }
        }
        else text = text.Replace("<image>", Image, StringComparison.Ordinal);
        if (dataset == "SciVerse")
            text = text.Replace(SciVerseAsciiInstruction, SciVerseReplacement, StringComparison.Ordinal);
        else if (r.QuestionType == "multi-choice" && dataset is not ("Mantis" or "MathVerse" or "SciVerse"))
            text += "\n" + LetterInstruction;
        return Images(r, text);
    }

    /// <summary>
    /// MVBench (§4.15): `&lt;|video|&gt;\n` + `Question: {q}\nOptions:\nA. c0\nB. c1…` (right-stripped) + `\n{instruction}`;
    /// for frame folders the video marker is the run of `&lt;|image|&gt;` the frames fill.
    /// </summary>
    private static EvalPrompt MvBench(EvalRecord r)
    {
        string options = string.Concat(r.Options.Select((c, i) => $"{(char)('A' + i)}. {c}\n"));
        string question = Data.PyText.RStrip($"Question: {r.Question}\nOptions:\n{options}");
        var video = r.Videos.Count == 1 ? r.Videos[0] : throw new EvalPromptException(r, $"an MVBench record has one video, not {r.Videos.Count}");
        string media = video.IsFrameFolder ? string.Concat(Enumerable.Repeat(Image, video.NumFrames)) : Video;
        return Videos(r, $"{media}\n{question}\n{LetterInstruction}");
    }

    private static EvalPrompt Images(EvalRecord r, string text) => new() { Text = text, Images = r.Images };

    private static EvalPrompt Videos(EvalRecord r, string text) => new() { Text = text, Videos = r.Videos };

    private static void Check(EvalPrompt p, EvalRecord r)
    {
        if (p.Images.Count > 0 && p.Videos.Count > 0)
            throw new EvalPromptException(r, "a record cannot have both images and videos (the original allows videos only without images)");
        int images = PromptTemplates.Count(p.Text, Image), videos = PromptTemplates.Count(p.Text, Video);
        int wantImages = p.Images.Count + p.Videos.Where(v => v.IsFrameFolder).Sum(v => v.NumFrames);
        int wantVideos = p.Videos.Count(v => !v.IsFrameFolder);
        if (images != wantImages || videos != wantVideos)
            throw new EvalPromptException(r, $"the prompt holds {images} {Image} and {videos} {Video} placeholder(s) but the record has {wantImages} image(s) and {wantVideos} video(s)");
        if (p.Videos.Select(v => v.NumFrames).Distinct().Count() > 1)
            throw new EvalPromptException(r, "all videos of a record must yield the same number of frames");
    }
}

/// <summary>A record cannot be turned into its task's prompt; the message names the dataset and record key.</summary>
public sealed class EvalPromptException : Exception
{
    /// <summary>Message: `{dsName} record {index} (key {key}): {message}`.</summary>
    /// <param name="record">The record that could not be prompted (kept in <see cref="Record"/>).</param>
    /// <param name="message">What is wrong with it.</param>
    public EvalPromptException(EvalRecord record, string message)
        : base($"{record?.DsName} record {record?.Index} (key {record?.Key}): {message}")
    {
        Record = record;
    }

    /// <summary>The record.</summary>
    public EvalRecord? Record { get; }
}
