using Owl3Native.Core.Backend;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models.Layers;

/// <summary>`y = x·Wᵀ (+ b)`, W `[out, in]` as stored.</summary>
internal sealed class Linear(IBackend backend, WeightScope w, bool bias)
{
    public Weight Weight { get; } = w.Tensor("weight");
    public Weight? Bias { get; } = bias ? w.Tensor("bias") : null;

    public Tensor Forward(Tensor x) => backend.Linear(x, Weight, Bias); // [rows, in] → [rows, out]
}
