using System.Text;
using System.Text.Json;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.SafeTensors;

/// <summary>
/// Writes safetensors files in the layout the reference writer uses: 8-byte length, JSON header padded with
/// spaces to a multiple of 8, then the tensors back to back in the order they were added.
/// Data is streamed, so multi-gigabyte files never sit in memory.
/// </summary>
public sealed class SafeTensorWriter
{
    /// <summary>Writes exactly the tensor's byte length to the stream.</summary>
    public delegate void DataWriter(Stream destination);

    private readonly List<(string Name, DType DType, Shape Shape, long Bytes, DataWriter Write)> _tensors = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>Metadata written as `__metadata__` (defaults to {"format": "pt"}, as PyTorch writes).</summary>
    public Dictionary<string, string> Metadata { get; } = new() { ["format"] = "pt" };

    /// <summary>Number of tensors added.</summary>
    public int Count => _tensors.Count;

    /// <summary>Total bytes of tensor data added.</summary>
    public long DataBytes => _tensors.Sum(t => t.Bytes);

    /// <summary>Adds a tensor whose bytes are produced by <paramref name="write"/> when the file is written.</summary>
    /// <exception cref="ArgumentException">The name was added before.</exception>
    public void Add(string name, DType dtype, Shape shape, DataWriter write)
    {
        if (name == "__metadata__") throw new ArgumentException("`__metadata__` is reserved for the header's metadata", nameof(name));
        if (!_names.Add(name)) throw new ArgumentException($"tensor `{name}` added twice", nameof(name));
        _tensors.Add((name, dtype, shape, checked(shape.ElementCount * dtype.SizeOf()), write));
    }

    /// <summary>Adds a tensor from bytes in memory.</summary>
    public void Add(string name, DType dtype, Shape shape, ReadOnlyMemory<byte> data)
    {
        long expected = checked(shape.ElementCount * dtype.SizeOf());
        if (data.Length != expected)
            throw new ArgumentException($"tensor `{name}`: {data.Length} bytes given, shape {shape} of {dtype.SafeTensorsName()} needs {expected}", nameof(data));
        Add(name, dtype, shape, s => s.Write(data.Span));
    }

    /// <summary>Adds an fp32 tensor.</summary>
    public void AddF32(string name, Shape shape, float[] values) =>
        Add(name, DType.F32, shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>Adds a bf16 tensor rounded from fp32 values.</summary>
    public void AddBF16(string name, Shape shape, ReadOnlySpan<float> values)
    {
        var bits = new ushort[values.Length];
        BFloat16.FromSingle(values, bits);
        Add(name, DType.BF16, shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(bits.AsSpan()).ToArray());
    }

    /// <summary>The header bytes (length prefix excluded), space-padded to a multiple of 8.</summary>
    public byte[] BuildHeader()
    {
        using var ms = new MemoryStream();
        using (var json = new Utf8JsonWriter(ms))
        {
            json.WriteStartObject();
            if (Metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in Metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in _tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.SafeTensorsName());
                json.WriteStartArray("shape");
                foreach (var d in t.Shape.Dims) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.Bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.Bytes;
            }
            json.WriteEndObject();
        }
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }

    /// <summary>Writes the file, through a temporary file renamed into place so no half-written file is left behind.</summary>
    /// <exception cref="InvalidOperationException">A data writer wrote the wrong number of bytes.</exception>
    public void WriteTo(string path)
    {
        var header = BuildHeader();
        string tmp = path + ".partial";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> len = stackalloc byte[8];
                BitConverter.TryWriteBytes(len, (ulong)header.Length);
                fs.Write(len);
                fs.Write(header);
                foreach (var t in _tensors)
                {
                    long before = fs.Position;
                    t.Write(fs);
                    if (fs.Position - before != t.Bytes)
                        throw new InvalidOperationException($"tensor `{t.Name}`: data writer wrote {fs.Position - before} bytes, expected {t.Bytes}");
                }
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    /// <summary>Header text, for debugging.</summary>
    public override string ToString() => Encoding.UTF8.GetString(BuildHeader());
}
