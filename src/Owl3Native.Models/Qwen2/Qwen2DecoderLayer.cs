using Owl3Native.Core.Backend;
using Owl3Native.Core.Config;
using Owl3Native.Core.Tensors;
using Owl3Native.Models.Layers;
using Owl3Native.Models.Owl3;

namespace Owl3Native.Models.Qwen2;

/// <summary>Qwen2 block: pre-norm self-attention (hyper in hyper layers), pre-norm SwiGLU MLP (spec/MODEL.md §3.2).</summary>
internal sealed class Qwen2DecoderLayer
{
    private readonly IBackend _backend;
    private readonly RmsNorm _inputNorm, _postAttnNorm;
    private readonly Qwen2Attention _selfAttn;
    private readonly SwiGluMlp _mlp;

    public Qwen2DecoderLayer(IBackend backend, Owl3Config cfg, int layer, HyperRules rules, WeightScope w)
    {
        _backend = backend;
        float eps = (float)cfg.RmsNormEps;
        _inputNorm = new RmsNorm(backend, w.Child("input_layernorm"), eps);
        var attn = w.Child("self_attn");
        var hyper = cfg.IsHyperLayer(layer) ? new HyperAttention(backend, cfg, layer, rules, _inputNorm, attn) : null;
        _selfAttn = new Qwen2Attention(backend, cfg, layer, attn, hyper);
        _postAttnNorm = new RmsNorm(backend, w.Child("post_attention_layernorm"), eps);
        _mlp = new SwiGluMlp(backend, w.Child("mlp"));
    }

    public HyperAttention? Hyper => _selfAttn.Hyper;

    public Tensor Forward(Tensor x, AttentionBatch batch, ITrace? trace) // x: [tokens, hidden], updated in place
    {
        _backend.AddInPlace(x, _selfAttn.Forward(_inputNorm.Forward(x), batch, trace));
        _backend.AddInPlace(x, _mlp.Forward(_postAttnNorm.Forward(x)));
        return x;
    }
}
