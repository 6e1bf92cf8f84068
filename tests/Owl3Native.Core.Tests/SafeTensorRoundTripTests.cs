using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;
using Owl3Native.TestKit;

namespace Owl3Native.Core.Tests;

/// <summary>SafeTensorWriter → SafeTensorFile.Open: names, dtypes, shapes, bytes, metadata and view lifetimes.</summary>
public sealed class SafeTensorRoundTripTests : IDisposable
{
    private static readonly float[] BF16Values = [1f, -2f, 0.5f, 3f, 1.5f, -0.25f];
    private static readonly Half[] F16Values = [(Half)1f, (Half)(-0.5f), (Half)65504f, (Half)0.099975586f, Half.NegativeZero];
    private static readonly float[] F32Values = [1.25f, -7f, 1e-30f, float.MaxValue];
    private static readonly long[] I64Values = [long.MinValue, -1, long.MaxValue];
    private static readonly byte[] U8Values = [0, 1, 2, 127, 128, 254, 255];
    private static readonly byte[] BoolValues = [1, 0, 0, 1];

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Dictionary<string, (DType DType, long[] Shape, byte[] Bytes)> Expected()
    {
        var bf16 = new ushort[BF16Values.Length];
        BFloat16.FromSingle(BF16Values, bf16);
        return new()
        {
            ["model.bf16"] = (DType.BF16, [2, 3], MemoryMarshal.AsBytes(bf16.AsSpan()).ToArray()),
            ["model.f16"] = (DType.F16, [5], MemoryMarshal.AsBytes(F16Values.AsSpan()).ToArray()),
            ["model.f32"] = (DType.F32, [2, 2], MemoryMarshal.AsBytes(F32Values.AsSpan()).ToArray()),
            ["ids.i64"] = (DType.I64, [3], MemoryMarshal.AsBytes(I64Values.AsSpan()).ToArray()),
            ["pixels.u8"] = (DType.U8, [7], U8Values),
            ["mask.bool"] = (DType.Bool, [2, 2], BoolValues),
            ["scalar"] = (DType.F32, [], BitConverter.GetBytes(42f)),
            ["empty"] = (DType.F32, [0, 4], []),
        };
    }

    private string WriteAll()
    {
        var writer = new SafeTensorWriter();
        writer.Metadata["note"] = "héllo \"quoted\"";
        foreach (var (name, (dtype, shape, bytes)) in Expected())
            writer.Add(name, dtype, new Shape(shape), bytes);
        string path = _dir.File("model.safetensors");
        writer.WriteTo(path);
        return path;
    }

    [Fact]
    public void Round_trip_keeps_names_dtypes_shapes_and_bytes()
    {
        using var file = SafeTensorFile.Open(WriteAll());
        var expected = Expected();

        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), file.Names.Order(StringComparer.Ordinal));
        foreach (var (name, (dtype, shape, bytes)) in expected)
        {
            Assert.True(file.TryGetInfo(name, out var info), name);
            Assert.Equal(dtype, info.DType);
            Assert.Equal(new Shape(shape), info.Shape);
            var view = file.Get(name);
            Assert.Equal(name, view.Name);
            Assert.Equal(dtype, view.DType);
            Assert.Equal(bytes.Length, view.ByteLength);
            Assert.Equal(bytes, view.Bytes.ToArray());
            Assert.Equal(file.Path, view.FilePath);
        }
    }

    [Fact]
    public void Round_trip_keeps_scalar_and_zero_size_shapes()
    {
        using var file = SafeTensorFile.Open(WriteAll());

        var scalar = file.Get("scalar");
        Assert.Equal(0, scalar.Shape.Rank);
        Assert.Equal(1, scalar.Info.ElementCount);
        Assert.Equal([42f], scalar.ToFloatArray());

        var empty = file.Get("empty");
        Assert.Equal(new Shape(0, 4), empty.Shape);
        Assert.Equal(0, empty.Info.ElementCount);
        Assert.Equal(0, empty.ByteLength);
        Assert.Empty(empty.ToFloatArray());
    }

    [Fact]
    public void Round_trip_reads_back_metadata()
    {
        using var file = SafeTensorFile.Open(WriteAll());

        Assert.Equal(2, file.Metadata.Count);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("héllo \"quoted\"", file.Metadata["note"]);
    }

    [Fact]
    public void Written_header_length_is_a_multiple_of_8_and_data_fills_the_rest()
    {
        string path = WriteAll();
        byte[] bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);

        Assert.Equal(0UL, n % 8);
        long dataBytes = Expected().Values.Sum(t => (long)t.Bytes.Length);
        Assert.Equal(8 + (long)n + dataBytes, bytes.LongLength);
        using var file = SafeTensorFile.Open(path);
        Assert.Equal(bytes.LongLength, file.FileLength);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("ab")]
    [InlineData("abc")]
    [InlineData("abcd")]
    [InlineData("abcde")]
    [InlineData("abcdef")]
    [InlineData("abcdefg")]
    [InlineData("abcdefgh")]
    public void BuildHeader_pads_with_spaces_to_a_multiple_of_8(string name)
    {
        var writer = new SafeTensorWriter();
        writer.AddF32(name, new Shape(1), [1f]);
        byte[] header = writer.BuildHeader();

        Assert.Equal(0, header.Length % 8);
        string text = System.Text.Encoding.UTF8.GetString(header);
        Assert.EndsWith("}", text.TrimEnd(' '));
        Assert.True(text.Length - text.TrimEnd(' ').Length < 8, "at most 7 bytes of padding");
    }

    [Fact]
    public void CopyTo_converts_bf16_f16_and_f32_to_floats()
    {
        using var file = SafeTensorFile.Open(WriteAll());

        Assert.Equal(BF16Values, file.Get("model.bf16").ToFloatArray());
        Assert.Equal(F16Values.Select(h => (float)h).ToArray(), file.Get("model.f16").ToFloatArray());
        var f32 = new float[F32Values.Length];
        file.Get("model.f32").CopyTo(f32);
        Assert.Equal(F32Values, f32);
    }

    [Fact]
    public void CopyTo_rejects_a_destination_of_the_wrong_length()
    {
        using var file = SafeTensorFile.Open(WriteAll());
        var view = file.Get("model.f32");

        var e = Assert.Throws<ArgumentException>(() => view.CopyTo(new float[3]));
        Assert.Contains("`model.f32`", e.Message);
    }

    [Fact]
    public void CopyTo_rejects_integer_dtypes()
    {
        using var file = SafeTensorFile.Open(WriteAll());
        var view = file.Get("ids.i64");

        var e = Assert.Throws<InvalidOperationException>(() => view.CopyTo(new float[3]));
        Assert.Contains("not a float type", e.Message);
    }

    [Fact]
    public void AsSpan_reads_elements_of_the_matching_size()
    {
        using var file = SafeTensorFile.Open(WriteAll());

        Assert.Equal(I64Values, file.Get("ids.i64").AsSpan<long>().ToArray());
        Assert.Equal(U8Values, file.Get("pixels.u8").AsSpan<byte>().ToArray());
        Assert.Equal(F16Values, file.Get("model.f16").AsSpan<Half>().ToArray());
    }

    [Fact]
    public void AsSpan_with_a_wrong_element_size_throws()
    {
        using var file = SafeTensorFile.Open(WriteAll());
        var i64 = file.Get("ids.i64");
        var bf16 = file.Get("model.bf16");

        var e = Assert.Throws<InvalidOperationException>(() => i64.AsSpan<int>().Length);
        Assert.Contains("`ids.i64`", e.Message);
        Assert.Throws<InvalidOperationException>(() => bf16.AsSpan<float>().Length);
        Assert.Throws<InvalidOperationException>(() => bf16.AsSpan<byte>().Length);
    }

    [Fact]
    public void AsSpan_reads_a_bool_tensor_as_bool()
    {
        using var file = SafeTensorFile.Open(WriteAll());

        Assert.Equal([true, false, false, true], file.Get("mask.bool").AsSpan<bool>().ToArray());
    }

    [Fact]
    public void AsSpan_refuses_char_for_a_one_byte_dtype()
    {
        using var file = SafeTensorFile.Open(WriteAll());
        var u8 = file.Get("pixels.u8");

        Assert.Throws<InvalidOperationException>(() => u8.AsSpan<char>().Length);
    }

    [Fact]
    public void View_used_after_the_file_is_disposed_throws_ObjectDisposedException()
    {
        var file = SafeTensorFile.Open(WriteAll());
        var view = file.Get("model.f32");
        file.Dispose();

        Assert.Throws<ObjectDisposedException>(() => view.Bytes.Length);
        Assert.Throws<ObjectDisposedException>(() => view.ToFloatArray());
        Assert.Throws<ObjectDisposedException>(() => file.Get("model.f32"));
    }

    [Fact]
    public void Dispose_twice_is_a_no_op()
    {
        var file = SafeTensorFile.Open(WriteAll());
        file.Dispose();
        file.Dispose();

        Assert.Throws<ObjectDisposedException>(() => file.Get("scalar"));
    }

    [Fact]
    public void Get_of_an_unknown_name_throws_KeyNotFoundException_naming_it()
    {
        using var file = SafeTensorFile.Open(WriteAll());

        var e = Assert.Throws<KeyNotFoundException>(() => file.Get("no.such.tensor"));
        Assert.Contains("`no.such.tensor`", e.Message);
        Assert.False(file.TryGetInfo("no.such.tensor", out _));
    }

    [Fact]
    public void Header_lists_tensors_in_data_order()
    {
        using var file = SafeTensorFile.Open(WriteAll());

        var begins = file.Header.Tensors.Select(t => t.DataBegin).ToArray();
        Assert.Equal(begins.Order().ToArray(), begins);
        Assert.Equal(Expected().Keys.Count, file.Header.Tensors.Count);
    }

    [Fact]
    public void Writer_without_metadata_writes_no_metadata_key()
    {
        var writer = new SafeTensorWriter();
        writer.Metadata.Clear();
        writer.AddF32("w", new Shape(2), [1f, 2f]);
        string path = _dir.File("nometa.safetensors");
        writer.WriteTo(path);

        using var file = SafeTensorFile.Open(path);
        Assert.Empty(file.Metadata);
        Assert.DoesNotContain("__metadata__", writer.ToString());
    }

    [Fact]
    public void Writer_streams_data_through_a_DataWriter()
    {
        var writer = new SafeTensorWriter();
        writer.Add("streamed", DType.U8, new Shape(3, 100), s => s.Write(SafeTensorsBytes.Ramp(300)));
        Assert.Equal(1, writer.Count);
        Assert.Equal(300, writer.DataBytes);
        string path = _dir.File("streamed.safetensors");
        writer.WriteTo(path);

        using var file = SafeTensorFile.Open(path);
        Assert.Equal(SafeTensorsBytes.Ramp(300), file.Get("streamed").Bytes.ToArray());
    }

    [Fact]
    public void Writer_rejects_a_name_added_twice()
    {
        var writer = new SafeTensorWriter();
        writer.AddF32("w", new Shape(1), [1f]);

        var e = Assert.Throws<ArgumentException>(() => writer.AddF32("w", new Shape(1), [2f]));
        Assert.Contains("`w`", e.Message);
    }

    [Fact]
    public void Writer_rejects_data_of_the_wrong_length()
    {
        var writer = new SafeTensorWriter();

        var e = Assert.Throws<ArgumentException>(() => writer.Add("w", DType.F32, new Shape(2, 2), new byte[15]));
        Assert.Contains("`w`", e.Message);
        Assert.Contains("needs 16", e.Message);
    }

    [Fact]
    public void Writer_whose_DataWriter_writes_too_few_bytes_leaves_no_file()
    {
        var writer = new SafeTensorWriter();
        writer.Add("short", DType.F32, new Shape(4), s => s.Write(new byte[12]));
        string path = _dir.File("short.safetensors");

        var e = Assert.Throws<InvalidOperationException>(() => writer.WriteTo(path));
        Assert.Contains("`short`", e.Message);
        Assert.False(File.Exists(path));
        Assert.False(File.Exists(path + ".partial"));
    }

    [Fact]
    public void Open_accepts_a_header_with_no_tensors()
    {
        string path = _dir.Write("empty-header.safetensors", SafeTensorsBytes.Build("{}"));

        using var file = SafeTensorFile.Open(path);
        Assert.Empty(file.Names);
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void Open_tolerates_unknown_fields_in_a_tensor_entry()
    {
        string header = """{"w": {"extra": {"nested": [1, 2, {"x": null}]}, "dtype": "F32", "shape": [2], "data_offsets": [0, 8], "more": "text"}}""";
        string path = _dir.Write("extra.safetensors", SafeTensorsBytes.Build(header, SafeTensorsBytes.Ramp(8)));

        using var file = SafeTensorFile.Open(path);
        Assert.Equal(SafeTensorsBytes.Ramp(8), file.Get("w").Bytes.ToArray());
    }

    [Fact]
    public void Open_accepts_zero_size_tensors_between_and_after_others()
    {
        string header = SafeTensorsBytes.Header(
            SafeTensorsBytes.Entry("b", "U8", "[4]", 4, 8),
            SafeTensorsBytes.Entry("z0", "F32", "[0]", 4, 4),
            SafeTensorsBytes.Entry("a", "U8", "[4]", 0, 4),
            SafeTensorsBytes.Entry("z1", "BF16", "[3, 0]", 8, 8));
        string path = _dir.Write("zeros.safetensors", SafeTensorsBytes.Build(header, SafeTensorsBytes.Ramp(8)));

        using var file = SafeTensorFile.Open(path);
        Assert.Equal(4, file.Names.Count);
        Assert.Equal([4, 5, 6, 7], file.Get("b").Bytes.ToArray());
        Assert.Equal(0, file.Get("z1").ByteLength);
    }

    [Theory]
    [InlineData("tiny-a", 135)]
    [InlineData("tiny-c", 137)]
    public void Open_reads_every_tensor_of_a_golden_checkpoint(string golden, int tensors)
    {
        using var file = SafeTensorFile.Open(Path.Combine(SharedData.Golden(golden), "model.safetensors"));

        Assert.Equal(tensors, file.Names.Count);
        Assert.Equal("pt", file.Metadata["format"]);
        foreach (var name in file.Names)
        {
            var view = file.Get(name);
            Assert.Equal(DType.BF16, view.DType);
            var values = view.ToFloatArray();
            Assert.All(values, v => Assert.True(float.IsFinite(v), $"{name} holds {v}"));
        }
    }
}
