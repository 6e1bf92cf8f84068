using System.Text.Json.Nodes;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;
using Owl3Native.TestKit;

namespace Owl3Native.Core.Tests;

/// <summary>Sharded checkpoints: `model.safetensors.index.json` plus the shard files it names.</summary>
public sealed class ShardedSafeTensorsTests : IDisposable
{
    private const string Shard1 = "model-00001-of-00002.safetensors";
    private const string Shard2 = "model-00002-of-00002.safetensors";
    private const string IndexName = "model.safetensors.index.json";

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Index => _dir.File(IndexName);

    /// <summary>Writes a shard holding an F32 [2] tensor of values (k, k + 0.5) for each name.</summary>
    private long WriteShard(string file, params string[] names)
    {
        var writer = new SafeTensorWriter();
        for (int i = 0; i < names.Length; i++)
            writer.AddF32(names[i], new Shape(2), [i + 1, i + 1.5f]);
        writer.WriteTo(_dir.File(file));
        return writer.DataBytes;
    }

    private string WriteIndex(params (string Tensor, string File)[] map)
    {
        var weightMap = new JsonObject();
        foreach (var (tensor, file) in map) weightMap[tensor] = file;
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = 8 * map.Length },
            ["weight_map"] = weightMap,
        };
        File.WriteAllText(Index, index.ToJsonString());
        return Index;
    }

    private void WriteTwoShards()
    {
        WriteShard(Shard1, "a", "b");
        WriteShard(Shard2, "c");
    }

    private SafeTensorsFormatException AssertInvalidIndex(string fragment)
    {
        var e = Assert.ThrowsAny<SafeTensorsFormatException>(() => ShardedSafeTensors.Open(Index).Dispose());
        Assert.IsType<SafeTensorsFormatException>(e);
        Assert.Equal(SafeTensorsError.InvalidIndex, e.Reason);
        Assert.StartsWith(Index + ": ", e.Message);
        Assert.Contains(fragment, e.Message);
        return e;
    }

    [Fact]
    public void Open_reads_every_tensor_from_the_shard_the_index_names()
    {
        WriteTwoShards();
        WriteIndex(("a", Shard1), ("c", Shard2), ("b", Shard1));

        using var sharded = ShardedSafeTensors.Open(Index);

        Assert.Equal(["a", "b", "c"], sharded.Names.Order(StringComparer.Ordinal));
        Assert.Equal([Shard1, Shard2], sharded.Shards.Select(s => Path.GetFileName(s.Path)));
        Assert.Empty(sharded.Warnings);
        Assert.Equal(Index, sharded.IndexPath);
        Assert.Equal([1f, 1.5f], sharded.Get("a").ToFloatArray());
        Assert.Equal([2f, 2.5f], sharded.Get("b").ToFloatArray());
        Assert.Equal([1f, 1.5f], sharded.Get("c").ToFloatArray());
        Assert.EndsWith(Shard2, sharded.Get("c").FilePath);
        Assert.True(sharded.TryGetInfo("c", out var info));
        Assert.Equal(new Shape(2), info.Shape);
    }

    [Fact]
    public void Get_of_a_name_not_in_the_index_throws_KeyNotFoundException()
    {
        WriteTwoShards();
        WriteIndex(("a", Shard1), ("b", Shard1), ("c", Shard2));
        using var sharded = ShardedSafeTensors.Open(Index);

        var e = Assert.Throws<KeyNotFoundException>(() => sharded.Get("d"));
        Assert.Contains("`d`", e.Message);
        Assert.False(sharded.TryGetInfo("d", out _));
    }

    [Fact]
    public void Views_throw_after_the_checkpoint_is_disposed_and_dispose_twice_is_a_no_op()
    {
        WriteTwoShards();
        WriteIndex(("a", Shard1), ("b", Shard1), ("c", Shard2));
        var sharded = ShardedSafeTensors.Open(Index);
        var view = sharded.Get("c");

        sharded.Dispose();
        sharded.Dispose();

        Assert.Throws<ObjectDisposedException>(() => view.Bytes.Length);
        Assert.Throws<ObjectDisposedException>(() => sharded.Get("a"));
    }

    [Fact]
    public void Open_of_a_missing_index_throws_CheckpointNotFoundException()
    {
        var e = Assert.Throws<CheckpointNotFoundException>(() => ShardedSafeTensors.Open(Index));
        Assert.Equal(Index, e.FilePath);
    }

    [Fact]
    public void Open_with_an_index_naming_a_missing_shard_throws_CheckpointNotFoundException()
    {
        WriteTwoShards();
        WriteIndex(("a", Shard1), ("b", Shard1), ("c", "model-00003-of-00003.safetensors"));

        var e = Assert.Throws<CheckpointNotFoundException>(() => ShardedSafeTensors.Open(Index));
        Assert.Equal(_dir.File("model-00003-of-00003.safetensors"), e.FilePath);
        Assert.Contains("`c`", e.Message);
        Assert.Contains(IndexName, e.Message);
    }

    [Fact]
    public void Open_rejects_an_index_placing_a_tensor_in_a_shard_that_lacks_it()
    {
        WriteTwoShards();
        WriteIndex(("a", Shard2), ("b", Shard1), ("c", Shard2));

        var e = AssertInvalidIndex("places `a` in " + Shard2);
        Assert.Equal("a", e.TensorName);
    }

    [Fact]
    public void Open_rejects_a_tensor_stored_in_two_shards()
    {
        WriteShard(Shard1, "a", "b");
        WriteShard(Shard2, "c", "a");
        WriteIndex(("a", Shard1), ("b", Shard1), ("c", Shard2));

        var e = AssertInvalidIndex("`a` is stored in both");
        Assert.Contains(Shard1, e.Message);
        Assert.Contains(Shard2, e.Message);
    }

    [Theory]
    [InlineData("../x.safetensors")]
    [InlineData("sub/x.safetensors")]
    [InlineData("..")]
    [InlineData("")]
    public void Open_rejects_a_weight_map_entry_that_is_not_a_plain_file_name(string file)
    {
        // Make the escaping paths real, so only the name check stands between the index and the file.
        string inner = Path.Combine(_dir.Path, "ckpt");
        Directory.CreateDirectory(Path.Combine(inner, "sub"));
        WriteShard("x.safetensors", "a");
        WriteShard(Path.Combine("ckpt", "sub", "x.safetensors"), "a");
        string index = Path.Combine(inner, IndexName);
        File.WriteAllText(index, new JsonObject { ["weight_map"] = new JsonObject { ["a"] = file } }.ToJsonString());

        var e = Assert.Throws<SafeTensorsFormatException>(() => ShardedSafeTensors.Open(index).Dispose());
        Assert.Equal(SafeTensorsError.InvalidIndex, e.Reason);
        Assert.StartsWith(index + ": ", e.Message);
        Assert.Contains("not a file name in the checkpoint folder", e.Message);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("{\"weight_map\": {\"a\": ", "not valid JSON")]
    [InlineData("[]", "no `weight_map` object")]
    [InlineData("{\"metadata\": {}}", "no `weight_map` object")]
    [InlineData("{\"weight_map\": [\"a\"]}", "no `weight_map` object")]
    [InlineData("{\"weight_map\": {}}", "`weight_map` is empty")]
    [InlineData("{\"weight_map\": {\"a\": 1}}", "`weight_map.a` is not a string")]
    [InlineData("{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"a\": \"model-00001-of-00002.safetensors\"}}", "`a` twice")]
    public void Open_rejects_a_malformed_index(string json, string fragment)
    {
        WriteTwoShards();
        File.WriteAllText(Index, json);

        AssertInvalidIndex(fragment);
    }

    [Theory]
    [InlineData("{\"weight_map\": {\"a\\ud800\": \"model-00001-of-00002.safetensors\"}}")]
    [InlineData("{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\\udc00\"}}")]
    public void Open_rejects_an_index_string_with_an_escaped_lone_surrogate(string json)
    {
        WriteTwoShards();
        File.WriteAllText(Index, json);

        AssertInvalidIndex("weight_map");
    }

    [Fact]
    public void Open_lists_a_tensor_missing_from_the_index_in_Warnings()
    {
        WriteShard(Shard1, "a", "b", "unlisted");
        WriteShard(Shard2, "c");
        WriteIndex(("a", Shard1), ("b", Shard1), ("c", Shard2));

        using var sharded = ShardedSafeTensors.Open(Index);

        var warning = Assert.Single(sharded.Warnings);
        Assert.Contains("`unlisted`", warning);
        Assert.Contains(Shard1, warning);
        Assert.DoesNotContain("unlisted", sharded.Names);
        Assert.Throws<KeyNotFoundException>(() => sharded.Get("unlisted"));
    }

    [Fact]
    public void Open_reports_a_malformed_shard_with_the_shard_path()
    {
        WriteShard(Shard1, "a");
        byte[] shard2 = File.ReadAllBytes(_dir.File(Shard1));
        File.WriteAllBytes(_dir.File(Shard2), shard2[..^1]);
        WriteIndex(("a", Shard1), ("b", Shard2));

        var e = Assert.Throws<SafeTensorsFormatException>(() => ShardedSafeTensors.Open(Index));
        Assert.Equal(SafeTensorsError.OffsetsOutOfFile, e.Reason);
        Assert.StartsWith(_dir.File(Shard2) + ": ", e.Message);
    }
}
