using Owl3Native.Core.Backend;
using Owl3Native.Core.Config;
using Owl3Native.Core.Tensors;
using Owl3Native.Models.Layers;

namespace Owl3Native.Models.Siglip;

/// <summary>SigLIP encoder layer: pre-norm bidirectional attention and a tanh-GELU MLP (spec/MODEL.md §2.1 step 3).</summary>
internal sealed class SiglipEncoderLayer
{
    private readonly IBackend _backend;
    private readonly LayerNorm _norm1, _norm2;
    private readonly Linear _q, _k, _v, _out, _fc1, _fc2;
    private readonly int _heads, _headDim;

    public SiglipEncoderLayer(IBackend backend, VisionConfig cfg, WeightScope w)
    {
        _backend = backend;
        float eps = (float)cfg.LayerNormEps;
        _norm1 = new LayerNorm(backend, w.Child("layer_norm1"), eps);
        _q = new Linear(backend, w.Child("self_attn").Child("q_proj"), bias: true);
        _k = new Linear(backend, w.Child("self_attn").Child("k_proj"), bias: true);
        _v = new Linear(backend, w.Child("self_attn").Child("v_proj"), bias: true);
        _out = new Linear(backend, w.Child("self_attn").Child("out_proj"), bias: true);
        _norm2 = new LayerNorm(backend, w.Child("layer_norm2"), eps);
        _fc1 = new Linear(backend, w.Child("mlp").Child("fc1"), bias: true);
        _fc2 = new Linear(backend, w.Child("mlp").Child("fc2"), bias: true);
        _heads = cfg.Heads;
        _headDim = cfg.HeadDim;
    }

    public Tensor Forward(Tensor x, int patches) // x: [crops·patches, visionHidden]
    {
        var a = _norm1.Forward(x);
        var qkv = _backend.LinearMany(a, [_q.Weight, _k.Weight, _v.Weight], [_q.Bias, _k.Bias, _v.Bias]);
        var attn = _backend.DenseAttention(qkv[0], qkv[1], qkv[2], patches, _heads, _headDim);
        _backend.AddInPlace(x, _out.Forward(attn));
        var h = _fc1.Forward(_norm2.Forward(x));                 // [rows, visionIntermediate]
        _backend.GeluTanhInPlace(h);
        _backend.AddInPlace(x, _fc2.Forward(h));
        return x;
    }
}
