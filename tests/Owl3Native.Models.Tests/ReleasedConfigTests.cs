using Owl3Native.Core.Config;
using Owl3Native.Models.Checkpoints;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Models.Tests;

/// <summary>
/// The released checkpoints' configs (spec/CHECKPOINTS.md §3) through the loader and the manifest, checked against
/// the spec's sanity numbers (§7: tensor counts; §1: parameter totals) — the weights themselves are 2–16 GB.
/// </summary>
public sealed class ReleasedConfigTests
{
    [Theory]
    [InlineData(Owl3Variant.V240728, ModelShape.B7, 128, 384, 151851, new[] { 0, 8, 16, 24 }, false)]
    [InlineData(Owl3Variant.V241101, ModelShape.B7, 128, 378, 151651, new[] { 6, 14, 22, 25 }, false)]
    [InlineData(Owl3Variant.V241014, ModelShape.B1, 64, 384, 151851, new[] { 5, 12, 19, 21 }, true)]
    [InlineData(Owl3Variant.V241014, ModelShape.B2, 128, 384, 151851, new[] { 0, 8, 16, 24 }, true)]
    public void Released_configs_load_with_their_derived_sizes(Owl3Variant variant, ModelShape shape, int headDim, int imageSize, int vocab, int[] hyper, bool tied)
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(path, CheckpointMaker.BuildConfigJson(variant, shape).ToJsonString());
        var warnings = new List<string>();
        var c = ConfigLoader.LoadModelConfig(path, warnings);
        Assert.Empty(warnings);
        Assert.Equal(headDim, c.HeadDim);
        Assert.Equal(imageSize, c.Vision.ImageSize);
        Assert.Equal(729, c.Vision.Patches); // (384 // 14)² = (378 // 14)² = 27²
        Assert.Equal(72, c.Vision.HeadDim);
        Assert.Equal(vocab, c.Vocab);
        Assert.Equal(hyper, c.HyperLayerIndices);
        Assert.Equal(tied, c.TieWordEmbeddings);
        Assert.Equal(1e6, c.RopeTheta);
    }

    [Theory]
    // spec/CHECKPOINTS.md §7: tensors excluding post_layernorm (2) and the pooling head (11).
    [InlineData(Owl3Variant.V240728, ModelShape.B7, ProjectorKind.Linear, 792)]
    [InlineData(Owl3Variant.V241101, ModelShape.B7, ProjectorKind.Mlp, 786)]
    [InlineData(Owl3Variant.V241014, ModelShape.B1, ProjectorKind.Linear, 739)]
    public void Manifest_tensor_counts_match_the_spec(Owl3Variant variant, ModelShape shape, ProjectorKind projector, int expected)
    {
        var manifest = WeightManifest.Build(Load(variant, shape), variant, projector);
        int count = manifest.Specs.Count(s => !s.Name.StartsWith("vision_model.head.", StringComparison.Ordinal)
            && !s.Name.StartsWith("vision_model.post_layernorm.", StringComparison.Ordinal)
            && !(s.Name == "language_model.lm_head.weight" && s.Role == WeightRole.Unused));
        Assert.Equal(expected, count);
    }

    [Theory]
    // HF listings: 7B ≈ 8.06 B parameters (16.1 GB bf16), 1B ≈ 0.92 B (1.85 GB), 2B ≈ 2.0 B (3.95 GB).
    [InlineData(Owl3Variant.V241101, ModelShape.B7, ProjectorKind.Mlp, 16.1e9)]
    [InlineData(Owl3Variant.V240728, ModelShape.B7, ProjectorKind.Linear, 16.1e9)]
    [InlineData(Owl3Variant.V241014, ModelShape.B1, ProjectorKind.Linear, 1.85e9)]
    [InlineData(Owl3Variant.V241014, ModelShape.B2, ProjectorKind.Linear, 3.95e9)]
    public void Manifest_bytes_match_the_released_file_sizes(Owl3Variant variant, ModelShape shape, ProjectorKind projector, double fileBytes)
    {
        var c = Load(variant, shape);
        var manifest = WeightManifest.Build(c, variant, projector);
        // What the released file stores: everything but a tied lm_head (which the file omits).
        long bytes = manifest.Specs.Where(s => !(s.Name == "language_model.lm_head.weight" && c.TieWordEmbeddings)).Sum(s => s.Shape.ElementCount * 2);
        Assert.InRange(bytes, fileBytes * 0.97, fileBytes * 1.03);
    }

    [Fact]
    public void Real_layout_tokenizer_has_the_qwen2_id_layout()
    {
        using var dir = new TempDirectory();
        TokenizerFiles.WriteRealLayout(dir.Path);
        Assert.Equal(151_646, CheckpointSummary.CountTokenizerVocab(dir.Path));
        string[] merges = File.ReadAllLines(Path.Combine(dir.Path, "merges.txt"));
        Assert.Equal(151_387, merges.Length);
        Assert.DoesNotContain(merges, m => m.StartsWith('#')); // the real file has no header line
        Assert.Equal(merges.Length, merges.Distinct(StringComparer.Ordinal).Count());
        // Every merge's parts are earlier tokens, and its result is the next id.
        var vocab = System.Text.Json.JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(dir.Path, "vocab.json")),
            TestJson.Default.DictionaryStringInt32)!;
        for (int i = 0; i < merges.Length; i += 997)
        {
            var parts = merges[i].Split(' ');
            Assert.True(vocab[parts[0]] < 256 + i && vocab[parts[1]] < 256 + i, merges[i]);
            Assert.Equal(256 + i, vocab[parts[0] + parts[1]]);
        }
    }

    private static Owl3Config Load(Owl3Variant variant, ModelShape shape)
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(path, CheckpointMaker.BuildConfigJson(variant, shape).ToJsonString());
        return ConfigLoader.LoadModelConfig(path, new List<string>());
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, int>))]
internal sealed partial class TestJson : System.Text.Json.Serialization.JsonSerializerContext;
