using Parquet;
using Parquet.Serialization;

namespace Owl3Native.Eval.Data;

/// <summary>
/// Rows of a parquet file (Hugging Face dataset shards) through Parquet.Net's untyped reader, row group by row group.
/// Nested columns come back as lists and objects; an HF `Image` column is an object `{bytes, path}` whose bytes stay
/// encoded (the engine's image loader decodes them later). With <c>lazyBinary</c>, binary values are not kept: each
/// becomes a <see cref="LazyBytes"/> that re-reads its row group when asked (the last group read is cached), so a large
/// image set is never held in memory at once.
/// </summary>
public static class ParquetRows
{
    /// <summary>Reads every row of <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DatasetFormatException">The file is not a readable parquet file.</exception>
    public static IReadOnlyList<DataRow> Read(string path, bool lazyBinary = false)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        var groups = new GroupCache(path);
        var rows = new List<DataRow>();
        for (int g = 0; g < groups.Count; g++)
        {
            var data = groups.Load(g, keep: false);
            for (int j = 0; j < data.Count; j++)
            {
                var values = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, v) in data[j])
                    values[k] = lazyBinary ? Lazy(RowValues.FromParquet(v), groups, g, j, [k]) : RowValues.FromParquet(v);
                rows.Add(new DataRow(values, path, $"row {rows.Count}"));
            }
        }
        return rows;
    }

    private static object? Lazy(object? value, GroupCache groups, int group, int row, object[] path) => value switch
    {
        byte[] => new LazyBytes(() => groups.Bytes(group, row, path)),
        Dictionary<string, object?> m => m.ToDictionary(kv => kv.Key, kv => Lazy(kv.Value, groups, group, row, [.. path, kv.Key]), StringComparer.Ordinal),
        List<object?> l => l.Select((x, i) => Lazy(x, groups, group, row, [.. path, i])).ToList(),
        _ => value,
    };

    /// <summary>Reads row groups of one file; keeps the last one asked for by <see cref="Bytes"/>.</summary>
    private sealed class GroupCache
    {
        private readonly string _path;
        private readonly Lock _lock = new();
        private int _cachedGroup = -1;
        private IList<Dictionary<string, object>>? _cached;

        public GroupCache(string path)
        {
            _path = path;
            Count = Run(async () =>
            {
                await using var stream = File.OpenRead(path);
                await using var reader = await ParquetReader.CreateAsync(stream).ConfigureAwait(false);
                return reader.RowGroupCount;
            });
        }

        public int Count { get; }

        public IList<Dictionary<string, object>> Load(int group, bool keep)
        {
            lock (_lock)
            {
                if (group == _cachedGroup && _cached is not null) return _cached;
                var data = Run(async () =>
                {
                    await using var stream = File.OpenRead(_path);
                    return (await ParquetSerializer.DeserializeUntypedAsync(stream, null, group).ConfigureAwait(false)).Data;
                });
                if (keep) (_cachedGroup, _cached) = (group, data);
                return data;
            }
        }

        public byte[] Bytes(int group, int row, object[] path)
        {
            object? v = RowValues.FromParquet(Load(group, keep: true)[row].GetValueOrDefault((string)path[0]));
            foreach (var step in path.Skip(1))
                v = step is string key ? (v as IReadOnlyDictionary<string, object?>)?.GetValueOrDefault(key) : (v as IReadOnlyList<object?>)?[(int)step];
            return v as byte[] ?? throw new DatasetFormatException(_path, $"row group {group} row {row}: the binary value at {string.Join(".", path)} changed since the file was read");
        }

        private T Run<T>(Func<Task<T>> read)
        {
            try
            {
                return read().GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException or ApplicationException)
            {
                throw new DatasetFormatException(_path, $"not a readable parquet file: {e.Message}", e);
            }
        }
    }
}

/// <summary>Binary data of a parquet cell, read again from the file when needed (see <see cref="ParquetRows"/>).</summary>
public sealed class LazyBytes(Func<byte[]> load)
{
    /// <summary>Reads the bytes.</summary>
    public byte[] Load() => load();
}
