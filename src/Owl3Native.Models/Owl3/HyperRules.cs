using Owl3Native.Models.Checkpoints;

namespace Owl3Native.Models.Owl3;

/// <summary>How a hyper layer uses images, per variant (spec/MODEL.md §1, §4.2, §4.3): data, not branches on names.</summary>
/// <param name="Fused">Visual keys share the text softmax (241101) instead of a separate gated cross-attention.</param>
/// <param name="MarkerOffset">Crop j is visible from, and rotated at, position s_j + offset (0: 241101; 1: 240728/241014).</param>
/// <param name="Gate">The gate of the cross-attention variants.</param>
public sealed record HyperRules(bool Fused, int MarkerOffset, HyperGate Gate)
{
    /// <summary>The rules of a variant.</summary>
    public static HyperRules For(Owl3Variant variant) => variant switch
    {
        Owl3Variant.V241101 => new(Fused: true, MarkerOffset: 0, HyperGate.None),
        Owl3Variant.V240728 => new(Fused: false, MarkerOffset: 1, HyperGate.DynamicPerHead),
        _ => new(Fused: false, MarkerOffset: 1, HyperGate.StaticPerChannel),
    };
}

/// <summary>The cross-attention gate.</summary>
public enum HyperGate
{
    /// <summary>No gate (241101).</summary>
    None,
    /// <summary>`σ(C_h·Wgᵀ + bg)` from the head's own self-attention context, one `[D, D]` Linear shared by heads (240728).</summary>
    DynamicPerHead,
    /// <summary>`σ(gate)`, a learned `[hidden]` vector (241014, inferred).</summary>
    StaticPerChannel,
}
