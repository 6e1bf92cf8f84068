using System.Text.Json;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models.Checkpoints;

/// <summary>Parameters and bytes of one group of tensors.</summary>
public sealed record ParameterCount(long Parameters, long Bytes, int Tensors);

/// <summary>What `owl3 inspect` reports about an opened checkpoint.</summary>
public sealed record CheckpointSummary
{
    /// <summary>Absolute path of the checkpoint folder.</summary>
    public required string Directory { get; init; }
    /// <summary>Hyper-attention variant tag: `240728`, `241014` or `241101` (see <see cref="Owl3Variant"/>).</summary>
    public required string Variant { get; init; }
    /// <summary>One line on what the variant does (cross-attention with a dynamic or static gate, or fused visual K/V).</summary>
    public required string VariantDescription { get; init; }
    /// <summary>Vision-to-text projector: `Linear`, or `MLP (Linear, GELU erf, Linear)`.</summary>
    public required string Projector { get; init; }
    /// <summary>File names (without folder) of the safetensors files holding the weights.</summary>
    public required IReadOnlyList<string> WeightFiles { get; init; }
    /// <summary>Total size on disk of <see cref="WeightFiles"/>, in bytes (headers included).</summary>
    public required long WeightBytes { get; init; }
    /// <summary>Number of tensors across all weight files.</summary>
    public required int Tensors { get; init; }
    /// <summary>Tensor count per dtype, keyed by the safetensors spelling (`BF16`, `F32`, ...), sorted ordinally.</summary>
    [System.Text.Json.Serialization.JsonPropertyName("dtypes")]
    public required IReadOnlyDictionary<string, int> DTypes { get; init; }
    /// <summary>Per component: vision (used / unused), projector, language model parts, total.</summary>
    public required IReadOnlyDictionary<string, ParameterCount> Parameters { get; init; }
    /// <summary>`hyper_layers` as written in `config.json` (1-based layer numbers).</summary>
    public required IReadOnlyList<int> HyperLayersConfig { get; init; }
    /// <summary>The hyper layers as 0-based decoder layer indices, ascending.</summary>
    public required IReadOnlyList<int> HyperLayersZeroBased { get; init; }
    /// <summary>Language model hidden size (`hidden_size`).</summary>
    public required int Hidden { get; init; }
    /// <summary>Language model MLP width (`intermediate_size`).</summary>
    public required int Intermediate { get; init; }
    /// <summary>Number of decoder layers.</summary>
    public required int Layers { get; init; }
    /// <summary>Query heads per decoder layer.</summary>
    public required int Heads { get; init; }
    /// <summary>Key/value heads per decoder layer (grouped-query attention; equals <see cref="Heads"/> without GQA).</summary>
    public required int KvHeads { get; init; }
    /// <summary>Per-head dimension: <see cref="Hidden"/> / <see cref="Heads"/>.</summary>
    public required int HeadDim { get; init; }
    /// <summary>True when `lm_head` reuses `embed_tokens` (`tie_word_embeddings`); a stored `lm_head.weight` is then unused.</summary>
    public required bool TiedEmbeddings { get; init; }
    /// <summary>Rows of the embedding and LM head matrices (`vocab_size`); may exceed the tokenizer's vocabulary because of padding.</summary>
    public required int VocabRows { get; init; }
    /// <summary>Distinct token ids of the folder's tokenizer (see <see cref="CountTokenizerVocab"/>); null without a readable `vocab.json`.</summary>
    public required int? TokenizerVocab { get; init; }
    /// <summary>Tokenizer files present in the folder (file names only).</summary>
    public required IReadOnlyList<string> TokenizerFiles { get; init; }
    /// <summary>SigLIP vision tower hidden size.</summary>
    public required int VisionHidden { get; init; }
    /// <summary>SigLIP encoder layers in the config, including the last one that never runs.</summary>
    public required int VisionLayers { get; init; }
    /// <summary>SigLIP encoder layers that run: <see cref="VisionLayers"/> − 1, because the model takes `hidden_states[-2]`.</summary>
    public required int VisionLayersUsed { get; init; }
    /// <summary>Side of a square vision crop, in pixels.</summary>
    public required int ImageSize { get; init; }
    /// <summary>Side of a square SigLIP patch, in pixels.</summary>
    public required int PatchSize { get; init; }
    /// <summary>Visual tokens per crop: (patches per side)², with patches per side = (imageSize − patchSize) / patchSize + 1.</summary>
    public required int ImageTokensPerCrop { get; init; }
    /// <summary>Pixels at the right and bottom edges of a crop that no patch covers: imageSize − patchesPerSide · patchSize (0 when the size divides).</summary>
    public required int UnusedEdgePixels { get; init; }
    /// <summary>bf16 text KV cache bytes per token: 2 · layers · kvHeads · headDim · 2.</summary>
    public required long KvBytesPerTextToken { get; init; }
    /// <summary>bf16 visual K/V bytes per crop kept for a request: imageTokens · hyperLayers · 2 · kvHeads · headDim · 2.</summary>
    public required long KvBytesPerImageCrop { get; init; }
    /// <summary>Names of tensors the weight manifest does not know; tolerated and reported, never loaded.</summary>
    public required IReadOnlyList<string> ExtraTensors { get; init; }
    /// <summary>Non-fatal findings from opening the checkpoint, one sentence each.</summary>
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
