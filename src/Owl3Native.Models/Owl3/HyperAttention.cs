using Owl3Native.Core.Backend;
using Owl3Native.Core.Config;
using Owl3Native.Core.Tensors;
using Owl3Native.Models.Layers;

namespace Owl3Native.Models.Owl3;

/// <summary>
/// The image side of a hyper layer (spec/MODEL.md §4): visual K/V from the layer-normalised image features, made once
/// per request; for the cross-attention variants, the gated mix of cross-attention into the self-attention context.
/// </summary>
internal sealed class HyperAttention
{
    private readonly IBackend _backend;
    private readonly Owl3Config _cfg;
    private readonly int _layer;
    private readonly RmsNorm _inputNorm;           // the layer's own input_layernorm, shared with the text stream
    private readonly Linear _vkv;                  // [2·kvHeads·headDim, hidden], head-major [K|V]
    private readonly Linear? _dynamicGate;         // [headDim, headDim] shared by all heads (240728)
    private readonly Weight? _staticGate;          // [hidden] (241014)

    public HyperAttention(IBackend backend, Owl3Config cfg, int layer, HyperRules rules, RmsNorm inputNorm, WeightScope attn)
    {
        _backend = backend;
        _cfg = cfg;
        _layer = layer;
        Rules = rules;
        _inputNorm = inputNorm;
        _vkv = new Linear(backend, attn.Child("v_kv_proj"), bias: true);
        if (rules.Gate == HyperGate.DynamicPerHead) _dynamicGate = new Linear(backend, attn.Child("gate_proj").Child("0"), bias: true);
        if (rules.Gate == HyperGate.StaticPerChannel) _staticGate = attn.Tensor("gate");
    }

    public HyperRules Rules { get; }

    /// <summary>imageEmbeds `[crops·patches, hidden]` + marker starts s_j → this layer's visual K/V for the request.</summary>
    public VisualKv PrepareVisual(Tensor imageEmbeds, ReadOnlySpan<int> markerStarts, int patches, ITrace? trace)
    {
        var kv = _vkv.Forward(_inputNorm.Forward(imageEmbeds));                          // [imageTokens, 2·kvHeads·headDim]
        trace?.Record($"hyper.{_layer}.v_kv", kv);
        var from = new int[markerStarts.Length];
        for (int j = 0; j < from.Length; j++) from[j] = markerStarts[j] + Rules.MarkerOffset;  // visibility = MI-RoPE position
        return _backend.MakeVisualKv(kv, _cfg.KvHeads, _cfg.HeadDim, patches, from, _cfg.RopeTheta, from);
    }

    /// <summary>240728/241014: context `[tokens, heads·headDim]` ← (1 − γ)·context + γ·cross for rows that see an image.</summary>
    public void MixCrossAttention(Tensor q, Tensor context, AttentionBatch batch, ITrace? trace)
    {
        var visible = new int[batch.Tokens];
        var cross = _backend.CrossAttention(q, batch, _layer, _cfg.Heads, visible);
        Tensor gate;
        if (_dynamicGate is not null)
        {
            gate = _dynamicGate.Forward(context.Reshape(batch.Tokens * _cfg.Heads, _cfg.HeadDim)); // per head, shared Linear
            _backend.SigmoidInPlace(gate);
            gate = gate.Reshape(batch.Tokens, _cfg.Heads * _cfg.HeadDim);
        }
        else
        {
            gate = new Tensor(_staticGate!.ToArray(), 1, _cfg.Hidden);
            _backend.SigmoidInPlace(gate);
        }
        trace?.Record($"hyper.{_layer}.context_in", context);
        trace?.Record($"hyper.{_layer}.gate", gate);
        _backend.GatedMixInPlace(context, cross, gate, visible);
        trace?.Record($"hyper.{_layer}.context_out", context);
    }
}
