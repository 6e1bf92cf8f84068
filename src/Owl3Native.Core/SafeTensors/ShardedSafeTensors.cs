using System.Text.Json;

namespace Owl3Native.Core.SafeTensors;

/// <summary>
/// A checkpoint saved in shards: `model.safetensors.index.json` (`weight_map`: tensor → shard file) plus the
/// shard files beside it. Every shard is validated and mapped; lookups go to the shard the index names.
/// </summary>
public sealed class ShardedSafeTensors : ITensorSource, IDisposable
{
    private readonly Dictionary<string, SafeTensorFile> _owner;
    private readonly List<SafeTensorFile> _shards;

    private ShardedSafeTensors(string indexPath, List<SafeTensorFile> shards, Dictionary<string, SafeTensorFile> owner, List<string> warnings)
    {
        IndexPath = indexPath;
        _shards = shards;
        _owner = owner;
        Warnings = warnings;
    }

    /// <summary>Path of the index file.</summary>
    public string IndexPath { get; }

    /// <summary>The shard files, in the order of first mention in the index.</summary>
    public IReadOnlyList<SafeTensorFile> Shards => _shards;

    /// <summary>Non-fatal findings (tensors in a shard that the index does not list).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <inheritdoc/>
    public IReadOnlyCollection<string> Names => _owner.Keys;

    /// <summary>Opens the index and every shard it names.</summary>
    /// <exception cref="CheckpointNotFoundException">The index or a shard is missing.</exception>
    /// <exception cref="SafeTensorsFormatException">The index is malformed or disagrees with the shards, or a shard is malformed.</exception>
    public static ShardedSafeTensors Open(string indexPath)
    {
        indexPath = Path.GetFullPath(indexPath);
        if (!File.Exists(indexPath)) throw new CheckpointNotFoundException(indexPath, "file not found");
        string dir = Path.GetDirectoryName(indexPath)!;
        var weightMap = ReadWeightMap(indexPath);

        var shards = new List<SafeTensorFile>();
        var byFile = new Dictionary<string, SafeTensorFile>(StringComparer.Ordinal);
        try
        {
            var owner = new Dictionary<string, SafeTensorFile>(StringComparer.Ordinal);
            foreach (var (tensor, file) in weightMap)
            {
                if (!byFile.TryGetValue(file, out var shard))
                {
                    string shardPath = Path.Combine(dir, file);
                    if (!File.Exists(shardPath))
                        throw new CheckpointNotFoundException(shardPath, $"shard named by {Path.GetFileName(indexPath)} (for `{tensor}`) not found");
                    shard = SafeTensorFile.Open(shardPath);
                    byFile[file] = shard;
                    shards.Add(shard);
                }
                if (!shard.TryGetInfo(tensor, out _))
                    throw new SafeTensorsFormatException(indexPath, SafeTensorsError.InvalidIndex,
                        $"the index places `{tensor}` in {file}, which has no such tensor", tensor);
                owner[tensor] = shard;
            }

            var warnings = new List<string>();
            foreach (var shard in shards)
            {
                foreach (var name in shard.Names)
                {
                    if (!owner.TryGetValue(name, out var listed))
                        warnings.Add($"{Path.GetFileName(shard.Path)}: tensor `{name}` is not listed in the index (ignored)");
                    else if (!ReferenceEquals(listed, shard))
                        throw new SafeTensorsFormatException(indexPath, SafeTensorsError.InvalidIndex,
                            $"tensor `{name}` is stored in both {Path.GetFileName(listed.Path)} and {Path.GetFileName(shard.Path)}", name);
                }
            }
            return new ShardedSafeTensors(indexPath, shards, owner, warnings);
        }
        catch
        {
            foreach (var s in shards) s.Dispose();
            throw;
        }
    }

    private static List<(string Tensor, string File)> ReadWeightMap(string indexPath)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException(indexPath, SafeTensorsError.InvalidIndex, $"not valid JSON: {e.Message.Split('\n')[0]}", inner: e);
        }
        using (doc)
        {
            try
            {
                return ReadWeightMap(indexPath, doc);
            }
            catch (InvalidOperationException e)
            {
                // A name or value that does not transcode (an escaped lone surrogate).
                throw new SafeTensorsFormatException(indexPath, SafeTensorsError.InvalidIndex, $"`weight_map` holds an invalid string: {e.Message}", inner: e);
            }
        }
    }

    private static List<(string Tensor, string File)> ReadWeightMap(string indexPath, JsonDocument doc)
    {
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object ||
                !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsFormatException(indexPath, SafeTensorsError.InvalidIndex, "no `weight_map` object");
            var entries = new List<(string, string)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (!seen.Add(p.Name))
                    throw new SafeTensorsFormatException(indexPath, SafeTensorsError.InvalidIndex, $"`weight_map` names `{p.Name}` twice", p.Name);
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new SafeTensorsFormatException(indexPath, SafeTensorsError.InvalidIndex, $"`weight_map.{p.Name}` is not a string", p.Name);
                string file = p.Value.GetString()!;
                // Shards live beside the index: refuse paths that would reach elsewhere.
                if (file.Length == 0 || file != Path.GetFileName(file) || file is "." or "..")
                    throw new SafeTensorsFormatException(indexPath, SafeTensorsError.InvalidIndex,
                        $"`weight_map.{p.Name}` = \"{file}\" is not a file name in the checkpoint folder", p.Name);
                entries.Add((p.Name, file));
            }
            if (entries.Count == 0)
                throw new SafeTensorsFormatException(indexPath, SafeTensorsError.InvalidIndex, "`weight_map` is empty");
            return entries;
        }
    }

    /// <inheritdoc/>
    public bool TryGetInfo(string name, out TensorInfo info)
    {
        if (_owner.TryGetValue(name, out var shard)) return shard.TryGetInfo(name, out info);
        info = null!;
        return false;
    }

    /// <inheritdoc/>
    public string FileOf(string name) => _owner.TryGetValue(name, out var shard) ? shard.Path : IndexPath;

    /// <inheritdoc/>
    public TensorView Get(string name) =>
        _owner.TryGetValue(name, out var shard) ? shard.Get(name) : throw new KeyNotFoundException($"{IndexPath}: no tensor named `{name}`");

    /// <summary>Unmaps every shard. Idempotent.</summary>
    public void Dispose()
    {
        foreach (var s in _shards) s.Dispose();
    }
}
