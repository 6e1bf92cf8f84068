using Owl3Native.Eval.Scoring;
using Xunit;

namespace Owl3Native.Eval.Tests.Scoring;

/// <summary>The Python semantics of spec/EVAL.md §8 that the scorers depend on.</summary>
public sealed class PythonSemanticsTests
{
    [Theory]
    [InlineData(0.125, 2, 0.12)]      // exact tie: half to even
    [InlineData(0.375, 2, 0.38)]
    [InlineData(2.675, 2, 2.67)]      // 2.67499999… in binary
    [InlineData(58.333333, 2, 58.33)]
    [InlineData(-0.5, 0, -0.0)]
    [InlineData(1.5, 0, 2.0)]
    [InlineData(2.5, 0, 2.0)]
    public void Round_is_pythons(double x, int digits, double expected) => Assert.Equal(expected, Py.Round(x, digits));

    [Theory]
    [InlineData(0.05, 1, "0.1")]      // 0.05000000000000000277…
    [InlineData(0.25, 1, "0.2")]
    [InlineData(-0.04, 1, "-0.0")]
    [InlineData(1e-20, 3, "0.000")]
    [InlineData(123456789.987654321, 4, "123456789.9877")]
    public void Fixed_formatting_is_pythons(double x, int digits, string expected) => Assert.Equal(expected, Py.FormatFixed(x, digits));

    [Theory]
    [InlineData("xxabcxx", "x", "abc")]
    [InlineData("'\"ab\"'", "'\"", "ab")]
    [InlineData(" 'a' ", "'", " 'a' ")]
    public void Strip_chars_is_a_set(string s, string chars, string expected) => Assert.Equal(expected, Py.StripChars(s, chars));

    [Fact]
    public void Split_and_strip_use_python_white_space()
    {
        Assert.Equal(["a", "b"], Py.SplitWhitespace("\u001c a\u00a0\u2003b \u0085"));
        Assert.Equal("a", Py.Strip("\u001f\t a \u3000"));
    }

    [Fact]
    public void Second_piece_mirrors_split_index_1()
    {
        Assert.Equal("", Py.SecondPiece("this is a table", "is "));
        Assert.Equal("on the left", Py.SecondPiece("the cup is on the left", "is "));
        Assert.Throws<ArgumentException>(() => Py.SecondPiece("abc", "is "));
    }

    [Theory]
    [InlineData("ÀÉÎ", "àéî")]
    [InlineData("İ", "i\u0307")]
    [InlineData("ΟΔΟΣ", "οδος")]
    [InlineData("ΣΑ", "σα")]
    [InlineData("Σ", "σ")]
    [InlineData("Α:Σ1", "α:ς1")]          // ':' is case-ignorable, '1' is not cased: final sigma
    [InlineData("ΑΣ.Β", "ασ.β")]          // '.' is skipped and a cased letter follows: not final
    [InlineData("ΑΣ\u0301", "ας\u0301")]  // a combining mark after Σ is skipped
    [InlineData("A'Σ", "a'ς")]
    [InlineData("1Σ", "1σ")]
    public void Lower_is_pythons(string s, string expected) => Assert.Equal(expected, Py.Lower(s));

    [Fact]
    public void Code_point_helpers_treat_surrogate_pairs_as_one_character()
    {
        Assert.Equal("𝐱", Py.FirstCodePoint("𝐱y"));
        Assert.Equal("a𝐱", Py.TruncateCodePoints("a𝐱bc", 2));
        Assert.True(Py.CodePointComparer.Compare("\uffff", "𝐱") < 0);  // ordinal UTF-16 order says the opposite
        Assert.True(string.CompareOrdinal("\uffff", "𝐱") > 0);
    }
}
