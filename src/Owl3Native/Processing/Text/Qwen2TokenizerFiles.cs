using System.Globalization;
using System.Text.Json;

namespace Owl3Native.Processing.Text;

/// <summary>
/// The contents of a Qwen2 tokenizer folder: `vocab.json` + `merges.txt` (or the `model` section of `tokenizer.json`),
/// and the added tokens of `tokenizer_config.json` (`added_tokens_decoder`) and `tokenizer.json` (`added_tokens`).
/// Every problem is reported as a <see cref="TokenizerFileException"/> naming the file.
/// </summary>
internal sealed class Qwen2TokenizerFiles
{
    public const string VocabFile = "vocab.json", MergesFile = "merges.txt";
    public const string ConfigFile = "tokenizer_config.json", TokenizerJsonFile = "tokenizer.json";

    public required Dictionary<string, int> Vocabulary { get; init; }
    /// <summary>Merge rules in rank order, each "left right" (one space).</summary>
    public required List<string> Merges { get; init; }
    public required Dictionary<string, int> AddedTokens { get; init; }

    public static Qwen2TokenizerFiles Read(string folder)
    {
        if (!Directory.Exists(folder))
            throw new TokenizerFileException(folder, "tokenizer folder does not exist");
        string vocabPath = Path.Combine(folder, VocabFile), mergesPath = Path.Combine(folder, MergesFile);
        string jsonPath = Path.Combine(folder, TokenizerJsonFile), configPath = Path.Combine(folder, ConfigFile);
        using var tokenizerJson = File.Exists(jsonPath) ? ParseJson(jsonPath) : null;
        JsonElement? model = tokenizerJson is not null && tokenizerJson.RootElement.ValueKind == JsonValueKind.Object
            && tokenizerJson.RootElement.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.Object ? m : null;

        Dictionary<string, int> vocab;
        string vocabSource = vocabPath;
        if (File.Exists(vocabPath))
        {
            using var doc = ParseJson(vocabPath);
            vocab = ReadVocabulary(doc.RootElement, vocabPath);
        }
        else if (model?.TryGetProperty("vocab", out var v) == true) vocab = ReadVocabulary(v, vocabSource = jsonPath + " (model.vocab)");
        else throw new TokenizerFileException(vocabPath, $"missing (and no `{TokenizerJsonFile}` with a `model.vocab` either)");

        List<string> merges;
        if (File.Exists(mergesPath)) merges = ReadMergesText(mergesPath);
        else if (model?.TryGetProperty("merges", out var mg) == true) merges = ReadMergesJson(mg, jsonPath + " (model.merges)");
        else throw new TokenizerFileException(mergesPath, $"missing (and no `{TokenizerJsonFile}` with a `model.merges` either)");

        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        if (File.Exists(configPath))
        {
            using var config = ParseJson(configPath);
            if (config.RootElement.ValueKind != JsonValueKind.Object)
                throw new TokenizerFileException(configPath, "expected a JSON object");
            if (config.RootElement.TryGetProperty("added_tokens_decoder", out var decoder))
            {
                if (decoder.ValueKind != JsonValueKind.Object)
                    throw new TokenizerFileException(configPath, "`added_tokens_decoder` must be an object of id → token");
                foreach (var p in decoder.EnumerateObject())
                {
                    if (!int.TryParse(p.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                        throw new TokenizerFileException(configPath, $"`added_tokens_decoder` key `{p.Name}` is not a token id");
                    AddToken(added, Content(p.Value, configPath, $"added_tokens_decoder[{p.Name}]"), id, configPath);
                }
            }
        }
        if (tokenizerJson?.RootElement.ValueKind == JsonValueKind.Object
            && tokenizerJson.RootElement.TryGetProperty("added_tokens", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var entry in list.EnumerateArray())
            {
                string where = $"added_tokens[{i++}]";
                if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("id", out var idEl) || !idEl.TryGetInt32(out int id) || id < 0)
                    throw new TokenizerFileException(jsonPath, $"`{where}` needs a non-negative integer `id`");
                AddToken(added, Content(entry, jsonPath, where), id, jsonPath);
            }
        }
        var vocabTokenOfId = vocab.ToDictionary(kv => kv.Value, kv => kv.Key);
        foreach (var (text, id) in added)
        {
            string spelled = ByteLevel.ToToken(System.Text.Encoding.UTF8.GetBytes(text));
            if (vocab.TryGetValue(spelled, out int vid) && vid != id)
                throw new TokenizerFileException(vocabSource, $"added token `{text}` has id {id} but the vocabulary gives it id {vid}");
            if (vocabTokenOfId.TryGetValue(id, out string? other) && other != spelled)
                throw new TokenizerFileException(vocabSource, $"id {id} is both the vocabulary entry `{other}` and the added token `{text}`");
        }
        return new Qwen2TokenizerFiles { Vocabulary = vocab, Merges = merges, AddedTokens = added };
    }

    private static JsonDocument ParseJson(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new TokenizerFileException(path, $"not valid JSON ({e.Message})", e);
        }
        catch (IOException e)
        {
            throw new TokenizerFileException(path, $"cannot be read ({e.Message})", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new TokenizerFileException(path, $"cannot be read ({e.Message})", e);
        }
    }

    private static Dictionary<string, int> ReadVocabulary(JsonElement root, string where)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new TokenizerFileException(where, "expected a JSON object of token → id");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var owner = new Dictionary<int, string>();
        foreach (var p in root.EnumerateObject())
        {
            if (!p.Value.TryGetInt32(out int id) || id < 0)
                throw new TokenizerFileException(where, $"token `{p.Name}` has id {p.Value.GetRawText()}, expected a non-negative integer");
            if (owner.TryGetValue(id, out string? other))
                throw new TokenizerFileException(where, $"id {id} is used by both `{other}` and `{p.Name}`");
            owner[id] = p.Name;
            vocab[p.Name] = id;
        }
        if (vocab.Count == 0) throw new TokenizerFileException(where, "the vocabulary is empty");
        return vocab;
    }

    /// <summary>As the Hugging Face Qwen2 tokenizer: trimmed lines, an optional `#version` first line, blank lines skipped.</summary>
    private static List<string> ReadMergesText(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (IOException e)
        {
            throw new TokenizerFileException(path, $"cannot be read ({e.Message})", e);
        }
        var merges = new List<string>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || (i == 0 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            merges.Add(Merge(line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries), path, $"line {i + 1}"));
        }
        return merges;
    }

    private static List<string> ReadMergesJson(JsonElement array, string where)
    {
        if (array.ValueKind != JsonValueKind.Array) throw new TokenizerFileException(where, "expected an array");
        var merges = new List<string>(array.GetArrayLength());
        int i = 0;
        foreach (var e in array.EnumerateArray())
        {
            string[] parts = e.ValueKind switch
            {
                JsonValueKind.String => e.GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries),
                JsonValueKind.Array => e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : "").ToArray(),
                _ => [],
            };
            merges.Add(Merge(parts, where, $"entry {i++}"));
        }
        return merges;
    }

    private static string Merge(string[] parts, string where, string position)
    {
        if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            throw new TokenizerFileException(where, $"{position}: expected two tokens separated by a space, got `{string.Join(' ', parts)}`");
        return parts[0] + " " + parts[1];
    }

    private static string Content(JsonElement entry, string path, string where)
    {
        if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("content", out var c)
            || c.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(c.GetString()))
            throw new TokenizerFileException(path, $"`{where}` needs a non-empty string `content`");
        return c.GetString()!;
    }

    private static void AddToken(Dictionary<string, int> added, string text, int id, string path)
    {
        if (added.TryGetValue(text, out int existing) && existing != id)
            throw new TokenizerFileException(path, $"added token `{text}` has ids {existing} and {id}");
        foreach (var (t, i) in added)
            if (i == id && t != text)
                throw new TokenizerFileException(path, $"id {id} names two added tokens, `{t}` and `{text}`");
        added[text] = id;
    }
}
