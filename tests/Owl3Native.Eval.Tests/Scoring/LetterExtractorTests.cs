using Owl3Native.Eval.Scoring;
using Xunit;

namespace Owl3Native.Eval.Tests.Scoring;

/// <summary>spec/EVAL.md §7.4 letter-extractor tables (L1–L5, AI2D, NLVR2).</summary>
public sealed class LetterExtractorTests
{
    private static readonly string[] Fruit = ["apple", "banana", "cherry", "date"];

    [Theory]
    [InlineData("B", "B", "B")]
    [InlineData("The answer is C.", "C", "C")]
    [InlineData("A. apple, B. banana", "B", "B")]
    [InlineData("(D)", "D", "D")]
    [InlineData("Answer: A", "A", "A")]
    [InlineData("E.g., B", "E", "E")]
    [InlineData("C is correct", "X", "X")]
    [InlineData("I think it's b.", "X", "X")]
    [InlineData("banana", "X", "B")]
    public void L1_table(string output, string l1, string mmbench)
    {
        Assert.Equal(l1, LetterExtractors.RegexEtoA(output));
        Assert.Equal(mmbench, LetterExtractors.RegexEtoA(output, Fruit));
    }

    [Fact]
    public void L1_bare_letter_only_matches_after_the_appended_period()
    {
        Assert.Null(LetterExtractors.ScanLetter("B"));
        Assert.Equal('B', LetterExtractors.ScanLetter("B."));
    }

    [Theory]
    [InlineData("选A.", null)]       // CJK letters are word characters: no \b before A
    [InlineData("选 A.", 'A')]
    [InlineData("x_B)", null)]       // underscore is a word character
    [InlineData("²B.", null)]        // Python's \w includes other numbers (No)
    [InlineData("\u0301B.", 'B')]    // a combining mark is not a word character in Python (it is in .NET's \w)
    [InlineData("-C:", 'C')]
    [InlineData("𝐱B.", null)]        // a letter outside the BMP (surrogate pair) before B
    public void L1_word_boundary_is_pythons(string text, char? expected) => Assert.Equal(expected, LetterExtractors.ScanLetter(text));

    [Fact]
    public void Mmbench_fallback_empty_answer_is_A_originally_and_X_officially()
    {
        Assert.Equal("A", LetterExtractors.RegexEtoA("", Fruit));
        Assert.Equal("X", LetterExtractors.RegexEtoA("", Fruit, ScoreProtocol.Official));
        Assert.Equal("B", LetterExtractors.RegexEtoA("the cherry", ["cherry pie", "the cherry"]));
        Assert.Equal("A", LetterExtractors.RegexEtoA("Cherry", ["cherry pie", "the cherry"])); // the first option that matches wins
    }

    [Theory]
    [InlineData("The best answer is B.", "B", "B")]
    [InlineData("The correct option is C", "C", "C")]
    [InlineData("(D) a man", "D", "D")]
    [InlineData("Based on the video, C", "B", "B")]
    [InlineData("I cannot determine", "A", "")]
    public void L2_video_mme(string output, string original, string official)
    {
        Assert.Equal(original, LetterExtractors.VideoMme(output));
        Assert.Equal(official, LetterExtractors.VideoMme(output, ScoreProtocol.Official));
    }

    [Fact]
    public void L2_original_deletes_answer_prefix_and_official_does_not()
    {
        Assert.Equal("C", LetterExtractors.VideoMme("Answer: C"));
        Assert.Equal("A", LetterExtractors.VideoMme("Answer: C", ScoreProtocol.Official)); // the 'A' of "Answer:"
    }

    [Theory]
    [InlineData("C. He is running", "C", true)]
    [InlineData("The answer is C", "C", false)]
    [InlineData("", "C", false)]
    public void L3_first_char(string output, string gt, bool ok) => Assert.Equal(ok, LetterExtractors.FirstChar(output) == gt.ToLowerInvariant());

    [Fact]
    public void L3_leading_space_takes_the_first_non_space_character()
    {
        Assert.Equal("c", LetterExtractors.FirstChar("  C. run"));
        Assert.Equal("x", LetterExtractors.FirstChar(""));
        Assert.Equal("x", LetterExtractors.FirstChar("   "));
    }

    [Theory]
    [InlineData("A", true, true)]
    [InlineData("A. a red ball", true, true)]
    [InlineData("", true, true)]
    [InlineData("B. a red ball", true, false)]
    [InlineData("a dog", true, true)]
    [InlineData("(A)", false, false)]
    [InlineData("The answer is A", false, false)]
    public void L4_option_or_content(string output, bool original, bool official)
    {
        Assert.Equal(original, LetterExtractors.OptionOrContent(output, "A. a red ball"));
        Assert.Equal(official, LetterExtractors.OptionOrContent(output, "A. a red ball", ScoreProtocol.Official));
    }

    [Fact]
    public void L4_official_second_branch_is_gt_option_inside_pred_option()
    {
        Assert.True(LetterExtractors.OptionOrContent("(A.)", "A. x", ScoreProtocol.Official));
        Assert.False(LetterExtractors.OptionOrContent("(A.)", "A. x"));
    }

    [Fact]
    public void L4_ground_truth_without_content_does_not_crash() => Assert.True(LetterExtractors.OptionOrContent("A", "A."));

    [Theory]
    [InlineData("(B)", "B", true)]
    [InlineData("Answer: C", "C", true)]
    [InlineData("B. The second image", "B", false)]
    [InlineData("b.", "B", true)]
    [InlineData("a: b: x", "B", true)]     // the last single letter a-h wins
    [InlineData("i: x", "I", false)]       // only a-h count
    public void L5_interleave(string output, string gt, bool ok)
    {
        Assert.Equal(ok, LetterExtractors.InterleaveChoice(output, gt));
        Assert.Equal(ok, LetterExtractors.InterleaveChoice(output, gt, normalizePasses: 1));
    }

    [Theory]
    [InlineData("B", true)]
    [InlineData("b", false)]
    [InlineData("(B)", false)]
    [InlineData("B. 42", true)]
    public void Ai2d_first_character(string output, bool ok)
    {
        var preds = new[] { new ScoredAnswer("0", 0, output) };
        var gt = new[] { new AnswerGroundTruth("0", "1") };
        Assert.Equal(ok ? 100.0 : 0.0, Ai2dScorer.Score("ai2d", preds, gt).Metrics["Accuracy"]!.GetValue<double>());
    }

    [Theory]
    [InlineData("Yes.", "True", true)]
    [InlineData("no, because the left image has one dog", "False", true)]
    [InlineData("True", "True", false)]
    [InlineData("yes", "False", false)]
    public void Nlvr2_cut_and_lower(string output, string answer, bool ok) =>
        Assert.Equal(ok, Nlvr2Scorer.Prediction(output) == Nlvr2Scorer.GroundTruth(answer));
}
