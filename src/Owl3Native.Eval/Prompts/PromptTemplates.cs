namespace Owl3Native.Eval.Prompts;

/// <summary>
/// The fixed sentences of the original's prompts, character for character (spec/EVAL.md §3.2, §4). The multiple-choice
/// instruction uses U+2019 (’), which tokenises differently from an ASCII apostrophe; the only ASCII variant is the
/// SciVerse replacement of the Interleave task.
/// </summary>
public static class PromptTemplates
{
    /// <summary>The image placeholder.</summary>
    public const string Image = "<|image|>";

    /// <summary>The video placeholder (expanded to one <see cref="Image"/> per frame before the processor runs).</summary>
    public const string Video = "<|video|>";

    /// <summary>The multiple-choice instruction, with U+2019.</summary>
    public const string LetterInstruction = "Answer with the option\u2019s letter from the given choices directly.";

    /// <summary>AI2D with `use_number`: the instruction naming the option's number (U+2019).</summary>
    public const string NumberInstruction = "Answer with the option\u2019s number from the given choices directly.";

    /// <summary>The VQA instruction (§4.1).</summary>
    public const string VqaInstruction = "Answer the question using a single word or phrase.";

    /// <summary>VizWiz's extra sentence before <see cref="VqaInstruction"/> (ASCII quotes, §4.4).</summary>
    public const string VizWizInstruction = "When the provided information is insufficient, respond with 'Unanswerable'.";

    /// <summary>NLVR2's closing line (§4.10).</summary>
    public const string Nlvr2Instruction = "yes or no? Answer the question using a single word.";

    /// <summary>The ASCII sentence SciVerse questions carry, replaced by <see cref="SciVerseReplacement"/> (§4.12).</summary>
    public const string SciVerseAsciiInstruction = "Answer with the option's letter from the given choices directly.";

    /// <summary>What replaces <see cref="SciVerseAsciiInstruction"/> in SciVerse questions (ASCII apostrophe kept).</summary>
    public const string SciVerseReplacement =
        "\nPlease select the correct paired scientific diagram from four given images. Answer with the option's letter from the given choices directly.";

    /// <summary>Ordinal prefixes BLINK uses for its images (a fifth image is an error, §4.12).</summary>
    public static IReadOnlyList<string> BlinkOrdinals { get; } = ["first", "second", "third", "fourth"];

    /// <summary>`A. o0\nB. o1\n…` (or `0. o0\n…` with <paramref name="numbers"/>): options joined by newlines.</summary>
    public static string Options(IReadOnlyList<string> options, bool numbers = false) =>
        string.Join("\n", options.Select((o, i) => $"{(numbers ? i.ToString(System.Globalization.CultureInfo.InvariantCulture) : ((char)('A' + i)).ToString())}. {o}"));

    /// <summary>
    /// Replaces every <see cref="Video"/> by <see cref="Image"/> repeated <paramref name="frames"/> times, with nothing
    /// around the run (the original's expansion, spec/EVAL.md §1.3 step 2, §9 #19).
    /// </summary>
    public static string ExpandVideos(string text, int frames)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        return text.Replace(Video, string.Concat(Enumerable.Repeat(Image, frames)), StringComparison.Ordinal);
    }

    /// <summary>Occurrences of <paramref name="marker"/> in <paramref name="text"/>.</summary>
    public static int Count(string text, string marker)
    {
        int n = 0;
        for (int at = text.IndexOf(marker, StringComparison.Ordinal); at >= 0; at = text.IndexOf(marker, at + marker.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}
