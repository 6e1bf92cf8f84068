using Owl3Native.Core;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;
using Owl3Native.Models.Checkpoints;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Models.Tests;

public sealed class CheckpointLoadingTests
{
    [Theory]
    [InlineData("tiny-a", Owl3Variant.V241101, ProjectorKind.Mlp, new[] { 1, 3 }, 135)]
    [InlineData("tiny-c", Owl3Variant.V240728, ProjectorKind.Linear, new[] { 0, 3 }, 137)]
    public void Golden_folders_load_with_their_variant(string name, Owl3Variant variant, ProjectorKind projector, int[] hyper, int tensors)
    {
        using var ckpt = Owl3Checkpoint.Open(SharedData.Golden(name));
        Assert.Equal(variant, ckpt.Variant);
        Assert.Equal(projector, ckpt.Projector);
        Assert.Equal(hyper, ckpt.Config.HyperLayerIndices);
        Assert.Equal(tensors, ckpt.Weights.Names.Count);
        Assert.Empty(ckpt.ExtraTensors); // post_layernorm and the pooling head are known (unused), not extra
        Assert.True(ckpt.HasGenerationConfig);
        Assert.Equal(new[] { 502, 500 }, ckpt.GenerationConfig.EosTokenIds!);
        Assert.Equal(["vocab.json", "merges.txt", "tokenizer_config.json"], ckpt.TokenizerFiles);
        // Every required tensor is readable through the zero-copy view and matches the manifest.
        foreach (var spec in ckpt.Manifest.Specs.Where(s => s.Role == WeightRole.Required))
        {
            var view = ckpt.Weights.Get(spec.Name);
            Assert.Equal(spec.Shape, view.Shape);
            Assert.Equal(spec.Shape.ElementCount * 2, view.Bytes.Length);
        }
    }

    [Fact]
    public void Golden_summary_figures_match_the_config()
    {
        using var ckpt = Owl3Checkpoint.Open(SharedData.Golden("tiny-a"));
        var s = CheckpointSummary.From(ckpt);
        Assert.Equal(512, s.VocabRows);
        Assert.Equal(9, s.ImageTokensPerCrop);
        Assert.Equal(0, s.UnusedEdgePixels);
        Assert.Equal(2L * 5 * 2 * 16 * 2, s.KvBytesPerTextToken);
        Assert.Equal(9L * 2 * 2 * 2 * 16 * 2, s.KvBytesPerImageCrop);
        Assert.Equal(new FileInfo(Path.Combine(SharedData.Golden("tiny-a"), "model.safetensors")).Length, s.WeightBytes);
        // 256 bytes + merges + 9 added tokens
        int merges = File.ReadAllLines(Path.Combine(SharedData.Golden("tiny-a"), "merges.txt")).Count(l => l.Length > 0 && !l.StartsWith('#'));
        Assert.Equal(256 + merges + 9, s.TokenizerVocab);
        long total = s.Parameters.Where(p => p.Key != "total").Sum(p => p.Value.Parameters);
        Assert.Equal(total, s.Parameters["total"].Parameters);
        Assert.Equal(s.Parameters["total"].Bytes, total * 2); // all BF16
        Assert.Equal(512L * 64, s.Parameters["embed_tokens"].Parameters);
        Assert.Equal(2 * (64L * 64 + 64), s.Parameters["hyper_extra"].Parameters); // v_kv_proj of 2 hyper layers

        using var c = Owl3Checkpoint.Open(SharedData.Golden("tiny-c"));
        Assert.Equal(6, CheckpointSummary.From(c).UnusedEdgePixels); // 48 = 3*14 + 6
    }

    [Theory]
    [InlineData(Owl3Variant.V241101, 1)]
    [InlineData(Owl3Variant.V241101, 3)]
    [InlineData(Owl3Variant.V240728, 1)]
    [InlineData(Owl3Variant.V240728, 4)]
    [InlineData(Owl3Variant.V241014, 1)]
    [InlineData(Owl3Variant.V241014, 2)]
    public void MakeTiny_round_trips_through_the_loader(Owl3Variant variant, int shards)
    {
        using var dir = new TempDirectory();
        CheckpointMaker.Write(dir.Path, new MakeTinyOptions(variant, Shards: shards, Seed: 7));
        using var ckpt = Owl3Checkpoint.Open(dir.Path);
        Assert.Equal(variant, ckpt.Variant);
        Assert.Equal(variant == Owl3Variant.V241101 ? ProjectorKind.Mlp : ProjectorKind.Linear, ckpt.Projector);
        Assert.Equal(shards, ckpt.WeightFiles.Count);
        Assert.Equal(shards > 1, File.Exists(Path.Combine(dir.Path, Owl3Checkpoint.IndexFile)));
        Assert.Empty(ckpt.Warnings);
        Assert.Empty(ckpt.ExtraTensors);
        var summary = CheckpointSummary.From(ckpt);
        Assert.Equal(variant == Owl3Variant.V241101 ? 42 : 48, summary.ImageSize);
    }

    [Fact]
    public void MakeTiny_same_seed_gives_the_same_bytes_and_another_seed_does_not()
    {
        using var a = new TempDirectory();
        using var b = new TempDirectory();
        using var c = new TempDirectory();
        CheckpointMaker.Write(a.Path, new MakeTinyOptions(Owl3Variant.V241101, Seed: 1));
        CheckpointMaker.Write(b.Path, new MakeTinyOptions(Owl3Variant.V241101, Seed: 1));
        CheckpointMaker.Write(c.Path, new MakeTinyOptions(Owl3Variant.V241101, Seed: 2));
        byte[] wa = File.ReadAllBytes(Path.Combine(a.Path, "model.safetensors"));
        Assert.Equal(wa, File.ReadAllBytes(Path.Combine(b.Path, "model.safetensors")));
        Assert.NotEqual(wa, File.ReadAllBytes(Path.Combine(c.Path, "model.safetensors")));
    }

    [Fact]
    public void Sharded_and_single_file_checkpoints_hold_identical_tensors()
    {
        using var single = new TempDirectory();
        using var sharded = new TempDirectory();
        CheckpointMaker.Write(single.Path, new MakeTinyOptions(Owl3Variant.V240728, Seed: 3));
        CheckpointMaker.Write(sharded.Path, new MakeTinyOptions(Owl3Variant.V240728, Seed: 3, Shards: 5));
        using var a = Owl3Checkpoint.Open(single.Path);
        using var b = Owl3Checkpoint.Open(sharded.Path);
        Assert.Equal(a.Weights.Names.Order(), b.Weights.Names.Order());
        foreach (var name in a.Weights.Names)
            Assert.True(a.Weights.Get(name).Bytes.SequenceEqual(b.Weights.Get(name).Bytes), name);
    }

    [Fact]
    public void Tiny_weights_look_initialised_not_zero()
    {
        using var dir = new TempDirectory();
        CheckpointMaker.Write(dir.Path, new MakeTinyOptions(Owl3Variant.V241101, Seed: 5));
        using var ckpt = Owl3Checkpoint.Open(dir.Path);
        float[] norm = ckpt.Weights.Get("language_model.model.norm.weight").ToFloatArray();
        Assert.All(norm, x => Assert.InRange(x, 0.89f, 1.11f));
        float[] q = ckpt.Weights.Get("language_model.model.layers.0.self_attn.q_proj.weight").ToFloatArray();
        Assert.All(q, x => Assert.InRange(x, -0.126f, 0.126f)); // ±1/sqrt(64)
        Assert.True(q.Select(MathF.Abs).Average() > 0.04f);
    }

    // ---- broken folders ---------------------------------------------------------------------------

    private static TempDirectory CopyOfTinyA()
    {
        var dir = new TempDirectory();
        CheckpointFolder.Copy(SharedData.Golden("tiny-a"), dir.Path);
        return dir;
    }

    [Fact]
    public void Missing_tensor_is_named()
    {
        using var dir = CopyOfTinyA();
        const string name = "language_model.model.layers.2.mlp.up_proj.weight";
        CheckpointFolder.RewriteWeights(dir.Path, keep: n => n != name);
        var e = Assert.Throws<CheckpointFormatException>(() => Owl3Checkpoint.Open(dir.Path));
        Assert.Equal(name, e.TensorName);
        Assert.Contains($"missing tensor `{name}` (expected [128, 64]", e.Message);
        Assert.StartsWith(Path.Combine(dir.Path, "model.safetensors"), e.Message);
    }

    [Fact]
    public void Wrong_shape_reports_expected_and_actual()
    {
        using var dir = CopyOfTinyA();
        const string name = "language_model.model.layers.0.self_attn.k_proj.weight";
        CheckpointFolder.RewriteWeights(dir.Path, replace: new Dictionary<string, (DType, Shape)> { [name] = (DType.BF16, new Shape(64, 64)) });
        var e = Assert.Throws<CheckpointFormatException>(() => Owl3Checkpoint.Open(dir.Path));
        Assert.Contains($"tensor `{name}` has shape [64, 64], expected [32, 64]", e.Message);
    }

    [Fact]
    public void Integer_dtype_for_a_weight_is_refused()
    {
        using var dir = CopyOfTinyA();
        const string name = "language_model.model.norm.weight";
        CheckpointFolder.RewriteWeights(dir.Path, replace: new Dictionary<string, (DType, Shape)> { [name] = (DType.I32, new Shape(64)) });
        var e = Assert.Throws<CheckpointFormatException>(() => Owl3Checkpoint.Open(dir.Path));
        Assert.Contains("has dtype I32, expected BF16, F16 or F32", e.Message);
    }

    [Fact]
    public void F32_and_F16_weights_are_accepted()
    {
        using var dir = CopyOfTinyA();
        CheckpointFolder.RewriteWeights(dir.Path, replace: new Dictionary<string, (DType, Shape)>
        {
            ["language_model.model.norm.weight"] = (DType.F32, new Shape(64)),
            ["language_model.model.layers.0.input_layernorm.weight"] = (DType.F16, new Shape(64)),
        });
        using var ckpt = Owl3Checkpoint.Open(dir.Path);
        Assert.Equal(3, CheckpointSummary.From(ckpt).DTypes.Count);
    }

    [Fact]
    public void Hyper_layers_that_disagree_with_v_kv_proj_are_refused()
    {
        using var dir = CopyOfTinyA();
        CheckpointFolder.EditConfig(dir.Path, j => j["hyper_layers"] = new System.Text.Json.Nodes.JsonArray(2, 5));
        var e = Assert.Throws<CheckpointFormatException>(() => Owl3Checkpoint.Open(dir.Path));
        Assert.Contains("v_kv_proj.weight` are [1, 3] (0-based) but config `hyper_layers` [2, 5] (1-based) means [1, 4]", e.Message);
    }

    [Fact]
    public void Extra_and_stray_gate_tensors_are_warnings()
    {
        using var dir = CopyOfTinyA();
        CheckpointFolder.RewriteWeights(dir.Path, add: new Dictionary<string, (DType, Shape)>
        {
            ["some.extra.tensor"] = (DType.F32, new Shape(3)),
            ["language_model.model.layers.1.self_attn.gate"] = (DType.BF16, new Shape(7)), // wrong shape: not a gate
        });
        using var ckpt = Owl3Checkpoint.Open(dir.Path);
        Assert.Equal(Owl3Variant.V241101, ckpt.Variant);
        Assert.Contains("some.extra.tensor", ckpt.ExtraTensors);
        Assert.Contains(ckpt.Warnings, w => w.Contains("`language_model.model.layers.1.self_attn.gate` has shape [7]"));
        Assert.Contains(ckpt.Warnings, w => w.Contains("2 tensor(s) the model does not use"));
    }

    [Fact]
    public void Static_gate_keys_mean_241014()
    {
        using var dir = CopyOfTinyA();
        CheckpointFolder.RewriteWeights(dir.Path, add: new Dictionary<string, (DType, Shape)>
        {
            ["language_model.model.layers.1.self_attn.gate"] = (DType.BF16, new Shape(64)),
            ["language_model.model.layers.3.self_attn.gate"] = (DType.BF16, new Shape(64)),
        });
        using var ckpt = Owl3Checkpoint.Open(dir.Path);
        Assert.Equal(Owl3Variant.V241014, ckpt.Variant);
    }

    [Fact]
    public void Static_gate_in_only_one_hyper_layer_reports_the_missing_one()
    {
        using var dir = CopyOfTinyA();
        CheckpointFolder.RewriteWeights(dir.Path, add: new Dictionary<string, (DType, Shape)>
        {
            ["language_model.model.layers.1.self_attn.gate"] = (DType.BF16, new Shape(64)),
        });
        var e = Assert.Throws<CheckpointFormatException>(() => Owl3Checkpoint.Open(dir.Path));
        Assert.Equal("language_model.model.layers.3.self_attn.gate", e.TensorName);
    }

    [Fact]
    public void Both_projector_forms_are_ambiguous()
    {
        using var dir = CopyOfTinyA();
        CheckpointFolder.RewriteWeights(dir.Path, add: new Dictionary<string, (DType, Shape)>
        {
            ["vision2text_model.weight"] = (DType.BF16, new Shape(64, 64)),
        });
        var e = Assert.Throws<CheckpointFormatException>(() => Owl3Checkpoint.Open(dir.Path));
        Assert.Contains("both `vision2text_model.weight`", e.Message);
    }

    [Fact]
    public void Tied_embeddings_need_no_lm_head_but_untied_do()
    {
        using var dir = CopyOfTinyA();
        CheckpointFolder.RewriteWeights(dir.Path, keep: n => n != "language_model.lm_head.weight");
        var e = Assert.Throws<CheckpointFormatException>(() => Owl3Checkpoint.Open(dir.Path));
        Assert.Contains("missing tensor `language_model.lm_head.weight`", e.Message);
        CheckpointFolder.EditConfig(dir.Path, j => j["tie_word_embeddings"] = true);
        using var ckpt = Owl3Checkpoint.Open(dir.Path);
        Assert.True(ckpt.Config.TieWordEmbeddings);
    }

    [Fact]
    public void Missing_unused_tensors_are_fine()
    {
        using var dir = CopyOfTinyA();
        CheckpointFolder.RewriteWeights(dir.Path, keep: n => !n.StartsWith("vision_model.head.", StringComparison.Ordinal)
            && !n.StartsWith("vision_model.post_layernorm", StringComparison.Ordinal) && !n.StartsWith("vision_model.encoder.layers.2.", StringComparison.Ordinal));
        using var ckpt = Owl3Checkpoint.Open(dir.Path);
        Assert.Empty(ckpt.Warnings);
    }

    [Fact]
    public void Folder_errors_are_specific()
    {
        using var dir = new TempDirectory();
        Assert.Contains("folder not found", Assert.Throws<CheckpointNotFoundException>(() => Owl3Checkpoint.Open(Path.Combine(dir.Path, "nope"))).Message);
        Assert.Contains("config.json: file not found", Assert.Throws<CheckpointNotFoundException>(() => Owl3Checkpoint.Open(dir.Path)).Message);

        CheckpointFolder.Copy(SharedData.Golden("tiny-a"), dir.Path);
        File.Delete(Path.Combine(dir.Path, "model.safetensors"));
        Assert.Contains("no weights: expected model.safetensors or model.safetensors.index.json",
            Assert.Throws<CheckpointNotFoundException>(() => Owl3Checkpoint.Open(dir.Path)).Message);
        File.WriteAllBytes(Path.Combine(dir.Path, "pytorch_model.bin"), [1, 2, 3]);
        Assert.Contains("PyTorch .bin weights are not supported", Assert.Throws<CheckpointNotFoundException>(() => Owl3Checkpoint.Open(dir.Path)).Message);

        File.WriteAllBytes(Path.Combine(dir.Path, "model.safetensors"), []);
        Assert.Equal(SafeTensorsError.EmptyFile, Assert.Throws<SafeTensorsFormatException>(() => Owl3Checkpoint.Open(dir.Path)).Reason);
    }

    [Fact]
    public void Truncated_weights_are_refused_before_any_tensor_is_read()
    {
        using var dir = CopyOfTinyA();
        string path = Path.Combine(dir.Path, "model.safetensors");
        byte[] all = File.ReadAllBytes(path);
        File.WriteAllBytes(path, all[..(all.Length - 100)]);
        var e = Assert.Throws<SafeTensorsFormatException>(() => Owl3Checkpoint.Open(dir.Path));
        Assert.Equal(SafeTensorsError.OffsetsOutOfFile, e.Reason);
    }

    [Fact]
    public void Missing_generation_config_is_a_warning()
    {
        using var dir = CopyOfTinyA();
        File.Delete(Path.Combine(dir.Path, "generation_config.json"));
        using var ckpt = Owl3Checkpoint.Open(dir.Path);
        Assert.False(ckpt.HasGenerationConfig);
        Assert.Contains(ckpt.Warnings, w => w.Contains("no generation_config.json"));
    }
}
