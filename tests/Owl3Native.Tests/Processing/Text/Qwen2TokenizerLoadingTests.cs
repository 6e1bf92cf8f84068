using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Tests.Processing.Text;

/// <summary>Folder layouts the loader accepts, and the errors it gives for broken ones.</summary>
public sealed class Qwen2TokenizerLoadingTests
{
    private static string TinyA => SharedData.Golden("tiny-a");

    /// <summary>A copy of tiny-a's tokenizer files that a test may edit.</summary>
    private static TempDirectory CopyOfTinyA()
    {
        var dir = new TempDirectory("owl3-tok");
        foreach (var f in new[] { "vocab.json", "merges.txt", "tokenizer_config.json" })
            File.Copy(Path.Combine(TinyA, f), dir.File(f));
        return dir;
    }

    [Fact]
    public void Tiny_tokenizer_has_every_media_marker_as_one_added_token()
    {
        var tok = TextGoldens.Tiny("tiny-a");
        string[] names = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|image|>", "<|start_cut|>", "<|end_cut|>", "<|video|>", "<|start_video_frame|>", "<|end_video_frame|>"];
        for (int i = 0; i < names.Length; i++)
        {
            Assert.Equal(500 + i, tok.TokenId(names[i]));
            Assert.Equal([500 + i], tok.Encode(names[i]));
            Assert.Equal(names[i], tok.Decode([500 + i]));
        }
        Assert.Equal(296 + 9, tok.VocabularySize);
    }

    [Fact]
    public void Merges_header_line_is_optional()
    {
        using var dir = CopyOfTinyA();
        var lines = File.ReadAllLines(dir.File("merges.txt"));
        Assert.StartsWith("#version", lines[0], StringComparison.Ordinal);
        File.WriteAllLines(dir.File("merges.txt"), lines.Skip(1));
        var withoutHeader = Qwen2Tokenizer.Load(dir.Path);
        const string text = "<|im_start|>system\nDescribe this image. What is in the picture?<|im_end|>";
        Assert.Equal(TextGoldens.Tiny("tiny-a").Encode(text), withoutHeader.Encode(text));
    }

    [Fact]
    public void Merge_lines_starting_with_hash_are_merges_not_comments()
    {
        // The real merges.txt has "# #" (rank 309 → id 565) and "# include" style lines.
        Assert.Equal([565], TextGoldens.Real.Encode("##"));
    }

    [Fact]
    public void Tokenizer_json_alone_is_enough_and_its_added_tokens_count()
    {
        using var dir = new TempDirectory("owl3-tok");
        string vocab = File.ReadAllText(Path.Combine(TinyA, "vocab.json"));
        var merges = File.ReadAllLines(Path.Combine(TinyA, "merges.txt")).Skip(1).Where(l => l.Length > 0)
            .Select(l => "[" + string.Join(",", l.Split(' ').Select(p => $"\"{System.Text.Json.JsonEncodedText.Encode(p)}\"")) + "]");
        dir.Write("tokenizer.json",
            $$$"""{"added_tokens": [{"id": 500, "content": "<|endoftext|>"}, {"id": 503, "content": "<|image|>"}], "model": {"type": "BPE", "vocab": {{{vocab}}}, "merges": [{{{string.Join(",", merges)}}}]}}""");
        var tok = Qwen2Tokenizer.Load(dir.Path);
        const string text = "<|image|>Describe this image.<|endoftext|>";
        Assert.Equal(TextGoldens.Tiny("tiny-a").Encode(text), tok.Encode(text));
        Assert.Equal(296 + 2, tok.VocabularySize);
    }

    [Fact]
    public void Tokenizer_json_added_tokens_join_those_of_the_config()
    {
        using var dir = CopyOfTinyA();
        dir.Write("tokenizer.json", """{"added_tokens": [{"id": 509, "content": "<extra>"}]}""");
        var tok = Qwen2Tokenizer.Load(dir.Path);
        Assert.Equal([509, 503], tok.Encode("<extra><|image|>"));
        Assert.Equal("<extra>", tok.Decode([509]));
    }

    [Fact]
    public void Missing_folder_names_it()
    {
        var e = Assert.Throws<TokenizerFileException>(() => Qwen2Tokenizer.Load("/nonexistent/owl3-tokenizer"));
        Assert.Equal("/nonexistent/owl3-tokenizer", e.FilePath);
    }

    [Theory]
    [InlineData("vocab.json")]
    [InlineData("merges.txt")]
    public void Missing_file_names_it(string file)
    {
        using var dir = CopyOfTinyA();
        File.Delete(dir.File(file));
        var e = Assert.Throws<TokenizerFileException>(() => Qwen2Tokenizer.Load(dir.Path));
        Assert.Equal(dir.File(file), e.FilePath);
        Assert.Contains("missing", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vocab.json", "{\"a\": 0, ")]
    [InlineData("vocab.json", "[1, 2]")]
    [InlineData("vocab.json", "{\"a\": -1}")]
    [InlineData("vocab.json", "{\"a\": 0, \"b\": 0}")]
    [InlineData("vocab.json", "{}")]
    [InlineData("tokenizer_config.json", "{\"added_tokens_decoder\": {\"x\": {\"content\": \"<a>\"}}}")]
    [InlineData("tokenizer_config.json", "{\"added_tokens_decoder\": {\"600\": {\"lstrip\": false}}}")]
    [InlineData("tokenizer_config.json", "{\"added_tokens_decoder\": {\"600\": {\"content\": \"<a>\"}, \"601\": {\"content\": \"<a>\"}}}")]
    [InlineData("tokenizer_config.json", "{\"added_tokens_decoder\": {\"65\": {\"content\": \"<a>\"}}}")]
    [InlineData("tokenizer_config.json", "not json")]
    [InlineData("merges.txt", "#version: 0.2\nĠ t\nthree parts here\n")]
    [InlineData("merges.txt", "Ġt\n")]
    public void Corrupt_file_names_it(string file, string content)
    {
        using var dir = CopyOfTinyA();
        File.WriteAllText(dir.File(file), content);
        var e = Assert.Throws<TokenizerFileException>(() => Qwen2Tokenizer.Load(dir.Path));
        string named = content.Contains("\"65\"", StringComparison.Ordinal) ? "vocab.json" : file; // the clash is found against the vocabulary
        Assert.StartsWith(dir.File(named), e.FilePath, StringComparison.Ordinal);
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ids_without_an_entry_decode_to_nothing()
    {
        var tiny = TextGoldens.Tiny("tiny-a");
        Assert.Equal("", tiny.Decode([300, 499, 509, 511, -1, int.MaxValue, int.MinValue]));
        Assert.Equal("Hi<|im_end|>", tiny.Decode([ByteTokenId('H'), 300, ByteTokenId('i'), 502]));
        Assert.Equal("", TextGoldens.Real.Decode([151_646, 151_850]));   // embedding rows beyond the tokenizer
    }

    [Fact]
    public void Invalid_utf8_decodes_with_replacement_like_python()
    {
        var tok = TextGoldens.Real;
        // Expected strings from Python: bytes.decode("utf-8", errors="replace").
        Assert.Equal("\uFFFD", Decode(tok, 0xF0, 0x9F, 0x98));
        Assert.Equal("\uFFFD\uFFFD\uFFFD", Decode(tok, 0xE0, 0x80, 0x80));
        Assert.Equal("\uFFFD\uFFFD\uFFFD", Decode(tok, 0xED, 0xA0, 0x80));
        Assert.Equal("\uFFFDA", Decode(tok, 0xF0, 0x9F, 0x98, 0x41));
        Assert.Equal("\uFFFD\uFFFD", Decode(tok, 0xC0, 0xAF));
        Assert.Equal("\uFFFD\uFFFD\uFFFD\uFFFD", Decode(tok, 0xF4, 0x90, 0x80, 0x80));
    }

    /// <summary>Decodes the single-byte tokens of <paramref name="bytes"/>.</summary>
    private static string Decode(Qwen2Tokenizer tok, params int[] bytes) => tok.Decode(bytes.Select(ByteTokenId));

    /// <summary>Id of a single-byte token: bytes 33–126, 161–172, 174–255 first, then the other 68 (spec/PROCESSOR.md §6).</summary>
    private static int ByteTokenId(int b)
    {
        static bool Printable(int x) => x is >= 33 and <= 126 or >= 161 and <= 172 or >= 174 and <= 255;
        var order = Enumerable.Range(0, 256).Where(Printable).Concat(Enumerable.Range(0, 256).Where(x => !Printable(x))).ToList();
        return order.IndexOf(b);
    }

    [Fact]
    public void Byte_token_ids_follow_the_spec_order()
    {
        Assert.Equal(0, ByteTokenId('!'));
        Assert.Equal(27, ByteTokenId('<'));
        Assert.Equal(198, ByteTokenId('\n'));
        Assert.Equal(220, ByteTokenId(' '));
        Assert.Equal([ByteTokenId(' ')], TextGoldens.Real.Encode(" "));
    }
}
