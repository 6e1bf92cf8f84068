using Owl3Native.Processing.Text;
using Xunit;

namespace Owl3Native.Tests.Processing.Text;

/// <summary>The managed NFC against Python's <c>unicodedata.normalize("NFC", s)</c> (expected strings computed there).</summary>
public sealed class NfcTests
{
    [Theory]
    [InlineData("e\u0301", "\u00E9")]
    [InlineData("\u212B", "\u00C5")]                              // singleton decomposition (Angstrom sign)
    [InlineData("\u2126", "\u03A9")]
    [InlineData("A\u030A", "\u00C5")]
    [InlineData("\u1E9B\u0323", "\u1E9B\u0323")]
    [InlineData("q\u0307\u0323", "q\u0323\u0307")]                // canonical reordering
    [InlineData("\u1100\u1161\u11A8", "\uAC01")]                  // Hangul L V T
    [InlineData("\uAC00\u11A8", "\uAC01")]                        // Hangul LV + T
    [InlineData("a\u0328\u0301", "\u0105\u0301")]
    [InlineData("\u0344", "\u0308\u0301")]                        // non-starter decomposition
    [InlineData("\u0958", "\u0915\u093C")]                        // composition exclusion
    [InlineData("\uF900", "\u8C48")]                              // CJK compatibility ideograph
    [InlineData("a\u0301\u0300", "\u00E1\u0300")]                 // second mark blocked by the first (same class)
    [InlineData("A\u0300\u0316", "\u00C0\u0316")]                 // reorder, then compose past a lower class
    [InlineData("\U000110A5\U000110BA", "\U000110AB")]            // supplementary-plane composition (Kaithi)
    [InlineData("\U0001D15E", "\U0001D157\U0001D165")]            // excluded supplementary composite
    [InlineData("x\u0301\u0301", "x\u0301\u0301")]
    [InlineData("\u1100\u1161x", "\uAC00x")]
    [InlineData("\u00C5\u0301", "\u01FA")]                        // composed starter takes another mark
    [InlineData("\u0301e", "\u0301e")]                            // leading mark without a starter
    [InlineData("Ka\u0308se \u4E2D\u6587 e\u0301t\u00E9", "K\u00E4se \u4E2D\u6587 \u00E9t\u00E9")]
    [InlineData("\u0627\u0653", "\u0622")]
    [InlineData("\u05D0\u05B7\u05BC", "\u05D0\u05B7\u05BC")]
    [InlineData("\uD800\u0301", "\uD800\u0301")]                  // a lone surrogate passes through
    public void Normalize_matches_python(string input, string expected) => Assert.Equal(expected, Nfc.Normalize(input));

    [Fact]
    public void Text_that_is_already_nfc_is_returned_as_is()
    {
        const string text = "Hello, 世界! 😀 Käse";
        Assert.Same(text, Nfc.Normalize(text));
    }

    [Fact]
    public void Tables_are_from_a_recent_unicode_version()
    {
        Assert.True(Version.Parse(NfcData.UnicodeVersion) >= new Version(14, 0), NfcData.UnicodeVersion);
        Assert.Equal(230, Nfc.CombiningClass(0x301));
        Assert.Equal(0, Nfc.CombiningClass('a'));
        Assert.Equal(9, Nfc.CombiningClass(0x94D));
    }
}
