using System.Globalization;
using System.Text.RegularExpressions;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Kernels;

/// <summary>ptxas' resource report of one kernel for one architecture.</summary>
public sealed record KernelResources(string Kernel, string Arch, int Registers, int SharedBytes, int StackBytes, int SpillStoreBytes, int SpillLoadBytes);

/// <summary>A compiled kernel file: the CUBIN and its per-kernel resource report.</summary>
public sealed record CompiledKernelFile(string File, string Arch, byte[] Cubin, IReadOnlyList<KernelResources> Resources, string Log);

/// <summary>
/// Compiles `kernels/*.cu` through NVRTC straight to CUBIN for an exact architecture (no GPU needed) with the runtime's
/// options, and parses ptxas' `-v` report from the program log. Never `-lineinfo` on sm_90 with NVRTC 11.x (it crashes
/// the process: ../shared/BUILDCHAIN.md).
/// </summary>
public static partial class KernelCompiler
{
    /// <summary>Options every kernel is compiled with (the cache key includes them).</summary>
    public static IReadOnlyList<string> Options(string arch) =>
        [$"--gpu-architecture={arch}", "--std=c++17", "-Xptxas=-v", "-default-device"];

    /// <summary>Compiles one embedded file for <paramref name="arch"/> (`sm_80`, `sm_90`).</summary>
    /// <exception cref="KernelCompileException">The source does not compile; the message holds NVRTC's log.</exception>
    public static CompiledKernelFile Compile(KernelFile file, string arch)
    {
        var options = Options(arch);
        using var program = NvrtcProgramHandle.Create(file.Source, file.Name, KernelSources.Headers);
        if (!program.Compile(options, out string log))
            throw new KernelCompileException(file.Name, string.Join(' ', options), log);
        return new CompiledKernelFile(file.Name, arch, program.Cubin(), ParseReport(log, arch), log);
    }

    /// <summary>
    /// The C++ front end only: compiles <paramref name="file"/> to PTX for a virtual architecture (`compute_90`), which
    /// needs no ptxas, so an NVRTC too old for the file's target still checks its C++ (inline PTX is not assembled).
    /// Returns the PTX.
    /// </summary>
    /// <exception cref="KernelCompileException">The source does not compile.</exception>
    public static string CompilePtx(KernelFile file, string virtualArch)
    {
        string[] options = [$"--gpu-architecture={virtualArch}", "--std=c++17", "-default-device"];
        using var program = NvrtcProgramHandle.Create(file.Source, file.Name, KernelSources.Headers);
        if (!program.Compile(options, out string log))
            throw new KernelCompileException(file.Name, string.Join(' ', options), log);
        return program.Ptx();
    }

    /// <summary>NVRTC's version (major, minor), or null when NVRTC cannot be loaded.</summary>
    public static (int Major, int Minor)? NvrtcVersion()
    {
        var probe = DeviceProbe.Run();
        return probe.NvrtcMajor is { } ma ? (ma, probe.NvrtcMinor ?? 0) : null;
    }

    /// <summary>
    /// Parses ptxas `-v` lines: "Compiling entry function 'k' for 'sm_80'", "Function properties for k" / "N bytes stack
    /// frame, N bytes spill stores, N bytes spill loads", "Used N registers, N bytes smem, ...".
    /// </summary>
    public static IReadOnlyList<KernelResources> ParseReport(string log, string arch)
    {
        var result = new Dictionary<string, KernelResources>(StringComparer.Ordinal);
        string? current = null;
        foreach (var line in log.Split('\n'))
        {
            var entry = EntryLine().Match(line);
            if (entry.Success)
            {
                current = entry.Groups[1].Value;
                result[current] = new KernelResources(current, arch, 0, 0, 0, 0, 0);
                continue;
            }
            var props = PropertiesLine().Match(line);
            if (props.Success) { current = props.Groups[1].Value; result.TryAdd(current, new KernelResources(current, arch, 0, 0, 0, 0, 0)); continue; }
            if (current is null) continue;
            var spill = SpillLine().Match(line);
            if (spill.Success)
                result[current] = result[current] with { StackBytes = Int(spill.Groups[1]), SpillStoreBytes = Int(spill.Groups[2]), SpillLoadBytes = Int(spill.Groups[3]) };
            var used = UsedLine().Match(line);
            if (used.Success)
            {
                var smem = SmemPart().Match(line);
                result[current] = result[current] with { Registers = Int(used.Groups[1]), SharedBytes = smem.Success ? Int(smem.Groups[1]) : 0 };
            }
        }
        return result.Values.OrderBy(r => r.Kernel, StringComparer.Ordinal).ToArray();
    }

    private static int Int(Group g) => int.Parse(g.Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"Compiling entry function '(\w+)' for '(\w+)'")] private static partial Regex EntryLine();
    [GeneratedRegex(@"Function properties for (\w+)")] private static partial Regex PropertiesLine();
    [GeneratedRegex(@"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")] private static partial Regex SpillLine();
    [GeneratedRegex(@"Used (\d+) registers")] private static partial Regex UsedLine();
    [GeneratedRegex(@"(\d+) bytes smem")] private static partial Regex SmemPart();
}
