namespace Owl3Native.Verification;

/// <summary>Outcome of one golden tensor.</summary>
public enum ComparisonStatus
{
    /// <summary>Within tolerance (floats) or identical (integers).</summary>
    Pass,
    /// <summary>Outside tolerance, different integers, or a shape mismatch.</summary>
    Fail,
    /// <summary>Computed by the original but never used by the model (last SigLIP layer, post-layernorm, pooling head).</summary>
    Unused,
    /// <summary>
    /// The golden tensor disagrees with its own stated definition recomputed in fp64 from the golden's inputs, and ours
    /// matches that recomputation (reported, not counted as a failure; every downstream tensor is still checked).
    /// </summary>
    Inconsistent,
}

/// <summary>
/// One compared tensor: max-abs = max|ours − golden|, max-rel = max-abs / max|golden| (the check of ../shared/CLI.md),
/// or, for integer tensors, the number of differing elements.
/// </summary>
public sealed record Comparison(string Name, string Shape, ComparisonStatus Status, double MaxAbs, double MaxRel, int Mismatches, string? Note = null)
{
    /// <summary>Σ(ours − golden)² / Σ golden², where the judgement was made on it (the device verifier), else null.</summary>
    public double? Nmse { get; init; }

    /// <summary>fp32 CPU pass threshold on max-rel.</summary>
    public const double Fp32Tolerance = 1e-4;

    /// <summary>Compares floats.</summary>
    public static Comparison Floats(string name, int[] shape, ReadOnlySpan<float> ours, ReadOnlySpan<float> golden, double tolerance = Fp32Tolerance)
    {
        if (ours.Length != golden.Length)
            return new(name, Fmt(shape), ComparisonStatus.Fail, double.NaN, double.NaN, -1, $"we produced {ours.Length} values, the golden has {golden.Length}");
        double maxAbs = 0, scale = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            double d = Math.Abs((double)ours[i] - golden[i]);
            if (double.IsNaN(d)) d = double.PositiveInfinity;
            maxAbs = Math.Max(maxAbs, d);
            scale = Math.Max(scale, Math.Abs(golden[i]));
        }
        double rel = scale == 0 ? (maxAbs == 0 ? 0 : double.PositiveInfinity) : maxAbs / scale;
        return new(name, Fmt(shape), rel <= tolerance ? ComparisonStatus.Pass : ComparisonStatus.Fail, maxAbs, rel, 0);
    }

    /// <summary>Compares integers (token ids) exactly.</summary>
    public static Comparison Integers(string name, int[] shape, ReadOnlySpan<long> ours, ReadOnlySpan<long> golden)
    {
        if (ours.Length != golden.Length)
            return new(name, Fmt(shape), ComparisonStatus.Fail, double.NaN, double.NaN, -1, $"we produced {ours.Length} values, the golden has {golden.Length}");
        int bad = 0;
        for (int i = 0; i < ours.Length; i++) if (ours[i] != golden[i]) bad++;
        return new(name, Fmt(shape), bad == 0 ? ComparisonStatus.Pass : ComparisonStatus.Fail, 0, 0, bad);
    }

    /// <summary>A golden tensor of a part the model never runs.</summary>
    public static Comparison UnusedTensor(string name, int[] shape, string why) => new(name, Fmt(shape), ComparisonStatus.Unused, 0, 0, 0, why);

    private static string Fmt(int[] shape) => "[" + string.Join(", ", shape) + "]";
}
