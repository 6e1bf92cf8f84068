using System.Text.Json;
using Owl3Native.Models.Checkpoints;

namespace Owl3Native.Engine;

/// <summary>
/// The token ids that end generation (spec/MODEL.md §9 step 5): generation_config.json's `eos_token_id`, else the
/// tokenizer's `&lt;|im_end|&gt;` and `&lt;|endoftext|&gt;` — looked up by text in the folder's tokenizer files, never hard-coded.
/// </summary>
public static class Terminators
{
    /// <summary>Terminator ids of a checkpoint folder (empty when neither source names any).</summary>
    public static IReadOnlyCollection<int> Resolve(Owl3Checkpoint checkpoint)
    {
        if (checkpoint.GenerationConfig.EosTokenIds is { Length: > 0 } ids) return ids.ToHashSet();
        var found = new HashSet<int>();
        string cfg = Path.Combine(checkpoint.Directory, "tokenizer_config.json");
        if (!File.Exists(cfg)) return found;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(cfg));
        if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("added_tokens_decoder", out var added) && added.ValueKind == JsonValueKind.Object)
            foreach (var p in added.EnumerateObject())
                if (p.Value.ValueKind == JsonValueKind.Object && p.Value.TryGetProperty("content", out var c) && c.GetString() is "<|im_end|>" or "<|endoftext|>"
                    && int.TryParse(p.Name, System.Globalization.CultureInfo.InvariantCulture, out int id))
                    found.Add(id);
        return found;
    }
}
