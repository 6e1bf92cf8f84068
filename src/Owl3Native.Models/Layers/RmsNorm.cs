using Owl3Native.Core.Backend;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models.Layers;

/// <summary>`x · rsqrt(mean(x²) + eps) · w` (spec/MODEL.md §3.3).</summary>
internal sealed class RmsNorm(IBackend backend, WeightScope w, float eps)
{
    private readonly Weight _weight = w.Tensor("weight");

    public Tensor Forward(Tensor x) => backend.RmsNorm(x, _weight, eps);
}
