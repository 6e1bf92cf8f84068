using Owl3Native.Core.Backend;
using Owl3Native.Core.Tensors;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Layers;

namespace Owl3Native.Models.Owl3;

/// <summary>Vision → LLM width: one Linear (240728) or Linear → erf GELU → Linear (241101) (spec/MODEL.md §2.2).</summary>
internal sealed class Projector
{
    private readonly IBackend _backend;
    private readonly Linear _first;
    private readonly Linear? _second;

    public Projector(IBackend backend, ProjectorKind kind, WeightScope w)
    {
        _backend = backend;
        _first = kind == ProjectorKind.Linear ? new Linear(backend, w, bias: true) : new Linear(backend, w.Child("0"), bias: true);
        _second = kind == ProjectorKind.Mlp ? new Linear(backend, w.Child("2"), bias: true) : null;
    }

    public Tensor Forward(Tensor features, ITrace? trace) // [imageTokens, Hv] → [imageTokens, hidden]
    {
        var x = _first.Forward(features);
        if (_second is null) return x;
        trace?.Record("vision.vision2text_fc1_out", x);
        _backend.GeluErfInPlace(x);
        trace?.Record("vision.vision2text_gelu_out", x);
        return _second.Forward(x);
    }
}
