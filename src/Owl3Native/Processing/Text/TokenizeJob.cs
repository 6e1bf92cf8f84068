using System.Text.Encodings.Web;
using System.Text.Json;

namespace Owl3Native.Processing.Text;

/// <summary>One tokenised string of `owl3 tokenize`.</summary>
/// <param name="Ids">Token ids of the string.</param>
/// <param name="Decoded">Decode of those ids.</param>
public sealed record TokenizedText(int[] Ids, string Decoded);

/// <summary>
/// The logic of `owl3 tokenize` (shared/CLI.md): strings in (one `--text`, or a JSON array file), a JSON array of
/// `{"ids": [...], "decoded": "..."}` out, in the same order. The command only parses arguments and prints.
/// </summary>
public static class TokenizeJob
{
    /// <summary>Encodes and decodes every string.</summary>
    public static IReadOnlyList<TokenizedText> Run(Qwen2Tokenizer tokenizer, IEnumerable<string> texts)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(texts);
        return texts.Select(t =>
        {
            int[] ids = tokenizer.Encode(t);
            return new TokenizedText(ids, tokenizer.Decode(ids));
        }).ToArray();
    }

    /// <summary>Reads a `strings.json` input: a JSON array of strings.</summary>
    /// <exception cref="FormatException">The file is not a JSON array of strings; the message names the file and the entry.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IReadOnlyList<string> ReadInput(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}: not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new FormatException($"{path}: expected a JSON array of strings, found {doc.RootElement.ValueKind}");
            var texts = new List<string>(doc.RootElement.GetArrayLength());
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.String)
                    throw new FormatException($"{path}: entry {texts.Count} is {e.ValueKind}, expected a string");
                try
                {
                    texts.Add(e.GetString()!);
                }
                catch (InvalidOperationException ex) // e.g. an escaped lone surrogate
                {
                    throw new FormatException($"{path}: entry {texts.Count} is not valid UTF-16 text ({ex.Message})", ex);
                }
            }
            return texts;
        }
    }

    /// <summary>The output document: a JSON array of `{"ids": [...], "decoded": "..."}`, non-ASCII kept readable.</summary>
    public static string ToJson(IReadOnlyList<TokenizedText> results, bool indented = false)
    {
        ArgumentNullException.ThrowIfNull(results);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartArray();
            foreach (var r in results)
            {
                w.WriteStartObject();
                w.WriteStartArray("ids");
                foreach (int id in r.Ids) w.WriteNumberValue(id);
                w.WriteEndArray();
                w.WriteString("decoded", r.Decoded);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
