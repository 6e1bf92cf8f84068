using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Engine;

/// <summary>
/// Projected image embeddings of recently seen crops, keyed by a SHA-256 of the crop's pixels, bounded by bytes
/// (least recently used out first). A chat that keeps talking about the same picture, or an evaluation that reuses
/// images, pays the vision tower once per crop instead of once per request. Each crop is encoded on its own
/// (SigLIP attends within a crop), so a cached crop's rows are what a fresh encoding of it yields. Thread-safe.
/// </summary>
public sealed class ImageEmbeddingCache(long capacityBytes)
{
    private readonly Dictionary<string, LinkedListNode<(string Key, float[] Rows)>> _map = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Key, float[] Rows)> _lru = new();
    private long _bytes;

    /// <summary>Bytes the cache may hold (0 disables it).</summary>
    public long CapacityBytes { get; } = capacityBytes >= 0 ? capacityBytes : throw new ArgumentOutOfRangeException(nameof(capacityBytes));

    /// <summary>Crops served from the cache.</summary>
    public long Hits { get; private set; }

    /// <summary>Crops that had to be encoded.</summary>
    public long Misses { get; private set; }

    /// <summary>Bytes held now.</summary>
    public long Bytes { get { lock (_map) return _bytes; } }

    /// <summary>
    /// The embeddings `[crops·patches, hidden]` of <paramref name="pixels"/> `[crops, 3, S, S]`: cached crops are copied,
    /// the others are encoded together by <paramref name="encode"/> (pixels of the missing crops → their embeddings) and
    /// remembered. <paramref name="keys"/> are the crops' <see cref="CropKeys"/> when the caller has them already.
    /// </summary>
    public Tensor Encode(Tensor pixels, int patches, Func<Tensor, Tensor> encode, string[]? keys = null)
    {
        int crops = pixels.Dim(0);
        int perCrop = pixels.Length / Math.Max(1, crops);
        if (CapacityBytes == 0 || crops == 0) return encode(pixels);
        keys ??= CropKeys(pixels);
        if (keys.Length != crops) throw new ArgumentException($"{keys.Length} crop keys for {crops} crops", nameof(keys));
        var found = new float[crops][];
        var missing = new List<int>();
        var missingKeys = new HashSet<string>(StringComparer.Ordinal); // a crop repeated within the request is encoded once
        lock (_map)
        {
            for (int c = 0; c < crops; c++)
            {
                if (_map.TryGetValue(keys[c], out var node))
                {
                    _lru.Remove(node);
                    _lru.AddFirst(node);
                    found[c] = node.Value.Rows;
                    Hits++;
                }
                else if (missingKeys.Add(keys[c]))
                    missing.Add(c);
            }
            Misses += crops - found.Count(f => f is not null);
        }
        Tensor? fresh = null;
        if (missing.Count > 0)
        {
            var dims = pixels.Dims.ToArray();
            dims[0] = missing.Count;
            var sub = new Tensor(dims);
            for (int i = 0; i < missing.Count; i++) pixels.Data.AsSpan(missing[i] * perCrop, perCrop).CopyTo(sub.Data.AsSpan(i * perCrop, perCrop));
            fresh = encode(sub);
        }
        int hidden = fresh?.Cols ?? found.First(f => f is not null)!.Length / patches;
        var result = new Tensor(crops * patches, hidden);
        int rowFloats = patches * hidden;
        var byKey = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int i = 0; i < missing.Count; i++) byKey[keys[missing[i]]] = fresh!.Data.AsSpan(i * rowFloats, rowFloats).ToArray();
        for (int c = 0; c < crops; c++)
        {
            var rows = found[c] ?? byKey[keys[c]];
            rows.CopyTo(result.Data.AsSpan(c * rowFloats, rowFloats));
        }
        lock (_map)
            foreach (var (key, rows) in byKey) Remember(key, rows);
        return result;
    }

    /// <summary>SHA-256 of each crop's pixels `[crops, …]`, hex.</summary>
    public static string[] CropKeys(Tensor pixels)
    {
        int crops = pixels.Dim(0), perCrop = pixels.Length / Math.Max(1, crops);
        var keys = new string[crops];
        for (int c = 0; c < crops; c++)
            keys[c] = Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(pixels.Data.AsSpan(c * perCrop, perCrop))));
        return keys;
    }

    private void Remember(string key, float[] rows)
    {
        long size = (long)rows.Length * sizeof(float);
        if (size > CapacityBytes || _map.ContainsKey(key)) return;
        while (_bytes + size > CapacityBytes && _lru.Last is { } last)
        {
            _lru.RemoveLast();
            _map.Remove(last.Value.Key);
            _bytes -= (long)last.Value.Rows.Length * sizeof(float);
        }
        _map[key] = _lru.AddFirst((key, rows));
        _bytes += size;
    }
}
