using System.Text.Json;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;

namespace Owl3Native.Tests.Processing.Text;

/// <summary>Paths, loaded tokenizers and JSON helpers shared by the text-processing tests.</summary>
internal static class TextGoldens
{
    private static readonly Lazy<Qwen2Tokenizer> s_real = new(() => Qwen2Tokenizer.Load(RealTokenizerFolder));
    private static readonly Lazy<Qwen2Tokenizer> s_tinyA = new(() => Qwen2Tokenizer.Load(SharedData.Golden("tiny-a")));
    private static readonly Lazy<Qwen2Tokenizer> s_tinyC = new(() => Qwen2Tokenizer.Load(SharedData.Golden("tiny-c")));
    private static readonly Lazy<JsonDocument> s_tokenizerGolden = new(() => Parse(Path.Combine(RealTokenizerFolder, "golden.json")));

    public static string RealTokenizerFolder => Path.Combine(SharedData.Root, "tokenizer", "qwen2");

    /// <summary>The real Qwen2 tokenizer of ../shared/tokenizer/qwen2 (loaded once).</summary>
    public static Qwen2Tokenizer Real => s_real.Value;

    /// <summary>The tiny tokenizer of a golden checkpoint folder (`tiny-a` or `tiny-c`; loaded once).</summary>
    public static Qwen2Tokenizer Tiny(string folder) => folder == "tiny-a" ? s_tinyA.Value : s_tinyC.Value;

    /// <summary>../shared/tokenizer/qwen2/golden.json.</summary>
    public static JsonElement TokenizerGolden => s_tokenizerGolden.Value.RootElement;

    public static JsonDocument Parse(string path) => JsonDocument.Parse(File.ReadAllBytes(path));

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    public static List<PromptMessage> Messages(JsonElement array) => array.EnumerateArray().Select(m => new PromptMessage(
        m.GetProperty("role").GetString() switch
        {
            "system" => PromptRole.System,
            "user" => PromptRole.User,
            "assistant" => PromptRole.Assistant,
            var r => throw new InvalidDataException($"unknown role {r}"),
        },
        m.GetProperty("content").GetString()!)).ToList();

    /// <summary>A [L, 2] array from golden JSON rows ([[a, b], …]).</summary>
    public static long[,] Rows(JsonElement rows)
    {
        var list = rows.EnumerateArray().ToList();
        var result = new long[list.Count, 2];
        for (int t = 0; t < list.Count; t++)
        {
            result[t, 0] = list[t][0].GetInt64();
            result[t, 1] = list[t][1].GetInt64();
        }
        return result;
    }

    /// <summary>Asserts two [L, 2] arrays are equal, naming the first differing row.</summary>
    public static void AssertRowsEqual(long[,] expected, long[,] actual)
    {
        Xunit.Assert.Equal(expected.GetLength(0), actual.GetLength(0));
        for (int t = 0; t < expected.GetLength(0); t++)
            if (expected[t, 0] != actual[t, 0] || expected[t, 1] != actual[t, 1])
                Xunit.Assert.Fail($"media_offset row {t}: expected [{expected[t, 0]}, {expected[t, 1]}], got [{actual[t, 0]}, {actual[t, 1]}]");
    }
}
