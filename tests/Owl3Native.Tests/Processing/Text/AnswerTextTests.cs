using Owl3Native.Processing.Text;
using Xunit;

namespace Owl3Native.Tests.Processing.Text;

/// <summary>`decode_text` (spec/PROCESSOR.md §10.4) and the `owl3 tokenize` logic.</summary>
public sealed class AnswerTextTests
{
    private static readonly int[] Terminators = [151645, 151643];

    [Fact]
    public void Pad_ids_are_removed_the_final_terminator_dropped_and_whitespace_stripped()
    {
        var tok = TextGoldens.Real;
        int[] ids = [.. tok.Encode("  Hello! world\n"), 151645];
        Assert.Contains(0, ids); // '!' is id 0, the pad id
        Assert.Equal("Hello world", AnswerText.Decode(tok, ids, Terminators));
    }

    [Fact]
    public void Only_the_last_terminator_is_dropped()
    {
        var tok = TextGoldens.Real;
        Assert.Equal("a<|im_end|>b", AnswerText.Decode(tok, [64, 151645, 65], Terminators));
        Assert.Equal("a<|im_end|>", AnswerText.Decode(tok, [64, 151645, 151643], Terminators));
        Assert.Equal("", AnswerText.Decode(tok, [], Terminators));
    }

    [Fact]
    public void Strip_uses_python_whitespace()
    {
        // Python's str.isspace() set: 9–13, 28–32, 0x85, 0xA0, 0x1680, 0x2000–0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000.
        int[] python = [9, 10, 11, 12, 13, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, .. Enumerable.Range(0x2000, 11), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000];
        for (int c = 0; c < 0x10000; c++)
        {
            if (char.IsSurrogate((char)c)) continue;
            string s = ((char)c).ToString();
            Assert.True((AnswerText.StripPython(s) == "") == python.Contains(c), $"U+{c:X4}");
        }
        Assert.Equal("a \u200B b", AnswerText.StripPython("\u3000 a \u200B b\x1f\n"));
    }

    [Fact]
    public void Streaming_clean_up_removes_terminator_text()
    {
        Assert.Equal("done", AnswerText.RemoveTerminatorText("done<|im_end|><|endoftext|>"));
    }

    [Fact]
    public void Tokenize_job_round_trips_through_json()
    {
        using var dir = new Owl3Native.TestKit.TempDirectory("owl3-tokenize");
        string input = dir.Write("strings.json", """["Hello world", "<|im_start|>user\n猫", ""]""");
        var texts = TokenizeJob.ReadInput(input);
        var results = TokenizeJob.Run(TextGoldens.Real, texts);

        Assert.Equal([9707, 1879], results[0].Ids);
        Assert.Equal("<|im_start|>user\n猫", results[1].Decoded);
        Assert.Empty(results[2].Ids);
        string json = TokenizeJob.ToJson(results);
        Assert.StartsWith("""[{"ids":[9707,1879],"decoded":"Hello world"},{"ids":[151644,""", json, StringComparison.Ordinal);
        Assert.Contains("猫", json, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"a\": 1}")]
    [InlineData("[1, 2]")]
    [InlineData("[\"ok\", ")]
    [InlineData("[\"\\ud800\"]")]
    public void Tokenize_job_rejects_bad_input_naming_the_file(string content)
    {
        using var dir = new Owl3Native.TestKit.TempDirectory("owl3-tokenize");
        string input = dir.Write("strings.json", content);
        var e = Assert.Throws<FormatException>(() => TokenizeJob.ReadInput(input));
        Assert.StartsWith(input, e.Message, StringComparison.Ordinal);
    }
}
