using System.Text;
using System.Text.Json;
using Owl3Native.Processing.Text;
using Xunit;

namespace Owl3Native.Tests.Processing.Text;

/// <summary>The real Qwen2 tokenizer against the 400 strings of ../shared/tokenizer/qwen2/golden.json (golden README §7).</summary>
public sealed class Qwen2TokenizerGoldenTests
{
    public static IEnumerable<object[]> CaseIds() =>
        TextGoldens.TokenizerGolden.GetProperty("cases").EnumerateArray().Select(c => new object[] { c.GetProperty("id").GetString()! });

    private static JsonElement Case(string id) =>
        TextGoldens.TokenizerGolden.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("id").GetString() == id);

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void Encode_and_decode_match_the_original(string id)
    {
        var c = Case(id);
        string text = c.GetProperty("text").GetString()!;
        Assert.Equal(c.GetProperty("utf8_hex").GetString(), Convert.ToHexStringLower(Encoding.UTF8.GetBytes(text)));
        int[] expected = TextGoldens.Ints(c.GetProperty("ids"));

        int[] ids = TextGoldens.Real.Encode(text);

        Assert.Equal(expected, ids);
        Assert.Equal(c.GetProperty("decoded").GetString(), TextGoldens.Real.Decode(expected));
    }

    [Fact]
    public void Corpus_has_every_category_and_the_non_nfc_cases()
    {
        var cases = TextGoldens.TokenizerGolden.GetProperty("cases");
        Assert.Equal(400, cases.GetArrayLength());
        Assert.Equal(10, cases.EnumerateArray().Count(c => c.GetProperty("nfc_changes_input").GetBoolean()));
    }

    [Fact]
    public void Markers_tokenise_as_the_golden_says()
    {
        foreach (var marker in TextGoldens.TokenizerGolden.GetProperty("markers").EnumerateObject())
        {
            Assert.Equal(TextGoldens.Ints(marker.Value.GetProperty("ids")), TextGoldens.Real.Encode(marker.Name));
            Assert.Equal(TextGoldens.Ints(marker.Value.GetProperty("ids_with_leading_space")), TextGoldens.Real.Encode(" " + marker.Name));
            Assert.Equal(TextGoldens.Ints(marker.Value.GetProperty("ids_followed_by_newline")), TextGoldens.Real.Encode(marker.Name + "\n"));
        }
    }

    [Theory]
    [InlineData("<|image|>", new[] { 27, 91, 1805, 91, 29 })]
    [InlineData("<|video|>", new[] { 27, 91, 9986, 91, 29 })]
    [InlineData("<|start_cut|>", new[] { 27, 91, 2468, 41317, 91, 29 })]
    [InlineData("<|end_cut|>", new[] { 27, 91, 408, 41317, 91, 29 })]
    [InlineData("<|start_video_frame|>", new[] { 27, 91, 2468, 19815, 8929, 91, 29 })]
    [InlineData("<|end_video_frame|>", new[] { 27, 91, 408, 19815, 8929, 91, 29 })]
    [InlineData("<|start_cut|>2*3", new[] { 27, 91, 2468, 41317, 91, 29, 17, 9, 18 })]
    [InlineData("<|end_cut|>\n", new[] { 27, 91, 408, 41317, 91, 397 })]
    [InlineData("<|im_start|>system\n<|im_end|>", new[] { 151644, 8948, 198, 151645 })]
    [InlineData("\n<|im_start|>user\n", new[] { 198, 151644, 872, 198 })]
    [InlineData("\n<|im_start|>assistant\n", new[] { 198, 151644, 77091, 198 })]
    [InlineData(" <|image|>", new[] { 82639, 1805, 91, 29 })]
    [InlineData(" <|im_start|>", new[] { 220, 151644 })]
    [InlineData("Hello world", new[] { 9707, 1879 })]
    [InlineData("", new int[0])]
    public void Marker_and_template_pieces_have_the_spec_ids(string text, int[] expected)
    {
        Assert.Equal(expected, TextGoldens.Real.Encode(text));
        Assert.Equal(text, TextGoldens.Real.Decode(expected));
    }

    [Fact]
    public void Special_tokens_and_sizes_of_the_real_tokenizer()
    {
        var tok = TextGoldens.Real;
        Assert.Equal(151_646, tok.VocabularySize);
        Assert.Equal(151643, tok.TokenId("<|endoftext|>"));
        Assert.Equal(151644, tok.TokenId("<|im_start|>"));
        Assert.Equal(151645, tok.TokenId("<|im_end|>"));
        Assert.Equal(198, tok.TokenId("\n"));
        Assert.Equal(3, tok.AddedTokens.Count);
        Assert.Throws<KeyNotFoundException>(() => tok.TokenId("<|image|>"));
        Assert.False(tok.TryGetTokenId("<|image|>", out _));
    }

    [Fact]
    public void Combining_mark_after_a_special_token_is_normalised_before_the_split()
    {
        // golden README: NFC runs over the whole input first, so '>' + U+0338 becomes U+226F and <|im_end|> is no longer matched.
        Assert.Equal([27, 91, 318, 6213, 91, 58994, 107], TextGoldens.Real.Encode("<|im_end|>\u0338"));
    }

    [Fact]
    public void Lone_surrogates_encode_as_the_replacement_character()
    {
        var tok = TextGoldens.Real;
        Assert.Equal(tok.Encode("a\uFFFDb"), tok.Encode("a\uD800b"));
        Assert.Equal(tok.Encode("\uFFFD\uFFFD"), tok.Encode("\uDC00\uD800"));
        Assert.Equal(tok.Encode("x😀"), tok.Encode("x\uD83D\uDE00"));
    }

    [Fact]
    public void Concurrent_encoding_gives_the_sequential_results()
    {
        var texts = TextGoldens.TokenizerGolden.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("text").GetString()!).ToArray();
        var tok = TextGoldens.Real;
        var expected = texts.Select(tok.Encode).ToArray();
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < texts.Length; i++) Assert.Equal(expected[i], tok.Encode(texts[i]));
        });
    }
}
