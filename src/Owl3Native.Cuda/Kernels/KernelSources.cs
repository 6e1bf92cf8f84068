using System.Reflection;
using System.Text.RegularExpressions;

namespace Owl3Native.Cuda.Kernels;

/// <summary>A declared resource budget of one kernel (`// budget: name registers&lt;=N smem&lt;=M` beside the kernel).</summary>
public sealed record KernelBudget(string Kernel, int MaxRegisters, int MaxSharedBytes);

/// <summary>One kernel file: its source, its kernels' budgets.</summary>
public sealed record KernelFile(string Name, string Source, IReadOnlyList<KernelBudget> Budgets);

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
        Resources(".cu").Select(r => new KernelFile(r.Name, r.Source, ParseBudgets(r.Name, r.Source))).ToArray();

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

    [GeneratedRegex(@"^//\s*budget:\s*(\w+)\s+registers<=(\d+)\s+smem<=(\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex BudgetLine();

    [GeneratedRegex(@"extern\s+""C""\s+__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s+)?(?!__launch_bounds__)(\w+)\s*\(")]
    private static partial Regex EntryPoint();
}
