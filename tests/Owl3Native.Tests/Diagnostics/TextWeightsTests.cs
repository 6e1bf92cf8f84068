using Owl3Native.Diagnostics;
using Owl3Native.Models.Checkpoints;
using Xunit;

namespace Owl3Native.Tests.Diagnostics;

/// <summary>The device text model's weights read from a real-format checkpoint (no GPU needed).</summary>
public sealed class TextWeightsTests
{
    [Theory]
    [InlineData(Owl3Variant.V241101)]
    [InlineData(Owl3Variant.V240728)]
    [InlineData(Owl3Variant.V241014)]
    public void Every_language_model_tensor_is_read_by_its_checkpoint_name_with_its_shape(Owl3Variant variant)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"owl3-textweights-{variant}-{Guid.NewGuid():N}");
        try
        {
            CheckpointMaker.Write(dir, new MakeTinyOptions(variant, ModelShape.Tiny, Seed: 5));
            using var ckpt = Owl3Checkpoint.Open(dir);
            var cfg = ckpt.Config;
            var w = TextWeights.Of(ckpt);
            Assert.Equal((cfg.Hidden, cfg.Heads, cfg.KvHeads, cfg.HeadDim, cfg.Intermediate), (w.Shape.Hidden, w.Shape.Heads, w.Shape.KvHeads, w.Shape.HeadDim, w.Shape.Intermediate));
            Assert.Equal((float)cfg.RmsNormEps, w.Shape.RmsEps);
            Assert.Equal(cfg.RopeTheta, w.Shape.RopeTheta);
            Assert.Equal(cfg.Layers, w.Layers.Length);
            Assert.Equal((long)cfg.Vocab * cfg.Hidden, w.Embedding.LongLength);
            Assert.Equal(cfg.TieWordEmbeddings, w.LmHead is null);
            Assert.Equal(cfg.Hidden, w.FinalNorm.Length);
            foreach (var layer in w.Layers)
            {
                var bits = layer.ToBits(w.Shape); // checks every tensor's element count against the shape
                Assert.Equal(2L * w.Shape.KvWidth * cfg.Hidden, bits.Kv.LongLength);
            }
            // The values are the checkpoint's: the embedding row of token 3 as the CPU reads it.
            var embed = new Owl3Native.Models.WeightScope(ckpt.Weights).Child("language_model").Child("model").Child("embed_tokens").Tensor("weight").ToArray();
            Assert.Equal(embed.AsSpan(3 * cfg.Hidden, cfg.Hidden).ToArray(), w.Embedding.AsSpan(3 * cfg.Hidden, cfg.Hidden).ToArray());
            Assert.Contains(w.Layers[0].QBias, v => v != 0f);
            // The hyper layers carry the image side's v_kv_proj; 241101's fused form is the one the device runs.
            for (int l = 0; l < cfg.Layers; l++)
                Assert.Equal(cfg.IsHyperLayer(l), w.Layers[l].VKv is not null);
            Assert.Equal(variant == Owl3Variant.V241101, w.FusedHyper);
            // The gates: 240728's per-head gate_proj.0 [D, D] + bias, 241014's static gate [hidden], none for 241101.
            for (int l = 0; l < cfg.Layers; l++)
            {
                bool hyper = cfg.IsHyperLayer(l);
                Assert.Equal(hyper && variant == Owl3Variant.V240728, w.Layers[l].GateProj is not null);
                Assert.Equal(hyper && variant == Owl3Variant.V241014, w.Layers[l].StaticGate is not null);
                if (w.Layers[l].GateProj is { } g) Assert.Equal(cfg.HeadDim * cfg.HeadDim, g.Length);
                if (w.Layers[l].StaticGate is { } sg) Assert.Equal(cfg.Hidden, sg.Length);
                w.Layers[l].ToBits(w.Shape);
            }
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
