using System.Text;
using System.Text.Json;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.SafeTensors;

/// <summary>
/// The parsed JSON header of a safetensors file: tensors sorted by offset, and `__metadata__`.
/// Layout: 8-byte little-endian header length n, n bytes of UTF-8 JSON, then the data region;
/// `data_offsets` are relative to the start of the data region.
/// </summary>
public sealed class SafeTensorsHeader
{
    /// <summary>Upper bound the reference implementation puts on the header length.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private SafeTensorsHeader(IReadOnlyList<TensorInfo> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>Tensors in data order.</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    /// <summary>`__metadata__` (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>
    /// Validates the header length field against the file size and returns n.
    /// </summary>
    /// <exception cref="SafeTensorsFormatException">The length field is missing, zero, too large or past the end of the file.</exception>
    public static long ValidateHeaderLength(string path, ReadOnlySpan<byte> first8, long fileLength)
    {
        if (fileLength == 0)
            throw new SafeTensorsFormatException(path, SafeTensorsError.EmptyFile, "file is empty (0 bytes); expected a safetensors file");
        if (fileLength < 8)
            throw new SafeTensorsFormatException(path, SafeTensorsError.TruncatedHeaderLength,
                $"file is {fileLength} bytes, shorter than the 8-byte header length of a safetensors file");
        ulong n = BitConverter.ToUInt64(first8[..8]);
        if (!BitConverter.IsLittleEndian) n = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(n);
        if (n < 2 || n > MaxHeaderBytes)
            throw new SafeTensorsFormatException(path, SafeTensorsError.HeaderLengthOutOfBounds,
                $"header length {n} is out of bounds (2..{MaxHeaderBytes} bytes); not a safetensors file?");
        if ((long)n > fileLength - 8)
            throw new SafeTensorsFormatException(path, SafeTensorsError.HeaderLengthExceedsFile,
                $"header length {n} exceeds the {fileLength - 8} bytes that follow it (file truncated?)");
        return (long)n;
    }

    /// <summary>Parses and validates the JSON header against a data region of <paramref name="dataLength"/> bytes.</summary>
    /// <exception cref="SafeTensorsFormatException">Any structural problem; <see cref="SafeTensorsFormatException.Reason"/> says which.</exception>
    public static SafeTensorsHeader Parse(string path, ReadOnlySpan<byte> json, long dataLength)
    {
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new SafeTensorsFormatException(path, SafeTensorsError.InvalidUtf8, "header is not valid UTF-8");

        var tensors = new List<TensorInfo>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 16 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw Invalid(path, "header is not a JSON object");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                string name = reader.GetString()!;
                if (!names.Add(name))
                    throw new SafeTensorsFormatException(path, SafeTensorsError.DuplicateTensor,
                        $"header names `{name}` twice", name);
                reader.Read();
                if (name == "__metadata__")
                    ReadMetadata(path, ref reader, metadata);
                else
                    tensors.Add(ReadTensor(path, name, ref reader, dataLength));
            }
            if (reader.TokenType != JsonTokenType.EndObject)
                throw Invalid(path, "header JSON ends before its closing brace");
            // Trailing whitespace (the usual space padding) is fine; anything else is not.
            if (reader.Read())
                throw Invalid(path, "header has data after the JSON object");
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException(path, SafeTensorsError.InvalidJson,
                $"header is not valid JSON (byte {e.BytePositionInLine}): {FirstLine(e.Message)}", inner: e);
        }
        catch (InvalidOperationException e)
        {
            // GetString() refuses strings that do not transcode (an escaped lone surrogate such as "\ud800").
            throw new SafeTensorsFormatException(path, SafeTensorsError.InvalidJson, $"header holds an invalid string: {FirstLine(e.Message)}", inner: e);
        }

        tensors.Sort((a, b) => a.DataBegin != b.DataBegin ? a.DataBegin.CompareTo(b.DataBegin) : a.DataEnd.CompareTo(b.DataEnd));
        CheckCoverage(path, tensors, dataLength);
        return new SafeTensorsHeader(tensors, metadata);
    }

    private static void ReadMetadata(string path, ref Utf8JsonReader reader, Dictionary<string, string> metadata)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafeTensorsFormatException(path, SafeTensorsError.InvalidMetadata, "`__metadata__` is not a JSON object");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw new SafeTensorsFormatException(path, SafeTensorsError.InvalidMetadata,
                    $"`__metadata__.{key}` is a {reader.TokenType}, not a string");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw new SafeTensorsFormatException(path, SafeTensorsError.InvalidMetadata, $"`__metadata__` names `{key}` twice");
        }
    }

    private static TensorInfo ReadTensor(string path, string name, ref Utf8JsonReader reader, long dataLength)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Entry(path, name, $"entry is a {reader.TokenType}, not an object");
        string? dtypeName = null;
        List<long>? shape = null;
        List<long>? offsets = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string field = reader.GetString()!;
            reader.Read();
            switch (field)
            {
                case "dtype":
                    if (dtypeName is not null) throw Entry(path, name, "`dtype` given twice");
                    if (reader.TokenType != JsonTokenType.String) throw Entry(path, name, "`dtype` is not a string");
                    dtypeName = reader.GetString()!;
                    break;
                case "shape":
                    if (shape is not null) throw Entry(path, name, "`shape` given twice");
                    shape = ReadIntArray(path, name, "shape", ref reader);
                    break;
                case "data_offsets":
                    if (offsets is not null) throw Entry(path, name, "`data_offsets` given twice");
                    offsets = ReadIntArray(path, name, "data_offsets", ref reader);
                    break;
                default:
                    reader.Skip(); // unknown fields are tolerated, as by the reference reader
                    break;
            }
        }
        if (dtypeName is null) throw Entry(path, name, "missing `dtype`");
        if (shape is null) throw Entry(path, name, "missing `shape`");
        if (offsets is null) throw Entry(path, name, "missing `data_offsets`");
        if (offsets.Count != 2) throw Entry(path, name, $"`data_offsets` has {offsets.Count} entries, expected 2 ([begin, end])");

        if (!DTypeInfo.TryParseSafeTensors(dtypeName, out var dtype))
        {
            if (DTypeInfo.IsValidSafeTensorsButUnsupported(dtypeName))
                throw new UnsupportedDTypeException(path, name, dtypeName);
            throw new SafeTensorsFormatException(path, SafeTensorsError.UnknownDType,
                $"tensor `{name}` has unknown dtype `{dtypeName}` (supported: {DTypeInfo.SupportedList})", name);
        }

        long begin = offsets[0], end = offsets[1];
        if (begin > end || end > dataLength)
            throw new SafeTensorsFormatException(path, SafeTensorsError.OffsetsOutOfFile,
                $"tensor `{name}` has data_offsets [{begin}, {end}] outside the {dataLength}-byte data region (file truncated?)", name);

        var dims = new Shape(shape.ToArray());
        bool fits = dims.TryGetElementCount(out long count) && count <= long.MaxValue / dtype.SizeOf();
        if (!fits || count * dtype.SizeOf() != end - begin)
        {
            string needed = fits ? $"{count * dtype.SizeOf()} bytes" : "more than 2^63 bytes";
            throw new SafeTensorsFormatException(path, SafeTensorsError.SizeMismatch,
                $"tensor `{name}`: shape {dims} of {dtypeName} needs {needed} but data_offsets span {end - begin}", name);
        }
        return new TensorInfo(name, dtype, dims, begin, end);
    }

    private static List<long> ReadIntArray(string path, string tensor, string field, ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw Entry(path, tensor, $"`{field}` is not an array");
        var values = new List<long>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0)
                throw Entry(path, tensor, $"`{field}` holds {Describe(ref reader)}; expected non-negative integers");
            values.Add(v);
        }
        return values;
    }

    private static void CheckCoverage(string path, List<TensorInfo> sorted, long dataLength)
    {
        long cursor = 0;
        TensorInfo? previous = null;
        foreach (var t in sorted)
        {
            if (t.DataBegin < cursor)
                throw new SafeTensorsFormatException(path, SafeTensorsError.OverlappingTensors,
                    $"tensors `{previous!.Name}` [{previous.DataBegin}, {previous.DataEnd}] and `{t.Name}` [{t.DataBegin}, {t.DataEnd}] overlap", t.Name);
            if (t.DataBegin > cursor)
                throw new SafeTensorsFormatException(path, SafeTensorsError.UnreferencedBytes,
                    $"data bytes [{cursor}, {t.DataBegin}) belong to no tensor (hole before `{t.Name}`)", t.Name);
            cursor = t.DataEnd;
            previous = t;
        }
        if (cursor != dataLength)
            throw new SafeTensorsFormatException(path, SafeTensorsError.UnreferencedBytes,
                $"the last tensor ends at data byte {cursor} but the data region holds {dataLength} bytes (trailing bytes)");
    }

    private static string Describe(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.Number => $"the number {Encoding.UTF8.GetString(reader.ValueSpan)}",
        JsonTokenType.String => $"the string \"{reader.GetString()}\"",
        _ => $"a {reader.TokenType}",
    };

    private static SafeTensorsFormatException Invalid(string path, string message) =>
        new(path, SafeTensorsError.InvalidJson, message);

    private static SafeTensorsFormatException Entry(string path, string tensor, string message) =>
        new(path, SafeTensorsError.InvalidTensorEntry, $"tensor `{tensor}`: {message}", tensor);

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
