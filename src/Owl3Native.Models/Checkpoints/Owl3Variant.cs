namespace Owl3Native.Models.Checkpoints;

/// <summary>
/// The three hyper-attention variants of the released checkpoints (spec/MODEL.md §1), named by the
/// checkpoint generation that introduced them.
/// </summary>
public enum Owl3Variant
{
    /// <summary>7B-240728 (A-dyn): gated cross-attention, dynamic per-head gate `self_attn.gate_proj.0`.</summary>
    V240728,
    /// <summary>1B/2B-241014 (A-static, inferred, unverified): gated cross-attention with a static gate `self_attn.gate`.</summary>
    V241014,
    /// <summary>7B-241101 (B-fused): visual K/V prepended to the text K/V, one softmax, no gate.</summary>
    V241101,
}

/// <summary>How image features are projected to the LLM width (spec/MODEL.md §2.2).</summary>
public enum ProjectorKind
{
    /// <summary>`vision2text_model` = one Linear (240728).</summary>
    Linear,
    /// <summary>`vision2text_model.0` Linear → erf GELU → `.2` Linear (241101).</summary>
    Mlp,
}

/// <summary>Spellings of <see cref="Owl3Variant"/>.</summary>
public static class Owl3VariantNames
{
    /// <summary>`240728`, `241014` or `241101`.</summary>
    public static string Tag(this Owl3Variant v) => v.ToString()[1..];

    /// <summary>One-line description for `inspect`.</summary>
    public static string Describe(this Owl3Variant v) => v switch
    {
        Owl3Variant.V240728 => "240728 (A-dyn: cross-attention, dynamic per-head gate)",
        Owl3Variant.V241014 => "241014 (A-static: cross-attention, static gate; inferred, unverified)",
        _ => "241101 (B-fused: visual K/V in one softmax, no gate)",
    };

    /// <summary>Parses `240728`, `241014` or `241101`.</summary>
    public static bool TryParse(string? text, out Owl3Variant variant)
    {
        switch (text)
        {
            case "240728": variant = Owl3Variant.V240728; return true;
            case "241014": variant = Owl3Variant.V241014; return true;
            case "241101": variant = Owl3Variant.V241101; return true;
            default: variant = default; return false;
        }
    }
}
