using Owl3Native.Processing.Text;
using Xunit;

namespace Owl3Native.Tests.Processing.Text;

/// <summary>Token-by-token detokenization: never a broken character, and the pieces add up to the full decode.</summary>
public sealed class StreamingDetokenizerTests
{
    private static (List<string> Pieces, string Joined) Stream(Qwen2Tokenizer tok, IEnumerable<int> ids)
    {
        var detok = new StreamingDetokenizer(tok);
        var pieces = ids.Select(detok.Append).ToList();
        pieces.Add(detok.Flush());
        return (pieces, string.Concat(pieces));
    }

    private static bool IsWellFormed(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            else if (char.IsSurrogate(s[i])) return false;
        }
        return true;
    }

    [Theory]
    [InlineData("😀 Hello 👋🏽 world 👨‍👩‍👧‍👦 🇯🇵🇩🇪")]
    [InlineData("你好，世界！这是一个测试。日本語のテキストも。한국어 텍스트.")]
    [InlineData("Emoji in the middle: 🦉 of CJK 猫头鹰 text and accents: Käse, naïve, Ångström")]
    [InlineData("𝒳𝒴𝒵 𠀀𠀁 \U0001F9D1\u200D\U0001F4BB")]
    public void Pieces_are_whole_characters_and_join_to_the_full_decode(string text)
    {
        var tok = TextGoldens.Real;
        int[] ids = tok.Encode(text);
        var (pieces, joined) = Stream(tok, ids);

        Assert.Equal(tok.Decode(ids), joined);
        Assert.Equal(text, joined);
        Assert.All(pieces, p => Assert.True(IsWellFormed(p) && !p.Contains('\uFFFD'), $"broken piece {p}"));
    }

    [Fact]
    public void Golden_emoji_and_cjk_strings_stream_exactly()
    {
        var tok = TextGoldens.Real;
        int splitCharacters = 0;
        foreach (var c in TextGoldens.TokenizerGolden.GetProperty("cases").EnumerateArray())
        {
            if (c.GetProperty("category").GetString() is not ("emoji" or "cjk" or "scripts")) continue;
            int[] ids = TextGoldens.Ints(c.GetProperty("ids"));
            var (pieces, joined) = Stream(tok, ids);
            string full = tok.Decode(ids);
            Assert.Equal(full, joined);
            if (!full.Contains('\uFFFD')) Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
            splitCharacters += ids.Count(id => tok.Decode([id]).Contains('\uFFFD'));
        }
        Assert.True(splitCharacters > 20, "the corpus should contain characters split across tokens");
    }

    [Fact]
    public void Random_byte_soup_streams_to_the_same_text_as_a_full_decode()
    {
        var tok = TextGoldens.Real;
        var random = new Random(1234);
        for (int trial = 0; trial < 500; trial++)
        {
            // Mostly single-byte tokens (ids 0..255 cover every byte), some multi-byte and special tokens.
            var ids = Enumerable.Range(0, random.Next(1, 24)).Select(_ => random.Next(10) switch
            {
                < 7 => random.Next(256),
                < 9 => random.Next(256, 151_643),
                _ => 151_643 + random.Next(3),
            }).ToArray();
            var (pieces, joined) = Stream(tok, ids);
            Assert.Equal(tok.Decode(ids), joined);
            Assert.All(pieces, p => Assert.True(IsWellFormed(p)));
        }
    }

    [Fact]
    public void Incomplete_character_is_held_back_and_flushed_with_replacement()
    {
        var tok = TextGoldens.Real;
        var detok = new StreamingDetokenizer(tok);
        // A rare character whose 4 UTF-8 bytes span several tokens.
        string rare = new[] { "𓀀", "𠀋", "🫠", "𝒳" }.First(c => tok.Encode(c).Length > 1);
        int[] ids = tok.Encode(rare);
        for (int i = 0; i < ids.Length - 1; i++) Assert.Equal("", detok.Append(ids[i]));
        Assert.Equal(rare, detok.Append(ids[^1]));
        Assert.Equal("", detok.Flush());

        Assert.Equal("", detok.Append(ids[0]));
        Assert.Equal("\uFFFD", detok.Flush());
        Assert.Equal("", detok.Flush());
    }

    [Fact]
    public void Unknown_ids_and_special_tokens_stream_like_decode()
    {
        var tok = TextGoldens.Real;
        var detok = new StreamingDetokenizer(tok);
        Assert.Equal("", detok.Append(151_700));
        Assert.Equal("<|im_end|>", detok.Append(151_645));
    }

    [Theory]
    [InlineData(new byte[] { 0xE4 }, 1)]
    [InlineData(new byte[] { 0xE4, 0xB8 }, 2)]
    [InlineData(new byte[] { 0xE4, 0xB8, 0xAD }, 0)]
    [InlineData(new byte[] { 0xF0, 0x9F, 0xA6 }, 3)]
    [InlineData(new byte[] { 0xF0, 0x80 }, 0)]        // invalid second byte: nothing can complete it
    [InlineData(new byte[] { 0xE0, 0x9F }, 0)]        // overlong
    [InlineData(new byte[] { 0xED, 0xA0 }, 0)]        // surrogate
    [InlineData(new byte[] { 0xF4, 0x90 }, 0)]        // above U+10FFFF
    [InlineData(new byte[] { 0xC0 }, 0)]
    [InlineData(new byte[] { 0x41, 0xC3 }, 1)]
    [InlineData(new byte[] { 0x80 }, 0)]
    public void Incomplete_tail_length(byte[] bytes, int expected) =>
        Assert.Equal(expected, StreamingDetokenizer.IncompleteTailLength(bytes));
}
