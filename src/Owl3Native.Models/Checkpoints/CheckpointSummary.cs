using System.Text.Json;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models.Checkpoints;

/// <summary>Parameters and bytes of one group of tensors.</summary>
public sealed record ParameterCount(long Parameters, long Bytes, int Tensors);

/// <summary>What `owl3 inspect` reports about an opened checkpoint.</summary>
public sealed record CheckpointSummary
{
    public required string Directory { get; init; }
    public required string Variant { get; init; }
    public required string VariantDescription { get; init; }
    public required string Projector { get; init; }
    public required IReadOnlyList<string> WeightFiles { get; init; }
    public required long WeightBytes { get; init; }
    public required int Tensors { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("dtypes")]
    public required IReadOnlyDictionary<string, int> DTypes { get; init; }
    /// <summary>Per component: vision (used / unused), projector, language model parts, total.</summary>
    public required IReadOnlyDictionary<string, ParameterCount> Parameters { get; init; }
    public required IReadOnlyList<int> HyperLayersConfig { get; init; }
    public required IReadOnlyList<int> HyperLayersZeroBased { get; init; }
    public required int Hidden { get; init; }
    public required int Intermediate { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required bool TiedEmbeddings { get; init; }
    public required int VocabRows { get; init; }
    public required int? TokenizerVocab { get; init; }
    public required IReadOnlyList<string> TokenizerFiles { get; init; }
    public required int VisionHidden { get; init; }
    public required int VisionLayers { get; init; }
    public required int VisionLayersUsed { get; init; }
    public required int ImageSize { get; init; }
    public required int PatchSize { get; init; }
    public required int ImageTokensPerCrop { get; init; }
    public required int UnusedEdgePixels { get; init; }
    /// <summary>bf16 text KV cache bytes per token: 2 · layers · kvHeads · headDim · 2.</summary>
    public required long KvBytesPerTextToken { get; init; }
    /// <summary>bf16 visual K/V bytes per crop kept for a request: imageTokens · hyperLayers · 2 · kvHeads · headDim · 2.</summary>
    public required long KvBytesPerImageCrop { get; init; }
    public required IReadOnlyList<string> ExtraTensors { get; init; }
    public required IReadOnlyList<string> Warnings { get; init; }

    /// <summary>Summarises an opened checkpoint.</summary>
    public static CheckpointSummary From(Owl3Checkpoint ckpt)
    {
        var c = ckpt.Config;
        var groups = new Dictionary<string, (long P, long B, int N)>();
        void Count(string group, long p, long b)
        {
            groups.TryGetValue(group, out var g);
            groups[group] = (g.P + p, g.B + b, g.N + 1);
        }
        var dtypes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        long bytes = 0;
        foreach (var name in ckpt.Weights.Names)
        {
            ckpt.Weights.TryGetInfo(name, out var info);
            long p = info.ElementCount;
            bytes += info.ByteLength;
            string dt = info.DType.SafeTensorsName();
            dtypes[dt] = dtypes.GetValueOrDefault(dt) + 1;
            ckpt.Manifest.TryGet(name, out var spec);
            string group = spec switch
            {
                null => "extra",
                { Component: WeightComponent.Vision, Role: WeightRole.Unused } => "vision_unused",
                { Component: WeightComponent.Vision } => "vision",
                { Component: WeightComponent.Projector } => "projector",
                _ when name.EndsWith("embed_tokens.weight", StringComparison.Ordinal) => "embed_tokens",
                _ when name.EndsWith("lm_head.weight", StringComparison.Ordinal) => c.TieWordEmbeddings ? "lm_head_unused" : "lm_head",
                _ when name.Contains(".v_kv_proj.", StringComparison.Ordinal) || name.Contains(".gate_proj.0.", StringComparison.Ordinal) || name.EndsWith(".self_attn.gate", StringComparison.Ordinal) => "hyper_extra",
                _ => "decoder_layers",
            };
            Count(group, p, info.ByteLength);
        }
        var parameters = groups.OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => new ParameterCount(g.Value.P, g.Value.B, g.Value.N));
        parameters["total"] = new ParameterCount(groups.Values.Sum(g => g.P), groups.Values.Sum(g => g.B), groups.Values.Sum(g => g.N));

        var v = c.Vision;
        int unusedEdge = v.ImageSize - v.PatchesPerSide * v.PatchSize;
        return new CheckpointSummary
        {
            Directory = ckpt.Directory,
            Variant = ckpt.Variant.Tag(),
            VariantDescription = ckpt.Variant.Describe(),
            Projector = ckpt.Projector == ProjectorKind.Linear ? "Linear" : "MLP (Linear, GELU erf, Linear)",
            WeightFiles = ckpt.WeightFiles.Select(Path.GetFileName).ToArray()!,
            WeightBytes = ckpt.WeightFiles.Sum(f => new FileInfo(f).Length),
            Tensors = ckpt.Weights.Names.Count,
            DTypes = dtypes,
            Parameters = parameters,
            HyperLayersConfig = c.HyperLayers.ToArray(),
            HyperLayersZeroBased = c.HyperLayerIndices.ToArray(),
            Hidden = c.Hidden,
            Intermediate = c.Intermediate,
            Layers = c.Layers,
            Heads = c.Heads,
            KvHeads = c.KvHeads,
            HeadDim = c.HeadDim,
            TiedEmbeddings = c.TieWordEmbeddings,
            VocabRows = c.Vocab,
            TokenizerVocab = CountTokenizerVocab(ckpt.Directory),
            TokenizerFiles = ckpt.TokenizerFiles,
            VisionHidden = v.Hidden,
            VisionLayers = v.Layers,
            VisionLayersUsed = v.Layers - 1,
            ImageSize = v.ImageSize,
            PatchSize = v.PatchSize,
            ImageTokensPerCrop = v.Patches,
            UnusedEdgePixels = unusedEdge,
            KvBytesPerTextToken = 2L * c.Layers * c.KvHeads * c.HeadDim * 2,
            KvBytesPerImageCrop = (long)v.Patches * c.HyperLayers.Count * 2 * c.KvHeads * c.HeadDim * 2,
            ExtraTensors = ckpt.ExtraTensors,
            Warnings = ckpt.Warnings,
        };
    }

    /// <summary>
    /// Distinct token ids of the folder's tokenizer: `vocab.json` entries plus added tokens of
    /// `tokenizer_config.json` that are not in the vocabulary; null without a `vocab.json` or when it cannot be read.
    /// </summary>
    public static int? CountTokenizerVocab(string directory)
    {
        string vocabPath = Path.Combine(directory, "vocab.json");
        if (!File.Exists(vocabPath)) return null;
        var ids = new HashSet<long>();
        try
        {
            var reader = new Utf8JsonReader(File.ReadAllBytes(vocabPath));
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long id)) ids.Add(id);
            }
            string cfgPath = Path.Combine(directory, "tokenizer_config.json");
            if (File.Exists(cfgPath))
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(cfgPath));
                if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("added_tokens_decoder", out var added) && added.ValueKind == JsonValueKind.Object)
                    foreach (var p in added.EnumerateObject())
                        if (long.TryParse(p.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long id)) ids.Add(id);
            }
        }
        catch (JsonException)
        {
            return null; // tokenizer validation belongs to the tokenizer loader; inspect only reports what it can count
        }
        return ids.Count;
    }
}
