using System.Text.Json;
using System.Text.Json.Nodes;
using Owl3Native.Core.Config;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models.Checkpoints;

/// <summary>Options of <see cref="CheckpointMaker.Write"/>.</summary>
/// <param name="Variant">Hyper-attention variant (decides gates, projector, crop size, vocab rows of 7B).</param>
/// <param name="Shape">Sizes of a released checkpoint, or the goldens' tiny sizes.</param>
/// <param name="Seed">Seed of the random weights; the same seed gives the same bytes.</param>
/// <param name="Shards">1: one `model.safetensors`; more: shards plus `model.safetensors.index.json`.</param>
/// <param name="Overwrite">Write into a folder that already holds files (checkpoint files in it are replaced).</param>
public sealed record MakeTinyOptions(Owl3Variant Variant, ModelShape Shape = ModelShape.Tiny, ulong Seed = 0, int Shards = 1, bool Overwrite = false);

/// <summary>
/// Writes random-weight checkpoints in the exact real folder format: `config.json` with the real field names of
/// the generation, bf16 `model.safetensors` (or shards) with every tensor the released files hold (including the
/// unused SigLIP post-layernorm and pooling head), `generation_config.json`, and Qwen2-format tokenizer files.
/// </summary>
public static class CheckpointMaker
{
    /// <summary>The config a given variant and shape produce.</summary>
    public static JsonObject BuildConfigJson(Owl3Variant variant, ModelShape shape)
    {
        bool tiny = shape == ModelShape.Tiny;
        (int h, int inter, int layers, int heads, int kv, int vocab, bool tied, int[] hyper) = shape switch
        {
            ModelShape.Tiny => (64, 128, 5, 4, 2, 512, false, variant == Owl3Variant.V241101 ? new[] { 2, 4 } : new[] { 1, 4 }),
            ModelShape.B1 => (896, 4864, 24, 14, 2, 151851, true, new[] { 6, 13, 20, 22 }),
            ModelShape.B2 => (1536, 8960, 28, 12, 2, 151851, true, new[] { 1, 9, 17, 25 }), // 2B hyper_layers unreadable: class default
            _ => (3584, 18944, 28, 28, 4, variant == Owl3Variant.V241101 ? 151651 : 151851, false,
                  variant == Owl3Variant.V241101 ? new[] { 7, 15, 23, 26 } : new[] { 1, 9, 17, 25 }),
        };
        int imageSize = tiny ? (variant == Owl3Variant.V241101 ? 42 : 48) : (variant == Owl3Variant.V241101 ? 378 : 384);
        var vision = tiny
            ? new JsonObject { ["hidden_size"] = 64, ["image_size"] = imageSize, ["intermediate_size"] = 128, ["model_type"] = "siglip_vision_model", ["num_attention_heads"] = 4, ["num_hidden_layers"] = 3, ["patch_size"] = 14 }
            : new JsonObject { ["hidden_size"] = 1152, ["image_size"] = imageSize, ["intermediate_size"] = 4304, ["model_type"] = "siglip_vision_model", ["num_attention_heads"] = 16, ["num_hidden_layers"] = 27, ["patch_size"] = 14 };
        var hyperArray = new JsonArray();
        foreach (int x in hyper) hyperArray.Add((JsonNode)JsonValue.Create(x));
        var cfg = new JsonObject
        {
            ["architectures"] = new JsonArray("mPLUGOwl3Model"),
            ["auto_map"] = new JsonObject
            {
                ["AutoConfig"] = "configuration_mplugowl3.mPLUGOwl3Config",
                ["AutoModel"] = "modeling_mplugowl3.mPLUGOwl3Model",
                ["AutoModelForCausalLM"] = "modeling_mplugowl3.mPLUGOwl3Model",
            },
            ["attention_dropout"] = 0.0,
            ["bos_token_id"] = tiny ? 500 : 151643,
            ["eos_token_id"] = tiny ? 502 : 151645,
            ["hidden_act"] = "silu",
            ["hidden_size"] = h,
            ["hyper_layers"] = hyperArray,
            ["initializer_range"] = 0.02,
            ["intermediate_size"] = inter,
            ["max_position_embeddings"] = 32768,
            ["max_window_layers"] = layers,
            ["model_type"] = "mplugowl3",
            ["num_attention_heads"] = heads,
            ["num_hidden_layers"] = layers,
            ["num_key_value_heads"] = kv,
            ["rms_norm_eps"] = 1e-6,
            ["rope_theta"] = 1000000.0,
            ["sliding_window"] = 131072,
            ["tie_word_embeddings"] = tied,
            ["torch_dtype"] = "bfloat16",
            ["transformers_version"] = "4.41.2",
            ["use_cache"] = true,
            ["use_sliding_window"] = false,
        };
        if (variant == Owl3Variant.V241101) cfg["vision_batch_size"] = 16;
        cfg["vision_config"] = vision;
        cfg["vocab_size"] = vocab;
        return cfg;
    }

    /// <summary>Writes a checkpoint folder (created if needed; existing checkpoint files are replaced).</summary>
    /// <returns>The paths of the files written.</returns>
    public static IReadOnlyList<string> Write(string directory, MakeTinyOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Shards, 1, nameof(options));
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any() && !options.Overwrite)
            throw new IOException($"{Path.GetFullPath(directory)}: folder is not empty; refusing to write a random checkpoint over it (use --force)");
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        var configJson = BuildConfigJson(options.Variant, options.Shape);
        string configPath = Path.Combine(directory, Owl3Checkpoint.ConfigFile);
        File.WriteAllText(configPath, configJson.ToJsonString(Indented));
        written.Add(configPath);
        var config = ConfigLoader.LoadModelConfig(configPath, new List<string>());

        string genPath = Path.Combine(directory, Owl3Checkpoint.GenerationConfigFile);
        File.WriteAllText(genPath, BuildGenerationConfig(options.Variant, options.Shape).ToJsonString(Indented));
        written.Add(genPath);

        var projector = options.Variant == Owl3Variant.V241101 ? ProjectorKind.Mlp : ProjectorKind.Linear;
        var manifest = WeightManifest.Build(config, options.Variant, projector);
        var specs = manifest.Specs.Where(s => !(s.Name == "language_model.lm_head.weight" && config.TieWordEmbeddings)).ToList();
        written.AddRange(WriteWeights(directory, specs, options));

        if (options.Shape == ModelShape.Tiny) TokenizerFiles.WriteTiny(directory);
        else TokenizerFiles.WriteRealLayout(directory);
        written.AddRange(new[] { "vocab.json", "merges.txt", "tokenizer_config.json" }.Select(f => Path.Combine(directory, f)));
        return written;
    }

    /// <summary>
    /// Test hook: (re)writes random bf16 weights for <paramref name="config"/> as one `model.safetensors` in
    /// <paramref name="directory"/>, replacing the weights there, so a test that edits `config.json` (head counts,
    /// hyper layers, sizes) of a folder made by <see cref="Write"/> gets a consistent checkpoint. Same tensor set,
    /// projector choice and initialisation as <see cref="Write"/>.
    /// </summary>
    /// <returns>The path of the weights file.</returns>
    public static string WriteWeights(string directory, Owl3Config config, Owl3Variant variant, ulong seed)
    {
        var projector = variant == Owl3Variant.V241101 ? ProjectorKind.Mlp : ProjectorKind.Linear;
        var specs = WeightManifest.Build(config, variant, projector).Specs
            .Where(s => !(s.Name == "language_model.lm_head.weight" && config.TieWordEmbeddings)).ToList();
        return WriteWeights(directory, specs, new MakeTinyOptions(variant, Seed: seed))[0];
    }

    private static JsonObject BuildGenerationConfig(Owl3Variant variant, ModelShape shape)
    {
        if (shape == ModelShape.Tiny)
            return new JsonObject
            {
                ["bos_token_id"] = 500, ["pad_token_id"] = 500, ["eos_token_id"] = new JsonArray(502, 500),
                ["do_sample"] = false, ["transformers_version"] = "4.41.2",
            };
        // spec/CHECKPOINTS.md §4: the Qwen2-Instruct defaults; 241014/241101 most likely use repetition_penalty 1.1.
        return new JsonObject
        {
            ["bos_token_id"] = 151643, ["pad_token_id"] = 151643, ["do_sample"] = true,
            ["eos_token_id"] = new JsonArray(151645, 151643),
            ["repetition_penalty"] = variant == Owl3Variant.V240728 ? 1.05 : 1.1,
            ["temperature"] = 0.7, ["top_p"] = 0.8, ["top_k"] = 20, ["transformers_version"] = "4.37.0",
        };
    }

    private static List<string> WriteWeights(string dir, List<WeightSpec> specs, MakeTinyOptions options)
    {
        foreach (var stale in Directory.EnumerateFiles(dir, "model*.safetensors*"))
            File.Delete(stale);
        int shards = Math.Min(options.Shards, specs.Count);
        var groups = SplitByBytes(specs, shards);
        var paths = new List<string>();
        if (shards == 1)
        {
            string p = Path.Combine(dir, Owl3Checkpoint.WeightsFile);
            WriteShard(p, groups[0], options.Seed);
            paths.Add(p);
            return paths;
        }
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long total = 0;
        for (int i = 0; i < shards; i++)
        {
            string file = $"model-{i + 1:D5}-of-{shards:D5}.safetensors";
            WriteShard(Path.Combine(dir, file), groups[i], options.Seed);
            paths.Add(Path.Combine(dir, file));
            foreach (var s in groups[i]) { weightMap[s.Name] = file; total += s.Shape.ElementCount * 2; }
        }
        var map = new JsonObject();
        foreach (var (k, v) in weightMap) map[k] = v;
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = map };
        string indexPath = Path.Combine(dir, Owl3Checkpoint.IndexFile);
        File.WriteAllText(indexPath, index.ToJsonString(Indented));
        paths.Add(indexPath);
        return paths;
    }

    private static List<List<WeightSpec>> SplitByBytes(List<WeightSpec> specs, int shards)
    {
        long total = specs.Sum(s => s.Shape.ElementCount);
        var groups = Enumerable.Range(0, shards).Select(_ => new List<WeightSpec>()).ToList();
        long cumulative = 0;
        for (int i = 0; i < specs.Count; i++)
        {
            // Never leave a later shard empty: the last (shards - k) tensors go one per shard if needed.
            int target = (int)Math.Min(shards - 1, cumulative * shards / Math.Max(1, total));
            target = Math.Max(target, shards - (specs.Count - i));
            int last = groups.FindLastIndex(g => g.Count > 0);
            if (i > 0) target = Math.Max(target, last);
            target = Math.Min(target, last + 1); // never leave an empty shard behind

            groups[target].Add(specs[i]);
            cumulative += specs[i].Shape.ElementCount;
        }
        return groups;
    }

    private static void WriteShard(string path, List<WeightSpec> specs, ulong seed)
    {
        var writer = new SafeTensorWriter();
        foreach (var spec in specs)
            writer.Add(spec.Name, DType.BF16, spec.Shape, stream => FillRandom(stream, spec, seed));
        writer.WriteTo(path);
    }

    /// <summary>
    /// Scale per tensor kind: norm weights near 1, linear weights and biases uniform(±1/√in) like PyTorch's default
    /// init, embeddings uniform(±1), the static gate uniform(±1) (sigmoid inputs).
    /// </summary>
    private static void FillRandom(Stream stream, WeightSpec spec, ulong seed)
    {
        ulong key = DeterministicRandom.StreamKey(seed, spec.Name);
        long count = spec.Shape.ElementCount;
        bool norm = spec.Name.Contains("norm", StringComparison.Ordinal) && spec.Name.EndsWith(".weight", StringComparison.Ordinal);
        float offset = norm ? 1f : 0f;
        float scale = norm ? 0.1f
            : spec.Name.Contains("embed", StringComparison.Ordinal) || spec.Name.EndsWith(".gate", StringComparison.Ordinal) || spec.Name.EndsWith("probe", StringComparison.Ordinal) ? 1f
            : 1f / MathF.Sqrt(FanIn(spec));
        const int chunk = 1 << 16;
        var bits = new ushort[chunk];
        for (long start = 0; start < count; start += chunk)
        {
            int n = (int)Math.Min(chunk, count - start);
            for (int i = 0; i < n; i++)
                bits[i] = BFloat16.FromSingle(offset + scale * DeterministicRandom.Uniform(key, start + i));
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bits.AsSpan(0, n)));
        }
    }

    private static long FanIn(WeightSpec spec)
    {
        var d = spec.Shape.Dims;
        if (d.Length >= 2)
        {
            long fanIn = 1;
            for (int i = 1; i < d.Length; i++) fanIn *= d[i];
            return fanIn;
        }
        return Math.Max(1, d.Length == 1 ? d[0] : 1);
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
