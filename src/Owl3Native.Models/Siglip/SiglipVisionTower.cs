using Owl3Native.Core.Backend;
using Owl3Native.Core.Config;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models.Siglip;

/// <summary>
/// SigLIP-so400m/14 as mPLUG-Owl3 uses it (spec/MODEL.md §2.1): patch conv as a GEMM, position embeddings, then
/// layers 0..L−2 only — the model takes hidden_states[−2], so the last layer, post-layernorm and head never run.
/// </summary>
internal sealed class SiglipVisionTower
{
    private readonly IBackend _backend;
    private readonly VisionConfig _cfg;
    private readonly Weight _patchWeight, _patchBias, _positions;
    private readonly SiglipEncoderLayer[] _layers;

    public SiglipVisionTower(IBackend backend, VisionConfig cfg, WeightScope w)
    {
        _backend = backend;
        _cfg = cfg;
        var patch = w.Child("embeddings").Child("patch_embedding");
        _patchWeight = patch.Tensor("weight").AsMatrix(cfg.Hidden, cfg.Channels * cfg.PatchSize * cfg.PatchSize); // [Hv, 3·P·P]
        _patchBias = patch.Tensor("bias");
        _positions = w.Child("embeddings").Child("position_embedding").Tensor("weight"); // [patches, Hv]
        _layers = Enumerable.Range(0, cfg.Layers - 1).Select(i => new SiglipEncoderLayer(backend, cfg, w.Child("encoder").Child("layers", i))).ToArray();
    }

    /// <summary>pixels `[crops, 3, S, S]` → selected hidden state `[crops·patches, Hv]`.</summary>
    public Tensor Forward(Tensor pixels, ITrace? trace)
    {
        var x = _backend.Linear(_backend.Patches(pixels, _cfg.PatchSize), _patchWeight, _patchBias);
        _backend.AddRowsInPlace(x, _positions);
        trace?.Record("vision.hidden_states.0", x);
        for (int i = 0; i < _layers.Length; i++)
        {
            x = _layers[i].Forward(x, _cfg.Patches);
            trace?.Record($"vision.hidden_states.{i + 1}", x);
        }
        trace?.Record("vision.selected_hidden_state", x);
        return x;
    }
}
