using System.Text.Json;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Verification;

/// <summary>
/// A golden folder in the schema of ../shared/golden/README.md: `golden.json` (cases, marker starts, case metadata)
/// and `golden.safetensors` (inputs and the original implementation's outputs).
/// </summary>
public sealed class GoldenSet : IDisposable
{
    private readonly SafeTensorFile _tensors;

    private GoldenSet(string dir, JsonDocument json, SafeTensorFile tensors)
    {
        Directory = dir;
        Json = json;
        _tensors = tensors;
    }

    /// <summary>The folder.</summary>
    public string Directory { get; }

    /// <summary>golden.json.</summary>
    public JsonDocument Json { get; }

    /// <summary>Tensor names of golden.safetensors.</summary>
    public IEnumerable<string> Names => _tensors.Names.Order(StringComparer.Ordinal);

    /// <summary>Opens `golden.json` and `golden.safetensors`.</summary>
    /// <exception cref="Core.CheckpointNotFoundException">A file is missing.</exception>
    public static GoldenSet Open(string dir)
    {
        dir = Path.GetFullPath(dir);
        string jsonPath = Path.Combine(dir, "golden.json");
        if (!File.Exists(jsonPath)) throw new Core.CheckpointNotFoundException(jsonPath, "file not found (not a golden folder?)");
        var tensors = SafeTensorFile.Open(Path.Combine(dir, "golden.safetensors"));
        try
        {
            return new GoldenSet(dir, JsonDocument.Parse(File.ReadAllBytes(jsonPath)), tensors);
        }
        catch
        {
            tensors.Dispose();
            throw;
        }
    }

    /// <summary>Whether a tensor exists.</summary>
    public bool Has(string name) => _tensors.TryGetInfo(name, out _);

    /// <summary>Shape of a tensor.</summary>
    public int[] Shape(string name) => _tensors.Get(name).Shape.Dims.ToArray().Select(d => checked((int)d)).ToArray();

    /// <summary>A float tensor as fp32.</summary>
    public Tensor Floats(string name) => new(_tensors.Get(name).ToFloatArray(), Shape(name));

    /// <summary>An integer tensor (I64).</summary>
    public long[] Longs(string name) => _tensors.Get(name).AsSpan<long>().ToArray();

    /// <summary>
    /// Case <paramref name="name"/>'s pixel_values cut per batch row: each row's crops in order (as many as its marker
    /// starts), null for a row without images.
    /// </summary>
    public Tensor?[] RowPixels(string name, int[][] starts)
    {
        var pixels = Has($"case.{name}.pixel_values") ? Floats($"case.{name}.pixel_values") : null;
        var rows = new Tensor?[starts.Length];
        int crop = 0;
        for (int r = 0; r < starts.Length; r++)
        {
            if (starts[r].Length == 0) continue;
            int per = pixels!.Length / pixels.Dim(0);
            rows[r] = new Tensor(pixels.Data.AsSpan(crop * per, starts[r].Length * per).ToArray(), starts[r].Length, pixels.Dim(1), pixels.Dim(2), pixels.Dim(3));
            crop += starts[r].Length;
        }
        return rows;
    }

    /// <summary>`cases` of golden.json.</summary>
    public IEnumerable<(string Name, JsonElement Case)> Cases =>
        Json.RootElement.GetProperty("cases").EnumerateObject().Select(p => (p.Name, p.Value));

    /// <summary>
    /// Marker starts s_j per batch row: `media_starts` where given (240728 goldens: a list, or a list per row), else
    /// the 241101 `media_offset` (a list of start lists, one per row).
    /// </summary>
    public static int[][] MarkerStarts(JsonElement c, int rows)
    {
        JsonElement src;
        if (c.TryGetProperty("media_starts", out src)) { }
        else if (c.TryGetProperty("media_offset", out src) && src.ValueKind == JsonValueKind.Array) { }
        else return Enumerable.Range(0, rows).Select(_ => Array.Empty<int>()).ToArray();
        var items = src.EnumerateArray().ToArray();
        bool nested = items.Length > 0 && items[0].ValueKind == JsonValueKind.Array;
        if (!nested) return [items.Select(e => e.GetInt32()).ToArray()];
        return items.Select(row => row.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
    }

    /// <summary>Closes the tensor file.</summary>
    public void Dispose()
    {
        _tensors.Dispose();
        Json.Dispose();
    }
}
