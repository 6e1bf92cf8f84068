using Owl3Native.Core.Backend;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models.Layers;

/// <summary>Qwen2 MLP: `down( silu(gate(m)) ⊙ up(m) )`, no biases (spec/MODEL.md §3.5).</summary>
internal sealed class SwiGluMlp(IBackend backend, WeightScope w)
{
    private readonly Weight _gate = w.Child("gate_proj").Tensor("weight");
    private readonly Weight _up = w.Child("up_proj").Tensor("weight");
    private readonly Weight _down = w.Child("down_proj").Tensor("weight");

    public Tensor Forward(Tensor m) => backend.Linear(backend.SwiGlu(m, _gate, _up), _down); // [tokens, hidden] → [tokens, intermediate] → [tokens, hidden]
}
