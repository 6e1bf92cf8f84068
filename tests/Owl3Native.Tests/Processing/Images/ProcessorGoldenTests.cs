using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Processing.Images;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Tests.Processing.Images;

/// <summary>
/// Every image × crop size of shared/golden/processor (golden README §4): the original image processor's grid, shapes and
/// pixels. uint8 pixels must be identical and float pixel values bit-equal.
/// </summary>
public sealed class ProcessorGoldenTests
{
    private const string Golden241101 = "processor_golden";
    private const string Golden240728 = "processor_golden_240728";

    public static TheoryData<string, string, int> Cases()
    {
        var data = new TheoryData<string, string, int>();
        foreach (string image in new[] { "grad_500x500", "grad_1280x720", "grad_50x60" })
        {
            foreach (int size in new[] { 378, 42, 28 }) data.Add(Golden241101, image, size);
            foreach (int size in new[] { 384, 48, 34 }) data.Add(Golden240728, image, size);
        }
        return data;
    }

    [Theory]
    [InlineData(Golden241101)]
    [InlineData(Golden240728)]
    public void Every_golden_entry_is_covered_by_the_cases(string golden)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(JsonPath(golden)));
        var expected = Cases().Select(row => ((string)row[0], (string)row[1], (int)row[2])).Where(c => c.Item1 == golden).ToHashSet();
        var actual = new HashSet<(string, string, int)>();
        foreach (var image in doc.RootElement.GetProperty("images").EnumerateArray())
            foreach (var property in image.EnumerateObject())
                if (property.Name.Length > 1 && property.Name[0] == 's' && property.Name[1..].All(char.IsAsciiDigit))
                    actual.Add((golden, image.GetProperty("name").GetString()!, int.Parse(property.Name[1..], CultureInfo.InvariantCulture)));
        Assert.Equal(expected.OrderBy(x => x).ToList(), actual.OrderBy(x => x).ToList());
    }

    [Fact]
    public void Anchor_list_matches_the_goldens()
    {
        foreach (string golden in new[] { Golden241101, Golden240728 })
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(JsonPath(golden)));
            var anchors = doc.RootElement.GetProperty("anchors_grid_squ_6_hw").EnumerateArray()
                .Select(a => new CutGrid(a[0].GetInt32(), a[1].GetInt32())).ToList();
            Assert.Equal(anchors, CutGrid.Anchors);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Processor_matches_golden(string golden, string imageName, int size)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(JsonPath(golden)));
        var entry = doc.RootElement.GetProperty("images").EnumerateArray().Single(e => e.GetProperty("name").GetString() == imageName);
        var expected = entry.GetProperty($"s{size}");
        var image = ImageLoader.Load(Path.Combine(SharedData.Golden("processor"), entry.GetProperty("file").GetString()!));
        Assert.Equal(entry.GetProperty("width").GetInt32(), image.Width);
        Assert.Equal(entry.GetProperty("height").GetInt32(), image.Height);
        Assert.Equal(size, expected.GetProperty("image_size").GetInt32());

        // Grid choice and crop bookkeeping.
        var grid = new CutGrid(expected.GetProperty("anchor_hw")[0].GetInt32(), expected.GetProperty("anchor_hw")[1].GetInt32());
        Assert.Equal(expected.GetProperty("anchor_index").GetInt32(), CutGrid.SelectIndex(image.Width, image.Height, size));
        var processed = ImageProcessor.Process(image, size, cut: true);
        Assert.Equal(grid, processed.Grid);
        int[][] cutShape = [[grid.Rows, grid.Cols], [1, 1]];
        Assert.Equal(cutShape, expected.GetProperty("cut_shape").EnumerateArray().Select(s => s.EnumerateArray().Select(v => v.GetInt32()).ToArray()));
        Assert.Equal(expected.GetProperty("num_sub_images").GetInt32(), processed.Crops);
        Assert.Equal(Ints(expected.GetProperty("pixel_values_shape")), processed.Shape);

        // Pixels: uint8 identical, floats bit-equal, hashes of both.
        using var tensors = SafeTensorFile.Open(Path.Combine(SharedData.Golden("processor"), golden + ".safetensors"));
        var goldenBytes = tensors.Get($"{imageName}.s{size}.pixel_values_u8");
        Assert.Equal(Ints(expected.GetProperty("pixel_values_shape")), goldenBytes.Shape.Dims.ToArray().Select(d => (int)d).ToArray());
        AssertBytesEqual(goldenBytes.Bytes, processed.PixelBytes, size);
        Assert.Equal(expected.GetProperty("pixel_values_u8_sha256").GetString(), Sha256(processed.PixelBytes));
        Assert.Equal(expected.GetProperty("pixel_values_sha256_f32_le").GetString(), Sha256(FloatBytes(processed.PixelValues)));
        if (tensors.TryGetInfo($"{imageName}.s{size}.pixel_values", out _))
            Assert.True(tensors.Get($"{imageName}.s{size}.pixel_values").AsSpan<float>().SequenceEqual(processed.PixelValues), "float pixel_values differ");

        // Without cutting: one crop, equal to the cut run's global view (the last crop).
        var uncut = ImageProcessor.Process(image, size, cut: false);
        Assert.Null(uncut.Grid);
        Assert.Equal(Ints(expected.GetProperty("no_cut_pixel_values_shape")), uncut.Shape);
        Assert.True(expected.GetProperty("no_cut_equals_last_sub_image").GetBoolean());
        Assert.True(uncut.Crop(0).SequenceEqual(processed.Crop(processed.Crops - 1)), "the uncut crop differs from the global view");
        if (tensors.TryGetInfo($"{imageName}.s{size}.pixel_values.last_sub_image", out _))
            Assert.True(tensors.Get($"{imageName}.s{size}.pixel_values.last_sub_image").AsSpan<float>().SequenceEqual(uncut.PixelValues));
    }

    [Theory]
    [InlineData("grad_500x500")]
    [InlineData("grad_1280x720")]
    [InlineData("grad_50x60")]
    public void Resize_and_cut_code_is_shared_by_both_generations(string imageName)
    {
        // The 240728 golden states its 378 outputs equal the 241101 golden; the same code path must serve both.
        using var doc = JsonDocument.Parse(File.ReadAllText(JsonPath(Golden240728)));
        var entry = doc.RootElement.GetProperty("images").EnumerateArray().Single(e => e.GetProperty("name").GetString() == imageName);
        Assert.True(entry.GetProperty("s378_identical_to_241101_processor_golden").GetBoolean());
    }

    private static string JsonPath(string golden) => Path.Combine(SharedData.Golden("processor"), golden + ".json");

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    private static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static byte[] FloatBytes(float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (int i = 0; i < values.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    private static void AssertBytesEqual(ReadOnlySpan<byte> expected, byte[] actual, int size)
    {
        Assert.Equal(expected.Length, actual.Length);
        int mismatches = 0, first = -1, maxDiff = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (expected[i] == actual[i]) continue;
            mismatches++;
            if (first < 0) first = i;
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
        }
        if (mismatches == 0) return;
        int plane = size * size, crop = first / (3 * plane), channel = first / plane % 3, y = first % plane / size, x = first % size;
        Assert.Fail($"{mismatches} of {actual.Length} bytes differ (max |diff| {maxDiff}); first at crop {crop}, channel {channel}, " +
                    $"y {y}, x {x}: expected {expected[first]}, got {actual[first]}");
    }
}
