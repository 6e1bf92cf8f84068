using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Model;
using Owl3Native.Diagnostics;
using Owl3Native.Engine;
using Owl3Native.Models.Checkpoints;
using Xunit;

namespace Owl3Native.Tests.Diagnostics;

/// <summary>
/// The device vision tower's host side (no GPU needed): its weights read from a real-format checkpoint, the patches it
/// is fed, and the device memory it is counted for. The tower itself is judged against the CPU model by owl3-gpu-check
/// (DeviceVisionConformance).
/// </summary>
public sealed class VisionWeightsTests
{
    [Theory]
    [InlineData(Owl3Variant.V241101)]
    [InlineData(Owl3Variant.V240728)]
    [InlineData(Owl3Variant.V241014)]
    public void Every_tensor_the_tower_runs_is_uploaded_as_the_checkpoints_own_bits_and_the_last_layer_is_not(Owl3Variant variant)
    {
        WithCheckpoint(variant, ckpt =>
        {
            var v = ckpt.Config.Vision;
            var w = VisionWeights.Of(ckpt);
            var sh = w.Shape;
            Assert.Equal((v.Hidden, v.Heads, v.Intermediate, v.Layers - 1, v.PatchSize, v.ImageSize, ckpt.Config.Hidden),
                (sh.Hidden, sh.Heads, sh.Intermediate, sh.Layers, sh.PatchSize, sh.ImageSize, sh.OutHidden));
            Assert.Equal(v.Patches, sh.Patches);
            Assert.Equal(ckpt.Projector == ProjectorKind.Mlp, sh.MlpProjector);
            Assert.Equal(variant == Owl3Variant.V241101, sh.MlpProjector); // 241101's MLP, 240728/241014's Linear

            // The patch conv as a GEMM weight: each [3, P, P] filter flattened, then zeros up to the aligned width.
            var conv = Raw(ckpt, "vision_model.embeddings.patch_embedding.weight");
            var patchW = w.PatchWeight();
            Assert.Equal((long)sh.Hidden * sh.PaddedPatchInputs, patchW.LongLength);
            for (int r = 0; r < sh.Hidden; r++)
            {
                Assert.Equal(conv.AsSpan(r * sh.PatchInputs, sh.PatchInputs).ToArray(), patchW.AsSpan(r * sh.PaddedPatchInputs, sh.PatchInputs).ToArray());
                Assert.All(patchW.AsSpan(r * sh.PaddedPatchInputs + sh.PatchInputs, sh.PaddedPatchInputs - sh.PatchInputs).ToArray(), b => Assert.Equal(0, b));
            }
            Assert.Equal(Raw(ckpt, "vision_model.embeddings.patch_embedding.bias"), w.PatchBias());
            Assert.Equal(Raw(ckpt, "vision_model.embeddings.position_embedding.weight"), w.Positions());
            long total = patchW.LongLength + w.PatchBias().LongLength + w.Positions().LongLength;
            for (int l = 0; l < sh.Layers; l++)
            {
                string p = $"vision_model.encoder.layers.{l}.";
                ushort[] R(string name) => Raw(ckpt, p + name);
                var b = w.Layer(l);
                Assert.Equal(R("layer_norm1.weight"), b.Norm1Weight);
                Assert.Equal(R("layer_norm1.bias"), b.Norm1Bias);
                Assert.Equal([.. R("self_attn.q_proj.weight"), .. R("self_attn.k_proj.weight"), .. R("self_attn.v_proj.weight")], b.Qkv);
                Assert.Equal([.. R("self_attn.q_proj.bias"), .. R("self_attn.k_proj.bias"), .. R("self_attn.v_proj.bias")], b.QkvBias);
                Assert.Equal(R("self_attn.out_proj.weight"), b.Out);
                Assert.Equal(R("self_attn.out_proj.bias"), b.OutBias);
                Assert.Equal(R("layer_norm2.weight"), b.Norm2Weight);
                Assert.Equal(R("layer_norm2.bias"), b.Norm2Bias);
                Assert.Equal(R("mlp.fc1.weight"), b.Fc1);
                Assert.Equal(R("mlp.fc1.bias"), b.Fc1Bias);
                Assert.Equal(R("mlp.fc2.weight"), b.Fc2);
                Assert.Equal(R("mlp.fc2.bias"), b.Fc2Bias);
                total += new[] { b.Norm1Weight, b.Norm1Bias, b.Qkv, b.QkvBias, b.Out, b.OutBias, b.Norm2Weight, b.Norm2Bias, b.Fc1, b.Fc1Bias, b.Fc2, b.Fc2Bias }.Sum(a => a.LongLength);
            }
            Assert.True(ckpt.Weights.TryGetInfo($"vision_model.encoder.layers.{sh.Layers}.mlp.fc1.weight", out _)); // the 27th layer exists, and is not run
            var proj = w.Projector();
            if (sh.MlpProjector)
            {
                Assert.Equal(Raw(ckpt, "vision2text_model.0.weight"), proj.W0);
                Assert.Equal(Raw(ckpt, "vision2text_model.0.bias"), proj.B0);
                Assert.Equal(Raw(ckpt, "vision2text_model.2.weight"), proj.W2);
                Assert.Equal(Raw(ckpt, "vision2text_model.2.bias"), proj.B2);
            }
            else
            {
                Assert.Equal(Raw(ckpt, "vision2text_model.weight"), proj.W0);
                Assert.Equal(Raw(ckpt, "vision2text_model.bias"), proj.B0);
                Assert.Null(proj.W2);
            }
            total += proj.W0.LongLength + proj.B0.LongLength + (proj.W2?.LongLength ?? 0) + (proj.B2?.LongLength ?? 0);
            Assert.Equal(total, sh.WeightElements); // the figure the KV-cache sizing subtracts
        });
    }

    [Theory]
    [InlineData(28, 378)] // exact tiling
    [InlineData(28, 384)] // the last pixels of each row and column are never read
    [InlineData(14, 70)]
    public void Patches_are_cut_as_the_cpu_backend_cuts_them_in_bf16_with_zero_columns_to_the_aligned_width(int patch, int size)
    {
        var sh = new SiglipShape(64, 4, 128, 1, patch, size, 1e-6f, 64, false);
        var rng = new Random(size);
        var pixels = new Tensor(2, 3, size, size);
        for (int i = 0; i < pixels.Length; i++) pixels.Data[i] = (float)(rng.NextDouble() * 4 - 2);
        var packed = DeviceSiglipTower.PackPatches(pixels, sh);
        var cpu = new CpuBackend(1).Patches(pixels, patch);
        Assert.Equal(2 * sh.Patches, cpu.Rows);
        Assert.Equal(sh.PatchInputs, cpu.Cols);
        Assert.Equal((long)cpu.Rows * sh.PaddedPatchInputs, packed.LongLength);
        for (int r = 0; r < cpu.Rows; r++)
        {
            var row = packed.AsSpan(r * sh.PaddedPatchInputs, sh.PaddedPatchInputs);
            for (int c = 0; c < sh.PatchInputs; c++) Assert.Equal(BFloat16.FromSingle(cpu.Row(r)[c]), row[c]);
            for (int c = sh.PatchInputs; c < sh.PaddedPatchInputs; c++) Assert.Equal(0, row[c]);
        }
    }

    [Fact]
    public void Pixels_of_another_size_or_layout_are_refused_by_name()
    {
        var sh = new SiglipShape(64, 4, 128, 1, 14, 70, 1e-6f, 64, false);
        Assert.Contains("[crops, 3, 70, 70]", Assert.Throws<ArgumentException>(() => DeviceSiglipTower.PackPatches(new Tensor(1, 3, 84, 84), sh)).Message);
        Assert.Throws<ArgumentException>(() => DeviceSiglipTower.PackPatches(new Tensor(1, 1, 70, 70), sh));
        Assert.Throws<ArgumentException>(() => DeviceSiglipTower.PackPatches(new Tensor(3, 70, 70), sh));
    }

    [Fact]
    public void Sizes_the_kernels_cannot_take_are_refused()
    {
        new SiglipShape(1152, 16, 4304, 26, 14, 378, 1e-6f, 3584, true).Validate(); // so400m → 7B: head dim 72
        Assert.Throws<ArgumentException>(() => new SiglipShape(1152, 7, 4304, 26, 14, 378, 1e-6f, 3584, true).Validate()); // not a multiple of the heads
        Assert.Throws<ArgumentException>(() => new SiglipShape(1160, 20, 4304, 26, 14, 378, 1e-6f, 3584, true).Validate()); // head dim 58
        Assert.Throws<ArgumentException>(() => new SiglipShape(1152, 16, 4300, 26, 14, 378, 1e-6f, 3584, true).Validate()); // MLP not a multiple of 8
    }

    [Fact]
    public void The_kv_cache_leaves_room_for_the_vision_tower_and_its_scratch()
    {
        WithCheckpoint(Owl3Variant.V241101, ckpt =>
        {
            var text = TextWeights.Of(ckpt);
            var vision = VisionWeights.Of(ckpt).Shape;
            long total = 4L << 30, free = 3L << 30;
            long other = 2 * vision.WeightElements + VisionWorkspace.BytesFor(vision, DeviceTextForward.VisionCropsPerPass);
            Assert.True(other > 0);
            long perBlock = 2L * ckpt.Config.Layers * 16 * ckpt.Config.KvHeads * ckpt.Config.HeadDim * 2;
            int without = DeviceTextForward.BlocksFor(free, total, text, 16, 1.0);
            int with = DeviceTextForward.BlocksFor(free, total, text, 16, 1.0, other);
            Assert.InRange(without - with, other / perBlock, other / perBlock + 1);
        });
    }

    [Fact]
    public void A_workspace_is_counted_for_every_buffer_it_allocates()
    {
        // so400m at 16 crops: x, h, attention out, sublayer out (4 × hidden), q|k|v, the MLP / projector intermediate,
        // packed patches and image_embeds per row, bf16; the crop starts and zeros in int32.
        var sh = new SiglipShape(1152, 16, 4304, 26, 14, 378, 1e-6f, 3584, true);
        long rows = 16L * 729;
        Assert.Equal(2 * rows * (4 * 1152 + 3 * 1152 + 4304 + 592 + 3584) + 4 * 33, VisionWorkspace.BytesFor(sh, 16));
    }

    private static ushort[] Raw(Owl3Checkpoint ckpt, string name) => TinyCheckpoint.Raw(ckpt, name);

    private static void WithCheckpoint(Owl3Variant variant, Action<Owl3Checkpoint> body) => TinyCheckpoint.With(variant, 6, body);
}
