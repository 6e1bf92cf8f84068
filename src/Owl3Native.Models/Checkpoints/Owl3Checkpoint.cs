using Owl3Native.Core;
using Owl3Native.Core.Config;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models.Checkpoints;

/// <summary>
/// An opened, fully validated mPLUG-Owl3 checkpoint folder: config, generation config, memory-mapped weights
/// (one `model.safetensors` or a sharded index), the detected variant, and non-fatal findings.
/// Opening either succeeds completely or throws one <see cref="CheckpointException"/> with a one-line message.
/// </summary>
public sealed class Owl3Checkpoint : IDisposable
{
    /// <summary>The single-file weights name of every release.</summary>
    public const string WeightsFile = "model.safetensors";
    /// <summary>The index of a sharded save.</summary>
    public const string IndexFile = "model.safetensors.index.json";
    /// <summary>The config file.</summary>
    public const string ConfigFile = "config.json";
    /// <summary>The generation defaults file.</summary>
    public const string GenerationConfigFile = "generation_config.json";
    /// <summary>Tokenizer files a folder may hold.</summary>
    public static IReadOnlyList<string> TokenizerFileNames { get; } = ["vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"];

    private readonly IDisposable _weightsOwner;

    private Owl3Checkpoint(string directory, Owl3Config config, GenerationConfig generation, bool hasGenerationConfig,
        ITensorSource weights, IDisposable owner, IReadOnlyList<string> weightFiles, VariantDetection detection,
        WeightManifest manifest, IReadOnlyList<string> extraTensors, List<string> warnings)
    {
        Directory = directory;
        Config = config;
        GenerationConfig = generation;
        HasGenerationConfig = hasGenerationConfig;
        Weights = weights;
        _weightsOwner = owner;
        WeightFiles = weightFiles;
        Variant = detection.Variant;
        Projector = detection.Projector;
        Manifest = manifest;
        ExtraTensors = extraTensors;
        Warnings = warnings;
        TokenizerFiles = TokenizerFileNames.Where(f => File.Exists(Path.Combine(directory, f))).ToArray();
    }

    /// <summary>Full path of the folder.</summary>
    public string Directory { get; }

    /// <summary>Validated `config.json`.</summary>
    public Owl3Config Config { get; }

    /// <summary>`generation_config.json`, or the defaults when the folder has none.</summary>
    public GenerationConfig GenerationConfig { get; }

    /// <summary>Whether the folder has a `generation_config.json`.</summary>
    public bool HasGenerationConfig { get; }

    /// <summary>The weights (zero-copy views).</summary>
    public ITensorSource Weights { get; }

    /// <summary>The safetensors files the weights live in.</summary>
    public IReadOnlyList<string> WeightFiles { get; }

    /// <summary>Hyper-attention variant, from the weight keys.</summary>
    public Owl3Variant Variant { get; }

    /// <summary>Projector kind, from the weight keys.</summary>
    public ProjectorKind Projector { get; }

    /// <summary>What the model expects.</summary>
    public WeightManifest Manifest { get; }

    /// <summary>Tensors the manifest does not know (tolerated, reported).</summary>
    public IReadOnlyList<string> ExtraTensors { get; }

    /// <summary>Non-fatal findings.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Tokenizer files present in the folder.</summary>
    public IReadOnlyList<string> TokenizerFiles { get; }

    /// <summary>Opens and validates a checkpoint folder.</summary>
    /// <exception cref="CheckpointNotFoundException">The folder, its config or its weights are missing.</exception>
    /// <exception cref="CheckpointConfigException">The config is invalid.</exception>
    /// <exception cref="SafeTensorsFormatException">A weights file is malformed.</exception>
    /// <exception cref="CheckpointFormatException">The weights disagree with the config.</exception>
    public static Owl3Checkpoint Open(string directory)
    {
        if (string.IsNullOrWhiteSpace(directory))
            throw new CheckpointNotFoundException("(empty path)", "no checkpoint folder given");
        directory = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(directory))
            throw new CheckpointNotFoundException(directory, File.Exists(directory) ? "is a file; expected a checkpoint folder" : "folder not found");
        var warnings = new List<string>();
        var config = ConfigLoader.LoadModelConfig(Path.Combine(directory, ConfigFile), warnings);

        string genPath = Path.Combine(directory, GenerationConfigFile);
        bool hasGen = File.Exists(genPath);
        var generation = hasGen ? ConfigLoader.LoadGenerationConfig(genPath) : GenerationConfig.Default;
        if (!hasGen) warnings.Add($"no {GenerationConfigFile}; sampling defaults are transformers' and terminators come from the tokenizer");

        var (weights, owner, files) = OpenWeights(directory, warnings);
        try
        {
            var detection = VariantDetector.Detect(config, weights, files.Count == 1 ? files[0] : Path.Combine(directory, IndexFile));
            warnings.AddRange(detection.Warnings);
            var manifest = WeightManifest.Build(config, detection.Variant, detection.Projector);
            var extras = CheckAgainstManifest(manifest, weights, config, warnings);
            return new Owl3Checkpoint(directory, config, generation, hasGen, weights, owner, files, detection, manifest, extras, warnings);
        }
        catch
        {
            owner.Dispose();
            throw;
        }
    }

    private static (ITensorSource, IDisposable, IReadOnlyList<string>) OpenWeights(string dir, List<string> warnings)
    {
        string single = Path.Combine(dir, WeightsFile), index = Path.Combine(dir, IndexFile);
        if (File.Exists(single))
        {
            if (File.Exists(index)) warnings.Add($"both {WeightsFile} and {IndexFile} exist; using {WeightsFile}");
            var f = SafeTensorFile.Open(single);
            return (f, f, [f.Path]);
        }
        if (File.Exists(index))
        {
            var s = ShardedSafeTensors.Open(index);
            warnings.AddRange(s.Warnings);
            return (s, s, s.Shards.Select(x => x.Path).ToArray());
        }
        string hint = File.Exists(Path.Combine(dir, "pytorch_model.bin")) || System.IO.Directory.EnumerateFiles(dir, "pytorch_model*.bin").Any()
            ? " (PyTorch .bin weights are not supported: save the model with safetensors)" : "";
        throw new CheckpointNotFoundException(dir, $"no weights: expected {WeightsFile} or {IndexFile}{hint}");
    }

    private static List<string> CheckAgainstManifest(WeightManifest manifest, ITensorSource weights, Owl3Config config, List<string> warnings)
    {
        foreach (var spec in manifest.Specs)
        {
            if (!weights.TryGetInfo(spec.Name, out var info))
            {
                if (spec.Role == WeightRole.Required)
                    throw new CheckpointFormatException(weights.FileOf(spec.Name),
                        $"missing tensor `{spec.Name}` (expected {spec.Shape} in BF16, F16 or F32)") { TensorName = spec.Name };
                continue;
            }
            bool dtypeOk = info.DType is DType.BF16 or DType.F16 or DType.F32;
            bool shapeOk = info.Shape.Equals(spec.Shape);
            if (spec.Role == WeightRole.Required || (spec.Name == "language_model.lm_head.weight"))
            {
                if (!shapeOk)
                    throw new CheckpointFormatException(weights.FileOf(spec.Name),
                        $"tensor `{spec.Name}` has shape {info.Shape}, expected {spec.Shape}") { TensorName = spec.Name };
                if (!dtypeOk)
                    throw new CheckpointFormatException(weights.FileOf(spec.Name),
                        $"tensor `{spec.Name}` has dtype {info.DType.SafeTensorsName()}, expected BF16, F16 or F32") { TensorName = spec.Name };
            }
            else if (!shapeOk || !dtypeOk)
            {
                warnings.Add($"unused tensor `{spec.Name}` is {info.DType.SafeTensorsName()} {info.Shape}, expected {spec.Shape} (ignored)");
            }
        }
        if (config.TieWordEmbeddings && weights.TryGetInfo("language_model.lm_head.weight", out _))
            warnings.Add("`language_model.lm_head.weight` is present but `tie_word_embeddings` is true: the embedding table is used as lm_head");

        var extras = weights.Names.Where(n => !manifest.TryGet(n, out _)).Order(StringComparer.Ordinal).ToList();
        if (extras.Count > 0)
            warnings.Add($"{extras.Count} tensor(s) the model does not use: " + string.Join(", ", extras.Take(5).Select(e => $"`{e}`")) + (extras.Count > 5 ? ", ..." : ""));
        return extras;
    }

    /// <summary>Unmaps the weights. Idempotent.</summary>
    public void Dispose() => _weightsOwner.Dispose();
}
