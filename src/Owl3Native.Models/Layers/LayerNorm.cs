using Owl3Native.Core.Backend;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models.Layers;

/// <summary>LayerNorm with weight and bias (SigLIP, spec/MODEL.md §2.1).</summary>
internal sealed class LayerNorm(IBackend backend, WeightScope w, float eps)
{
    private readonly Weight _weight = w.Tensor("weight");
    private readonly Weight _bias = w.Tensor("bias");

    public Tensor Forward(Tensor x) => backend.LayerNorm(x, _weight, _bias, eps);
}
