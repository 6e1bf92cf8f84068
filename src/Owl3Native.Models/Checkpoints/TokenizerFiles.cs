using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Owl3Native.Models.Checkpoints;

/// <summary>
/// Writes Qwen2-format tokenizer files (`vocab.json`, `merges.txt`, `tokenizer_config.json`) for random checkpoints:
/// a tiny byte-level BPE with the goldens' added-token layout, or a synthetic vocabulary with the real id layout
/// (151,643 regular ids = 256 bytes + 151,387 merges; the three added tokens at 151643, 151644, 151645).
/// </summary>
internal static class TokenizerFiles
{
    public const int RealRegularTokens = 151_643;
    public const int RealMerges = 151_387;

    /// <summary>The tiny tokenizer's added tokens, as in the goldens (every media marker one token).</summary>
    public static IReadOnlyList<string> TinyAddedTokens { get; } =
    [
        "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|image|>", "<|start_cut|>", "<|end_cut|>",
        "<|video|>", "<|start_video_frame|>", "<|end_video_frame|>",
    ];

    /// <summary>First id of the tiny tokenizer's added tokens.</summary>
    public const int TinyAddedBase = 500;

    private static readonly string[] TinyMerges =
    [
        "Ġ t", "Ġt h", "Ġth e", "Ġ i", "i s", "r e", "a n", "a t", "a g", "ag e", "m age", "Ġi mage", "Ġi n", "Ġi s",
        "Ġth is", "o u", "Ġ a", "Ġa n", "Ġan d", "e r", "o n", "Ġ w", "Ġw h", "Ġwh at", "Ġ d", "Ġd e", "Ġde s", "c r",
        "i b", "Ġdes cr", "Ġdescr ib", "Ġdescrib e", "Ġ y", "Ġy ou", "i t", "Ġ s", "e e", "Ġs ee", "Ġ v", "Ġv i",
    ];

    public static void WriteTiny(string dir)
    {
        var vocab = new List<string>(ByteLevelAlphabet.Symbols);
        var merges = new List<string>();
        foreach (var m in TinyMerges)
        {
            var parts = m.Split(' ');
            string merged = parts[0] + parts[1];
            if (!vocab.Contains(parts[0]) || !vocab.Contains(parts[1]) || vocab.Contains(merged))
                throw new InvalidOperationException($"tiny merge `{m}` is not well-formed");
            vocab.Add(merged);
            merges.Add(m);
        }
        WriteVocab(Path.Combine(dir, "vocab.json"), vocab);
        File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\n" + string.Join("\n", merges) + "\n");
        var added = TinyAddedTokens.Select((t, i) => (TinyAddedBase + i, t)).ToArray();
        WriteTokenizerConfig(Path.Combine(dir, "tokenizer_config.json"), added, TinyAddedTokens.Skip(1).ToArray(), modelMaxLength: 32768);
    }

    /// <summary>The real layout with synthetic merges: every 2-byte string, then 3-byte strings, in a fixed order.</summary>
    public static void WriteRealLayout(string dir)
    {
        var symbols = ByteLevelAlphabet.Symbols;
        var vocab = new List<string>(RealRegularTokens);
        vocab.AddRange(symbols);
        var merges = new StringBuilder(RealMerges * 10);
        var pairs = new List<string>(symbols.Count * symbols.Count);
        // No merge line may start with '#': some merges.txt readers take such lines for comments.
        foreach (var a in symbols.Where(x => x != "#"))
            foreach (var b in symbols)
            {
                if (vocab.Count == RealRegularTokens) break;
                vocab.Add(a + b);
                pairs.Add(a + b);
                merges.Append(a).Append(' ').Append(b).Append('\n');
            }
        foreach (var ab in pairs)
        {
            foreach (var c in symbols)
            {
                if (vocab.Count == RealRegularTokens) break;
                vocab.Add(ab + c);
                merges.Append(ab).Append(' ').Append(c).Append('\n');
            }
            if (vocab.Count == RealRegularTokens) break;
        }
        WriteVocab(Path.Combine(dir, "vocab.json"), vocab);
        File.WriteAllText(Path.Combine(dir, "merges.txt"), merges.ToString()); // the real file has no header line
        WriteTokenizerConfig(Path.Combine(dir, "tokenizer_config.json"),
            [(151643, "<|endoftext|>"), (151644, "<|im_start|>"), (151645, "<|im_end|>")],
            ["<|im_start|>", "<|im_end|>"], modelMaxLength: 131072);
    }

    private static void WriteVocab(string path, List<string> vocab)
    {
        using var fs = File.Create(path);
        using var w = new Utf8JsonWriter(fs, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        for (int i = 0; i < vocab.Count; i++) w.WriteNumber(vocab[i], i);
        w.WriteEndObject();
    }

    private static void WriteTokenizerConfig(string path, (int Id, string Text)[] added, string[] additional, int modelMaxLength)
    {
        var decoder = new JsonObject();
        foreach (var (id, text) in added)
            decoder[id.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["content"] = text, ["lstrip"] = false, ["normalized"] = false, ["rstrip"] = false,
                ["single_word"] = false, ["special"] = true,
            };
        var additionalArray = new JsonArray();
        foreach (var a in additional) additionalArray.Add((JsonNode)JsonValue.Create(a));
        var config = new JsonObject
        {
            ["add_prefix_space"] = false,
            ["added_tokens_decoder"] = decoder,
            ["additional_special_tokens"] = additionalArray,
            ["bos_token"] = null,
            ["clean_up_tokenization_spaces"] = false,
            ["eos_token"] = "<|im_end|>",
            ["errors"] = "replace",
            ["model_max_length"] = modelMaxLength,
            ["pad_token"] = "<|endoftext|>",
            ["split_special_tokens"] = false,
            ["tokenizer_class"] = "Qwen2Tokenizer",
            ["unk_token"] = null,
        };
        File.WriteAllText(path, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
