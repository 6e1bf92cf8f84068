using Owl3Native.Core.SafeTensors;
using Owl3Native.Cuda.Model;
using Owl3Native.Diagnostics;
using Owl3Native.Engine;
using Owl3Native.Models.Checkpoints;
using Xunit;

namespace Owl3Native.Tests.Diagnostics;

/// <summary>The device text model's weights read from a real-format checkpoint, layer by layer (no GPU needed).</summary>
public sealed class TextWeightsTests
{
    [Theory]
    [InlineData(Owl3Variant.V241101)]
    [InlineData(Owl3Variant.V240728)]
    [InlineData(Owl3Variant.V241014)]
    public void Every_language_model_tensor_is_uploaded_as_the_checkpoints_own_bf16_bits(Owl3Variant variant)
    {
        WithCheckpoint(variant, ckpt =>
        {
            var cfg = ckpt.Config;
            var w = TextWeights.Of(ckpt);
            Assert.Equal((cfg.Hidden, cfg.Heads, cfg.KvHeads, cfg.HeadDim, cfg.Intermediate), (w.Shape.Hidden, w.Shape.Heads, w.Shape.KvHeads, w.Shape.HeadDim, w.Shape.Intermediate));
            Assert.Equal((float)cfg.RmsNormEps, w.Shape.RmsEps);
            Assert.Equal(cfg.RopeTheta, w.Shape.RopeTheta);
            Assert.Equal((cfg.Layers, cfg.Vocab, cfg.TieWordEmbeddings), (w.LayerCount, w.Vocab, w.TiedHead));
            Assert.Equal(variant == Owl3Variant.V241101, w.FusedHyper);

            // Every tensor of the language model is uploaded, nothing else: the element count is theirs.
            long expected = ckpt.Weights.Names.Where(n => n.StartsWith("language_model.", StringComparison.Ordinal)).Sum(n => Info(ckpt, n).ElementCount);
            Assert.Equal(expected, w.Elements);

            Assert.Equal(Raw(ckpt, "language_model.model.embed_tokens.weight"), w.Embedding());
            Assert.Equal(Raw(ckpt, "language_model.model.norm.weight"), w.FinalNorm());
            Assert.Equal(cfg.TieWordEmbeddings ? null : Raw(ckpt, "language_model.lm_head.weight"), w.LmHead());
            for (int l = 0; l < cfg.Layers; l++)
            {
                string p = $"language_model.model.layers.{l}.";
                ushort[] R(string name) => Raw(ckpt, p + name);
                ushort[]? Opt(string name) => ckpt.Weights.TryGetInfo(p + name, out _) ? R(name) : null;
                var b = w.Layer(l);
                Assert.Equal(R("input_layernorm.weight"), b.InputNorm);
                Assert.Equal(R("self_attn.q_proj.weight"), b.Q);
                Assert.Equal(R("self_attn.q_proj.bias"), b.QBias);
                Assert.Equal([.. R("self_attn.k_proj.weight"), .. R("self_attn.v_proj.weight")], b.Kv);
                Assert.Equal([.. R("self_attn.k_proj.bias"), .. R("self_attn.v_proj.bias")], b.KvBias);
                Assert.Equal(R("self_attn.o_proj.weight"), b.O);
                Assert.Equal(R("post_attention_layernorm.weight"), b.PostNorm);
                Assert.Equal([.. R("mlp.gate_proj.weight"), .. R("mlp.up_proj.weight")], b.GateUp);
                Assert.Equal(R("mlp.down_proj.weight"), b.Down);
                // The hyper layers carry the image side; the gates are 240728's per-head gate_proj.0 and 241014's static gate.
                bool hyper = cfg.IsHyperLayer(l);
                Assert.Equal(hyper, b.VKv is not null);
                Assert.Equal(Opt("self_attn.v_kv_proj.weight"), b.VKv);
                Assert.Equal(Opt("self_attn.v_kv_proj.bias"), b.VKvBias);
                Assert.Equal(hyper && variant == Owl3Variant.V240728, b.GateProj is not null);
                Assert.Equal(hyper && variant == Owl3Variant.V241014, b.StaticGate is not null);
                Assert.Equal(Opt("self_attn.gate_proj.0.weight"), b.GateProj);
                Assert.Equal(Opt("self_attn.gate_proj.0.bias"), b.GateProjBias);
                Assert.Equal(Opt("self_attn.gate"), b.StaticGate);
                Assert.Contains(b.QBias, v => v != 0);
            }
        });
    }

    [Fact]
    public void Nothing_is_read_until_asked_and_a_layer_costs_its_own_bf16_bytes_on_the_host()
    {
        WithCheckpoint(Owl3Variant.V241101, ckpt =>
        {
            TextWeights.Of(ckpt); // warm the code paths, so the figures below are the reads alone
            long before = GC.GetAllocatedBytesForCurrentThread();
            var w = TextWeights.Of(ckpt);
            long opened = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(opened < w.Elements * 2 / 10, $"TextWeights.Of allocated {opened} bytes for a model of {w.Elements * 2} bf16 bytes");
            w.Layer(0);
            for (int l = 0; l < w.LayerCount; l++)
            {
                before = GC.GetAllocatedBytesForCurrentThread();
                var b = w.Layer(l);
                long spent = GC.GetAllocatedBytesForCurrentThread() - before;
                long own = 2L * new[] { b.InputNorm, b.Q, b.QBias, b.Kv, b.KvBias, b.O, b.PostNorm, b.GateUp, b.Down, b.VKv, b.VKvBias, b.GateProj, b.GateProjBias, b.StaticGate }
                    .Sum(a => a?.LongLength ?? 0);
                // Its bits and a little bookkeeping (names, scopes); an fp32 pass would cost 3× its bits.
                Assert.True(spent < own * 6 / 5 + 16_384, $"layer {l}: {spent} bytes allocated for {own} bytes of bf16");
            }
        });
    }

    [Fact]
    public void The_kv_cache_is_sized_from_the_free_memory_less_the_padded_weights_and_the_reserve()
    {
        WithCheckpoint(Owl3Variant.V240728, ckpt =>
        {
            var w = TextWeights.Of(ckpt);
            var cfg = ckpt.Config;
            long total = 8L << 30, free = 6L << 30;
            int padded = (cfg.Vocab + 7) / 8 * 8;
            long weights = 2 * (w.Elements + (cfg.TieWordEmbeddings ? 1 : 2) * (long)(padded - cfg.Vocab) * cfg.Hidden);
            long perBlock = 2L * cfg.Layers * 16 * cfg.KvHeads * cfg.HeadDim * 2;
            long expected = (long)((free - weights - ((1L << 30) + total / 20)) * 0.5) / perBlock;
            Assert.Equal(expected, DeviceTextForward.BlocksFor(free, total, w, 16, 0.5));
            // A device the weights and reserve fill: refused as out of memory, naming the figures.
            var e = Assert.Throws<Owl3Native.Cuda.Runtime.CudaException>(() => DeviceTextForward.BlocksFor(1L << 30, total, w, 16, 0.9));
            Assert.Contains("leave no room for a KV block", e.Message);
        });
    }

    private static TensorInfo Info(Owl3Checkpoint ckpt, string name) => ckpt.Weights.TryGetInfo(name, out var info) ? info : throw new KeyNotFoundException(name);

    private static ushort[] Raw(Owl3Checkpoint ckpt, string name) => TinyCheckpoint.Raw(ckpt, name);

    private static void WithCheckpoint(Owl3Variant variant, Action<Owl3Checkpoint> body) => TinyCheckpoint.With(variant, 5, body);
}
