using System.Reflection;
using System.Text.RegularExpressions;

namespace Owl3Native.Cuda.Kernels;

/// <summary>A declared resource budget of one kernel (`// budget: name registers&lt;=N smem&lt;=M` beside the kernel).</summary>
public sealed record KernelBudget(string Kernel, int MaxRegisters, int MaxSharedBytes);

/// <summary>
/// An architecture-specific kernel file's target (`// arch: sm_90a nvrtc&gt;=12.0`): it is compiled only for that
/// architecture (on a device of its family, `sm_90` for `sm_90a`) and only by an NVRTC at least that new.
/// </summary>
public sealed record KernelTarget(string Arch, int MinNvrtcMajor, int MinNvrtcMinor)
{
    /// <summary>The device architecture the target runs on: `sm_90` for `sm_90a`.</summary>
    public string Family => Arch.TrimEnd('a');

    /// <summary>The virtual architecture of the family (`compute_90`), for a PTX-only front-end compile.</summary>
    public string Virtual => "compute_" + Family["sm_".Length..];

    /// <summary>
    /// Why this target cannot be compiled for <paramref name="deviceArch"/> with NVRTC <paramref name="nvrtc"/>, or null
    /// when it can (then for <see cref="Arch"/>).
    /// </summary>
    public string? Unavailable(string fileName, string deviceArch, (int Major, int Minor)? nvrtc)
    {
        if (deviceArch != Family && deviceArch != Arch) return $"{fileName} runs only on {Family} devices ({Arch}); this one is {deviceArch}";
        if (nvrtc is not { } v) return "NVRTC not found";
        if (v.Major < MinNvrtcMajor || (v.Major == MinNvrtcMajor && v.Minor < MinNvrtcMinor))
            return $"{fileName} needs NVRTC ≥ {MinNvrtcMajor}.{MinNvrtcMinor} for {Arch} (found {v.Major}.{v.Minor})";
        return null;
    }
}

/// <summary>One kernel file: its source, its kernels' budgets, and its target when it is architecture-specific.</summary>
public sealed record KernelFile(string Name, string Source, IReadOnlyList<KernelBudget> Budgets, KernelTarget? Target = null);

/// <summary>The `kernels/*.cu` and `*.cuh` files embedded in this assembly.</summary>
public static partial class KernelSources
{
    private const string Prefix = "kernels/";
    private static readonly Lazy<IReadOnlyList<KernelFile>> AllFiles = new(Load);
    private static readonly Lazy<IReadOnlyList<(string Name, string Source)>> AllHeaders = new(LoadHeaders);

    /// <summary>Every `.cu` file, by name.</summary>
    public static IReadOnlyList<KernelFile> Files => AllFiles.Value;

    /// <summary>Every header (`common.cuh`), offered to NVRTC by include name.</summary>
    public static IReadOnlyList<(string Name, string Source)> Headers => AllHeaders.Value;

    /// <summary>A file by name (`norm.cu`).</summary>
    public static KernelFile File(string name) =>
        Files.FirstOrDefault(f => f.Name == name) ?? throw new ArgumentException($"no embedded kernel file `{name}`");

    private static IReadOnlyList<KernelFile> Load() =>
        Resources(".cu").Select(r => new KernelFile(r.Name, r.Source, ParseBudgets(r.Name, r.Source), ParseTarget(r.Name, r.Source))).ToArray();

    private static IReadOnlyList<(string, string)> LoadHeaders() => Resources(".cuh").ToArray();

    private static IEnumerable<(string Name, string Source)> Resources(string extension)
    {
        var asm = typeof(KernelSources).Assembly;
        foreach (var res in asm.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(extension, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = asm.GetManifestResourceStream(res)!;
            using var reader = new StreamReader(stream);
            yield return (res[Prefix.Length..], reader.ReadToEnd());
        }
    }

    /// <summary>Reads the `// budget:` lines of a file; every `extern "C" __global__` kernel must have one.</summary>
    /// <exception cref="FormatException">A kernel without a budget, or a malformed budget line.</exception>
    public static IReadOnlyList<KernelBudget> ParseBudgets(string file, string source)
    {
        var budgets = BudgetLine().Matches(source).Select(m => new KernelBudget(m.Groups[1].Value,
            int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture))).ToList();
        foreach (Match m in EntryPoint().Matches(source))
            if (budgets.All(b => b.Kernel != m.Groups[1].Value))
                throw new FormatException($"{file}: kernel `{m.Groups[1].Value}` has no `// budget: {m.Groups[1].Value} registers<=N smem<=M` line");
        return budgets;
    }

    /// <summary>Reads a file's `// arch: sm_90a nvrtc&gt;=12.0` line (at most one); null for a file every architecture compiles.</summary>
    /// <exception cref="FormatException">A malformed or repeated arch line.</exception>
    public static KernelTarget? ParseTarget(string file, string source)
    {
        var lines = Regex.Matches(source, @"^//\s*arch:(.*)$", RegexOptions.Multiline);
        if (lines.Count == 0) return null;
        if (lines.Count > 1) throw new FormatException($"{file}: more than one `// arch:` line");
        var m = TargetLine().Match(lines[0].Value);
        if (!m.Success) throw new FormatException($"{file}: `{lines[0].Value.Trim()}` is not `// arch: sm_NNa nvrtc>=MAJOR.MINOR`");
        return new KernelTarget(m.Groups[1].Value, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"^//\s*arch:\s*(sm_\d{2,3}a?)\s+nvrtc>=(\d+)\.(\d+)\s*$")]
    private static partial Regex TargetLine();

    [GeneratedRegex(@"^//\s*budget:\s*(\w+)\s+registers<=(\d+)\s+smem<=(\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex BudgetLine();

    [GeneratedRegex(@"extern\s+""C""\s+__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s+)?(?!__launch_bounds__)(\w+)\s*\(")]
    private static partial Regex EntryPoint();
}
