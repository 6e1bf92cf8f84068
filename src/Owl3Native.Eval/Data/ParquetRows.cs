using Parquet;
using Parquet.Serialization;

namespace Owl3Native.Eval.Data;

/// <summary>
/// Rows of a parquet file (Hugging Face dataset shards) through Parquet.Net's untyped reader, row group by row group.
/// Nested columns come back as lists and objects; an HF `Image` column is an object `{bytes, path}` whose bytes stay
/// encoded (the engine's image loader decodes them later).
/// </summary>
public static class ParquetRows
{
    /// <summary>Reads every row of <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DatasetFormatException">The file is not a readable parquet file.</exception>
    public static IReadOnlyList<DataRow> Read(string path) => ReadAsync(path).GetAwaiter().GetResult();

    /// <summary>Reads every row of <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DatasetFormatException">The file is not a readable parquet file.</exception>
    public static async Task<IReadOnlyList<DataRow>> ReadAsync(string path, CancellationToken cancellation = default)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        var rows = new List<DataRow>();
        try
        {
            await using var stream = File.OpenRead(path);
            int groups;
            await using (var reader = await ParquetReader.CreateAsync(stream, null, leaveStreamOpen: true, cancellation).ConfigureAwait(false))
                groups = reader.RowGroupCount;
            for (int g = 0; g < groups; g++)
            {
                stream.Position = 0;
                var result = await ParquetSerializer.DeserializeUntypedAsync(stream, null, g, cancellation).ConfigureAwait(false);
                foreach (var row in result.Data)
                {
                    var values = new Dictionary<string, object?>(StringComparer.Ordinal);
                    foreach (var (k, v) in row) values[k] = RowValues.FromParquet(v);
                    rows.Add(new DataRow(values, path, $"row {rows.Count}"));
                }
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException or ApplicationException)
        {
            throw new DatasetFormatException(path, $"not a readable parquet file: {e.Message}", e);
        }
        return rows;
    }
}
