using System.Runtime.CompilerServices;
using System.Text;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;
using Owl3Native.TestKit;
using static Owl3Native.TestKit.SafeTensorsBytes;

namespace Owl3Native.Core.Tests;

/// <summary>
/// A corpus of broken safetensors files, each built in the test: Open must refuse every one with a
/// <see cref="SafeTensorsFormatException"/> whose reason fits and whose message starts with the file's path.
/// </summary>
public sealed class SafeTensorCorruptFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Writes <paramref name="bytes"/>, opens them, and checks the refusal.</summary>
    private SafeTensorsFormatException AssertRejected(byte[] bytes, SafeTensorsError reason, string fragment, [CallerMemberName] string test = "")
    {
        string path = _dir.Write($"{test}-{Guid.NewGuid():N}.safetensors", bytes);

        var e = Assert.ThrowsAny<SafeTensorsFormatException>(() => SafeTensorFile.Open(path).Dispose());

        if (reason == SafeTensorsError.UnsupportedDType)
            Assert.IsType<UnsupportedDTypeException>(e);
        else
            Assert.IsType<SafeTensorsFormatException>(e);
        Assert.Equal(reason, e.Reason);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Equal(path, e.FilePath);
        Assert.Contains(fragment, e.Message);
        return e;
    }

    private static string OneF32(string name = "w", string shape = "[2]", long begin = 0, long end = 8) =>
        Header(Entry(name, "F32", shape, begin, end));

    [Fact]
    public void Open_of_a_missing_file_throws_CheckpointNotFoundException()
    {
        string path = _dir.File("absent.safetensors");

        var e = Assert.Throws<CheckpointNotFoundException>(() => SafeTensorFile.Open(path));
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ": ", e.Message);
    }

    [Fact]
    public void Open_rejects_an_empty_file() =>
        AssertRejected([], SafeTensorsError.EmptyFile, "empty");

    [Fact]
    public void Open_rejects_a_file_shorter_than_the_header_length_field() =>
        AssertRejected([1, 0, 0, 0, 0], SafeTensorsError.TruncatedHeaderLength, "5 bytes");

    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(100_000_001UL)]
    [InlineData(ulong.MaxValue)]
    public void Open_rejects_header_length_out_of_bounds(ulong headerLength) =>
        AssertRejected(WithHeaderLength(headerLength, Encoding.UTF8.GetBytes("{}      ")),
            SafeTensorsError.HeaderLengthOutOfBounds, $"header length {headerLength} ");

    [Fact]
    public void Open_rejects_header_length_larger_than_file() =>
        AssertRejected(WithHeaderLength(100, Encoding.UTF8.GetBytes(OneF32())),
            SafeTensorsError.HeaderLengthExceedsFile, "header length 100 exceeds");

    [Theory]
    [InlineData(1, "last")]
    [InlineData(16, "last")]
    [InlineData(17, "first")]
    public void Open_rejects_a_valid_file_cut_short(int cut, string tensor)
    {
        var writer = new SafeTensorWriter();
        writer.AddF32("first", new Shape(4), [1, 2, 3, 4]);
        writer.AddF32("last", new Shape(4), [5, 6, 7, 8]);
        string full = _dir.File("full.safetensors");
        writer.WriteTo(full);
        byte[] bytes = File.ReadAllBytes(full);

        var e = AssertRejected(bytes[..^cut], SafeTensorsError.OffsetsOutOfFile, $"`{tensor}`");
        Assert.Equal(tensor, e.TensorName);
    }

    [Fact]
    public void Open_rejects_data_offsets_ending_beyond_the_file() =>
        AssertRejected(Build(OneF32(shape: "[4]", end: 16), Ramp(8)), SafeTensorsError.OffsetsOutOfFile, "`w` has data_offsets [0, 16]");

    [Fact]
    public void Open_rejects_data_offsets_with_begin_after_end() =>
        AssertRejected(Build(OneF32(shape: "[0]", begin: 8, end: 0), Ramp(8)), SafeTensorsError.OffsetsOutOfFile, "[8, 0]");

    [Fact]
    public void Open_rejects_overlapping_tensors()
    {
        string header = Header(Entry("a", "F32", "[2]", 0, 8), Entry("b", "F32", "[2]", 4, 12));

        var e = AssertRejected(Build(header, Ramp(12)), SafeTensorsError.OverlappingTensors, "overlap");
        Assert.Contains("`a`", e.Message);
        Assert.Contains("`b`", e.Message);
    }

    [Fact]
    public void Open_rejects_a_zero_size_tensor_inside_another() =>
        AssertRejected(Build(Header(Entry("a", "F32", "[2]", 0, 8), Entry("z", "F32", "[0]", 4, 4)), Ramp(8)),
            SafeTensorsError.OverlappingTensors, "`z`");

    [Fact]
    public void Open_rejects_a_hole_between_tensors()
    {
        string header = Header(Entry("a", "F32", "[2]", 0, 8), Entry("b", "F32", "[2]", 12, 20));

        AssertRejected(Build(header, Ramp(20)), SafeTensorsError.UnreferencedBytes, "hole before `b`");
    }

    [Fact]
    public void Open_rejects_a_hole_before_the_first_tensor() =>
        AssertRejected(Build(OneF32(begin: 4, end: 12), Ramp(12)), SafeTensorsError.UnreferencedBytes, "[0, 4)");

    [Fact]
    public void Open_rejects_trailing_bytes_after_the_last_tensor() =>
        AssertRejected(Build(OneF32(), Ramp(12)), SafeTensorsError.UnreferencedBytes, "trailing");

    [Fact]
    public void Open_rejects_data_bytes_when_there_are_no_tensors() =>
        AssertRejected(Build("{}", Ramp(8)), SafeTensorsError.UnreferencedBytes, "trailing");

    [Fact]
    public void Open_rejects_shape_that_disagrees_with_the_byte_span()
    {
        var e = AssertRejected(Build(OneF32(shape: "[3]"), Ramp(8)), SafeTensorsError.SizeMismatch, "needs 12 bytes");
        Assert.Equal("w", e.TensorName);
    }

    [Theory]
    [InlineData("[4294967296, 4294967296, 16]")]
    [InlineData("[4611686018427387904]")]
    [InlineData("[9223372036854775807, 2]")]
    public void Open_rejects_element_count_overflow_as_size_mismatch(string shape) =>
        AssertRejected(Build(OneF32(shape: shape), Ramp(8)), SafeTensorsError.SizeMismatch, "more than 2^63 bytes");

    [Fact]
    public void Open_rejects_an_unknown_dtype()
    {
        var e = AssertRejected(Build(Header(Entry("q", "Q4", "[8]", 0, 4)), Ramp(4)), SafeTensorsError.UnknownDType, "`Q4`");
        Assert.Contains("`q`", e.Message);
    }

    [Theory]
    [InlineData("F8_E4M3", 1)]
    [InlineData("U32", 4)]
    public void Open_rejects_a_valid_but_unsupported_dtype(string dtype, int size)
    {
        string header = Header(Entry("u", dtype, "[2]", 0, 2 * size));

        var e = AssertRejected(Build(header, Ramp(2 * size)), SafeTensorsError.UnsupportedDType, "valid safetensors but not supported");
        Assert.Equal(dtype, Assert.IsType<UnsupportedDTypeException>(e).DTypeName);
        Assert.Contains("`u`", e.Message);
        Assert.Contains(dtype, e.Message);
    }

    [Fact]
    public void Open_rejects_a_header_that_is_not_UTF8()
    {
        byte[] header = Encoding.UTF8.GetBytes(OneF32(name: "w__"));
        int at = Array.IndexOf(header, (byte)'_');
        header[at] = 0xFF;
        header[at + 1] = 0xFE;

        AssertRejected(Build(header, Ramp(8)), SafeTensorsError.InvalidUtf8, "UTF-8");
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [2]")]
    [InlineData("[1, 2, 3]")]
    [InlineData("\"a string\"")]
    [InlineData("{} {}")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8],}}")]
    [InlineData("        ")]
    public void Open_rejects_a_header_that_is_not_a_JSON_object(string json) =>
        AssertRejected(Build(json, Ramp(8)), SafeTensorsError.InvalidJson, "header");

    [Fact]
    public void Open_rejects_a_header_nested_too_deep() =>
        AssertRejected(Build("{\"w\": {\"x\": " + new string('[', 40) + new string(']', 40) + "}}"),
            SafeTensorsError.InvalidJson, "not valid JSON");

    [Theory]
    [InlineData("{\"w\\ud800\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}")]
    [InlineData("{\"w\": {\"dtype\": \"F32\\udc00\", \"shape\": [2], \"data_offsets\": [0, 8]}}")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"\\ud83d\": 1, \"shape\": [2], \"data_offsets\": [0, 8]}}")]
    [InlineData("{\"__metadata__\": {\"format\": \"pt\\ud800x\"}, \"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}")]
    public void Open_rejects_a_string_with_an_escaped_lone_surrogate(string header) =>
        AssertRejected(Build(header, Ramp(8)), SafeTensorsError.InvalidJson, "header");

    [Fact]
    public void Open_rejects_a_duplicate_tensor_name()
    {
        string header = Header(Entry("dup", "U8", "[4]", 0, 4), Entry("dup", "U8", "[4]", 4, 8));

        var e = AssertRejected(Build(header, Ramp(8)), SafeTensorsError.DuplicateTensor, "`dup` twice");
        Assert.Equal("dup", e.TensorName);
    }

    [Theory]
    [InlineData("{\"format\": 1}", "`__metadata__.format`")]
    [InlineData("{\"format\": null}", "`__metadata__.format`")]
    [InlineData("{\"format\": [\"pt\"]}", "`__metadata__.format`")]
    [InlineData("[\"pt\"]", "not a JSON object")]
    [InlineData("\"pt\"", "not a JSON object")]
    [InlineData("{\"format\": \"pt\", \"format\": \"np\"}", "`format` twice")]
    public void Open_rejects_metadata_that_is_not_an_object_of_strings(string metadata, string fragment) =>
        AssertRejected(Build($"{{\"__metadata__\": {metadata}, {Entry("w", "F32", "[2]", 0, 8)}}}", Ramp(8)),
            SafeTensorsError.InvalidMetadata, fragment);

    [Theory]
    [InlineData("{\"shape\": [2], \"data_offsets\": [0, 8]}", "missing `dtype`")]
    [InlineData("{\"dtype\": \"F32\", \"data_offsets\": [0, 8]}", "missing `shape`")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": [2]}", "missing `data_offsets`")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}", "the number -2")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 8]}", "the number 1.5")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": [\"2\"], \"data_offsets\": [0, 8]}", "the string \"2\"")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": [[2]], \"data_offsets\": [0, 8]}", "`shape` holds")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": 2, \"data_offsets\": [0, 8]}", "`shape` is not an array")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8, 8]}", "`data_offsets` has 3 entries")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8]}", "`data_offsets` has 1 entries")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [-1, 7]}", "the number -1")]
    [InlineData("{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 18446744073709551624]}", "`data_offsets` holds")]
    [InlineData("{\"dtype\": 5, \"shape\": [2], \"data_offsets\": [0, 8]}", "`dtype` is not a string")]
    [InlineData("{\"dtype\": \"F32\", \"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}", "`dtype` given twice")]
    [InlineData("[\"F32\", [2], [0, 8]]", "not an object")]
    [InlineData("null", "not an object")]
    public void Open_rejects_an_invalid_tensor_entry(string entry, string fragment)
    {
        var e = AssertRejected(Build($"{{\"w\": {entry}}}", Ramp(8)), SafeTensorsError.InvalidTensorEntry, fragment);
        Assert.Contains("tensor `w`", e.Message);
        Assert.Equal("w", e.TensorName);
    }
}
