using Owl3Native.Core;
using Owl3Native.Cuda.Model;
using Owl3Native.Models;
using Owl3Native.Models.Checkpoints;

namespace Owl3Native.Diagnostics;

/// <summary>
/// A checkpoint's vision tower and projector as <see cref="DeviceSiglipTower"/> uploads them: `vision_model.*` (the
/// encoder layers that run: all but the last) and `vision2text_model.*`, read by name from the memory-mapped tensors when
/// asked for, as bf16 bits. Sizes are checked at <see cref="Of"/>; nothing is read there. The checkpoint must stay open.
/// </summary>
public sealed class VisionWeights : IVisionTowerWeights
{
    private readonly WeightScope _vision, _projector;
    private readonly CheckpointBits _bits;

    private VisionWeights(Owl3Checkpoint checkpoint)
    {
        var cfg = checkpoint.Config;
        var v = cfg.Vision;
        Shape = new SiglipShape(v.Hidden, v.Heads, v.Intermediate, Math.Max(0, v.Layers - 1), v.PatchSize, v.ImageSize, (float)v.LayerNormEps, cfg.Hidden,
            checkpoint.Projector == ProjectorKind.Mlp);
        var root = new WeightScope(checkpoint.Weights);
        _vision = root.Child("vision_model");
        _projector = root.Child("vision2text_model");
        _bits = new CheckpointBits(checkpoint.Weights);
    }

    /// <summary>The vision side of <paramref name="checkpoint"/>, every tensor's presence and size checked.</summary>
    /// <exception cref="CheckpointException">A tensor is missing or has another size than the config's.</exception>
    /// <exception cref="ArgumentException">Sizes the device kernels cannot take.</exception>
    public static VisionWeights Of(Owl3Checkpoint checkpoint)
    {
        var w = new VisionWeights(checkpoint);
        w.Shape.Validate();
        w.PatchTensors();
        for (int l = 0; l < w.Shape.Layers; l++) w.LayerTensors(l);
        w.ProjectorTensors();
        return w;
    }

    /// <inheritdoc/>
    public SiglipShape Shape { get; }

    /// <inheritdoc/>
    public ushort[] PatchWeight()
    {
        var (weight, _, _) = PatchTensors();
        return CheckpointBits.Padded(weight, Shape.Hidden, Shape.PatchInputs, Shape.PaddedPatchInputs);
    }

    /// <inheritdoc/>
    public ushort[] PatchBias() => CheckpointBits.Of(PatchTensors().Bias);

    /// <inheritdoc/>
    public ushort[] Positions() => CheckpointBits.Of(PatchTensors().Positions);

    /// <inheritdoc/>
    public SiglipLayerBits Layer(int index)
    {
        var t = LayerTensors(index);
        static ushort[] B(params Core.Tensors.Weight[] w) => CheckpointBits.Of(w);
        return new SiglipLayerBits(B(t[0]), B(t[1]), B(t[2], t[3], t[4]), B(t[5], t[6], t[7]), B(t[8]), B(t[9]), B(t[10]), B(t[11]), B(t[12]), B(t[13]), B(t[14]), B(t[15]));
    }

    /// <inheritdoc/>
    public ProjectorBits Projector()
    {
        var t = ProjectorTensors();
        return t.Length == 2 ? new ProjectorBits(CheckpointBits.Of(t[0]), CheckpointBits.Of(t[1]))
            : new ProjectorBits(CheckpointBits.Of(t[0]), CheckpointBits.Of(t[1]), CheckpointBits.Of(t[2]), CheckpointBits.Of(t[3]));
    }

    private (Core.Tensors.Weight Weight, Core.Tensors.Weight Bias, Core.Tensors.Weight Positions) PatchTensors()
    {
        var e = _vision.Child("embeddings");
        var patch = e.Child("patch_embedding");
        return (_bits.Matrix(patch, Shape.Hidden, Shape.PatchInputs), _bits.Vector(patch, "bias", Shape.Hidden),
            _bits.Matrix(e.Child("position_embedding"), Shape.Patches, Shape.Hidden));
    }

    /// <summary>Layer l's tensors: norm1 w, b; q, k, v weights; q, k, v biases; out w, b; norm2 w, b; fc1 w, b; fc2 w, b.</summary>
    private Core.Tensors.Weight[] LayerTensors(int l)
    {
        int h = Shape.Hidden, inter = Shape.Intermediate;
        var w = _vision.Child("encoder").Child("layers", l);
        var a = w.Child("self_attn");
        return
        [
            _bits.Vector(w.Child("layer_norm1"), "weight", h), _bits.Vector(w.Child("layer_norm1"), "bias", h),
            _bits.Matrix(a.Child("q_proj"), h, h), _bits.Matrix(a.Child("k_proj"), h, h), _bits.Matrix(a.Child("v_proj"), h, h),
            _bits.Vector(a.Child("q_proj"), "bias", h), _bits.Vector(a.Child("k_proj"), "bias", h), _bits.Vector(a.Child("v_proj"), "bias", h),
            _bits.Matrix(a.Child("out_proj"), h, h), _bits.Vector(a.Child("out_proj"), "bias", h),
            _bits.Vector(w.Child("layer_norm2"), "weight", h), _bits.Vector(w.Child("layer_norm2"), "bias", h),
            _bits.Matrix(w.Child("mlp").Child("fc1"), inter, h), _bits.Vector(w.Child("mlp").Child("fc1"), "bias", inter),
            _bits.Matrix(w.Child("mlp").Child("fc2"), h, inter), _bits.Vector(w.Child("mlp").Child("fc2"), "bias", h),
        ];
    }

    /// <summary>The projector's tensors: weight, bias (Linear), or .0 weight, bias, .2 weight, bias (MLP).</summary>
    private Core.Tensors.Weight[] ProjectorTensors()
    {
        int h = Shape.Hidden, o = Shape.OutHidden;
        if (!Shape.MlpProjector) return [_bits.Matrix(_projector, o, h), _bits.Vector(_projector, "bias", o)];
        var first = _projector.Child("0");
        var second = _projector.Child("2");
        return [_bits.Matrix(first, o, h), _bits.Vector(first, "bias", o), _bits.Matrix(second, o, o), _bits.Vector(second, "bias", o)];
    }
}
