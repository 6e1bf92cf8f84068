using Owl3Native.Core.Backend;
using Owl3Native.Core.Config;
using Owl3Native.Core.Tensors;
using Owl3Native.Models.Layers;
using Owl3Native.Models.Owl3;

namespace Owl3Native.Models.Qwen2;

/// <summary>
/// Qwen2 self-attention (biased q/k/v, RoPE, GQA, causal; spec/MODEL.md §3.4), with the image side of a hyper layer
/// when <see cref="Hyper"/> is set and the batch carries visual K/V for this layer.
/// </summary>
internal sealed class Qwen2Attention
{
    private readonly IBackend _backend;
    private readonly Owl3Config _cfg;
    private readonly int _layer;
    private readonly Linear _q, _k, _v;
    private readonly Weight _o;

    public Qwen2Attention(IBackend backend, Owl3Config cfg, int layer, WeightScope w, HyperAttention? hyper)
    {
        _backend = backend;
        _cfg = cfg;
        _layer = layer;
        _q = new Linear(backend, w.Child("q_proj"), bias: true);
        _k = new Linear(backend, w.Child("k_proj"), bias: true);
        _v = new Linear(backend, w.Child("v_proj"), bias: true);
        _o = w.Child("o_proj").Tensor("weight");
        Hyper = hyper;
    }

    public HyperAttention? Hyper { get; }

    public Tensor Forward(Tensor h, AttentionBatch batch, ITrace? trace) // h: [tokens, hidden]
    {
        var qkv = _backend.LinearMany(h, [_q.Weight, _k.Weight, _v.Weight], [_q.Bias, _k.Bias, _v.Bias]);
        Tensor q = qkv[0], k = qkv[1], v = qkv[2];                              // [tokens, heads·headDim], [tokens, kvHeads·headDim] ×2
        _backend.RopeInPlace(q, batch.Positions, _cfg.Heads, _cfg.HeadDim, _cfg.RopeTheta);
        _backend.RopeInPlace(k, batch.Positions, _cfg.KvHeads, _cfg.HeadDim, _cfg.RopeTheta);
        _backend.WriteKv(batch, _layer, k, v);

        bool images = Hyper is not null && batch.HasVisual(_layer);
        var context = _backend.PagedAttention(q, batch, _layer, _cfg.Heads, fusedVisual: images && Hyper!.Rules.Fused);
        if (images && !Hyper!.Rules.Fused) Hyper.MixCrossAttention(q, context, batch, trace);
        return _backend.Linear(context, _o);                                    // o_proj, no bias
    }
}
