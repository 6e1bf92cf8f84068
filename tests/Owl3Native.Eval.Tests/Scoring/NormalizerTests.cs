using Owl3Native.Eval.Scoring;
using Xunit;

namespace Owl3Native.Eval.Tests.Scoring;

/// <summary>spec/EVAL.md §7.1 normaliser tables, Appendix A, and the Python semantics of §8.</summary>
public sealed class NormalizerTests
{
    [Theory]
    [InlineData("Two dogs.", "2 dogs", "2 dogs")]
    [InlineData("The answer is: a red-white bus!", "answer is: red white bus", "answer is: red white bus")]
    [InlineData("1,000", "1000", "1000")]
    [InlineData("It's 3.5 m.", "it 's 3.5 m", "it's 3.5 m")]
    [InlineData("dont know", "don't know", "don't know")]
    [InlineData("None", "0", "0")]
    [InlineData("Yes, it is.", "yes it is", "yes it is")]
    [InlineData("t-shirt", "t shirt", "t shirt")]
    [InlineData("a/b", "b", "b")]
    [InlineData("e.g. cats", "eg cats", "eg cats")]
    [InlineData("This is a table", "this is table", "this is table")]
    public void Table_7_1_evalai_and_vqa_eval(string input, string n2, string n1)
    {
        Assert.Equal(n2, VqaNormalizer.EvalAi(input));
        Assert.Equal(n1, VqaNormalizer.VqaEval(input));
    }

    [Theory]
    [InlineData("(B)", "b")]
    [InlineData("Answer: C", "answer: c")]
    [InlineData("B. The second image", "b the second image")]
    [InlineData("b.", "b")]
    public void Table_7_1_interleave(string input, string expected) => Assert.Equal(expected, VqaNormalizer.Interleave(input));

    [Theory]
    [InlineData("Left.", "left", "left", true, "left", true)]
    [InlineData("The cup is on the left.", "left", "left", true, "cup is on left", false)]
    [InlineData("Pizza box", "pizza box", "box", false, "pizza box", true)]
    [InlineData("This is a table", "table", "", false, "this is table", false)]
    [InlineData("Cat, black", "cat", "cat", true, "cat black", false)]
    public void Table_7_1_gqa_heuristic_and_evalai(string raw, string gt, string heuristic, bool ok, string n2, bool okN2)
    {
        Assert.Equal(heuristic, GqaHeuristic.Apply(raw));
        Assert.Equal(ok, GqaScorer.ExactMatch(GqaHeuristic.Apply(raw), gt));
        Assert.Equal(n2, VqaNormalizer.EvalAi(raw));
        Assert.Equal(okN2, GqaScorer.ExactMatch(VqaNormalizer.EvalAi(raw), gt));
    }

    [Fact]
    public void Contraction_table_has_the_120_reference_entries()
    {
        Assert.Equal(120, VqaWordTables.Contractions.Count);
        Assert.Equal("somebodyd", VqaWordTables.Contractions["somebody'd"]);
        Assert.Equal("'ow's'at", VqaWordTables.Contractions["'ows'at"]);
        Assert.Equal("y'all'd've", VqaWordTables.Contractions["y'alld've"]);
        Assert.Equal(21, VqaWordTables.Punctuation.Count);
        Assert.Equal("`", VqaWordTables.Punctuation[17]);
    }

    [Theory]
    [InlineData("Im")]
    [InlineData("Ive")]
    [InlineData("Id've")]
    [InlineData("I'dve")]
    public void Capitalised_contraction_keys_never_fire(string token)
    {
        Assert.True(VqaWordTables.Contractions.ContainsKey(token));
        Assert.Equal(token.ToLowerInvariant(), VqaNormalizer.VqaEval(token));
    }

    [Theory]
    [InlineData("somebody'd", "somebodyd")]
    [InlineData("man's hat", "man's hat")]
    [InlineData("youre  right", "you're right")]
    [InlineData("ten  a.m.", "10 am")]
    public void Digit_article_and_contractions(string input, string expected) => Assert.Equal(expected, VqaNormalizer.VqaEval(input));

    [Fact]
    public void Evalai_splits_possessive_s_which_the_vqa_normaliser_keeps()
    {
        Assert.Equal("man 's", VqaNormalizer.EvalAi("man's"));
        Assert.Equal("man's", VqaNormalizer.VqaEval("man's"));
    }

    [Theory]
    [InlineData("a - b", "a  b")]          // '-' next to a space: deleted
    [InlineData("a-b", "a b")]             // otherwise: a space
    [InlineData("3,4 (x)", "34 x")]        // digit-comma-digit anywhere: every mark deleted
    [InlineData("x (y) z", "x y z")]       // " (" seen in the original text: '(' deleted; ')' not adjacent... ") " is: deleted
    [InlineData("v1.2.", "v1.2")]          // a period followed by a digit stays
    [InlineData("a:b'c", "a:b'c")]         // colons and apostrophes untouched
    public void Punctuation_step(string input, string expected) => Assert.Equal(expected, VqaNormalizer.ProcessPunctuation(input));

    [Fact]
    public void Punctuation_step_removes_at_most_32_periods()
    {
        string input = new string('.', 40) + "x";
        Assert.Equal(new string('.', 8) + "x", VqaNormalizer.ProcessPunctuation(input));
    }

    [Fact]
    public void Punctuation_tests_use_the_original_text_not_the_running_result()
    {
        // "(-" : '(' is replaced by a space first, which makes " -" appear in the running text; the '-' rule still looks
        // at the original, where neither "- " nor " -" occurs, so '-' also becomes a space.
        Assert.Equal("x  y", VqaNormalizer.ProcessPunctuation("x(-y"));
    }

    [Fact]
    public void Ground_truth_answers_are_punctuation_processed_only_when_they_differ()
    {
        Assert.Equal(["t-shirt", "t-shirt"], VqaNormalizer.VqaEvalGroundTruth(["t-shirt", "t-shirt"]));
        Assert.Equal(["t shirt", "two dogs"], VqaNormalizer.VqaEvalGroundTruth(["t-shirt", "two dogs"]));
    }

    [Fact]
    public void Interleave_strips_quote_then_paren_sets_once_each()
    {
        Assert.Equal("'b'", VqaNormalizer.Interleave("\"'b'\""));  // '"' becomes a space, so strip("'") sees a space first
        Assert.Equal("b", VqaNormalizer.Interleave(VqaNormalizer.Interleave("\"'b'\""))); // a second pass (the reference's MC path) strips it
        Assert.Equal("x", VqaNormalizer.Interleave("'''x'"));
    }

    [Theory]
    [InlineData("Unanswerable. The image is blurry", "Unanswerable")]
    [InlineData(" no, it is not ", "no")]
    [InlineData("", "")]
    public void Vizwiz_post_process(string raw, string expected) => Assert.Equal(expected, AnswerPostProcess.VizWiz(raw));

    [Theory]
    [InlineData("Yes.", "Yes")]
    [InlineData("Yes, there is a dog.", "Yes")]
    [InlineData(" There is no cat. ", "There is no cat")]
    public void Pope_post_process(string raw, string expected) => Assert.Equal(expected, AnswerPostProcess.Pope(raw));

    [Fact]
    public void Nextqa_empty_answer_becomes_X() => Assert.Equal("X", AnswerPostProcess.NextQa(""));
}
