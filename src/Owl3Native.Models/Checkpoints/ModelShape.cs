namespace Owl3Native.Models.Checkpoints;

/// <summary>Named sizes for `make-tiny --shape` (spec/CHECKPOINTS.md §3, MODEL.md §7.4).</summary>
public enum ModelShape
{
    /// <summary>The goldens' sizes: LLM 64 wide, 5 layers; SigLIP 64 wide, 3 layers, 3×3 patches.</summary>
    Tiny,
    /// <summary>1B-241014: Qwen2-0.5B LM + SigLIP-400M.</summary>
    B1,
    /// <summary>2B-241014: Qwen2-1.5B LM + SigLIP-400M (LM sizes inferred from Qwen2-1.5B).</summary>
    B2,
    /// <summary>7B (240728 / 241101): Qwen2-7B LM + SigLIP-400M.</summary>
    B7,
}

/// <summary>Spellings of <see cref="ModelShape"/>.</summary>
public static class ModelShapeNames
{
    /// <summary>Parses `tiny`, `1b`, `2b`, `7b`.</summary>
    public static bool TryParse(string? text, out ModelShape shape)
    {
        switch (text?.ToLowerInvariant())
        {
            case "tiny": shape = ModelShape.Tiny; return true;
            case "1b": shape = ModelShape.B1; return true;
            case "2b": shape = ModelShape.B2; return true;
            case "7b": shape = ModelShape.B7; return true;
            default: shape = default; return false;
        }
    }

    /// <summary>`tiny`, `1b`, `2b`, `7b`.</summary>
    public static string Name(this ModelShape s) => s == ModelShape.Tiny ? "tiny" : s.ToString()[1..].ToLowerInvariant() + "b";

    /// <summary>The variant the released checkpoint of this size uses (7B: the newest, 241101).</summary>
    public static Owl3Variant ReleasedVariant(this ModelShape s) => s switch
    {
        ModelShape.B1 or ModelShape.B2 => Owl3Variant.V241014,
        _ => Owl3Variant.V241101,
    };
}
