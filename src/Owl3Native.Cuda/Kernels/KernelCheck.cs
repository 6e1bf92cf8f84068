namespace Owl3Native.Cuda.Kernels;

/// <summary>
/// One row of `owl3 kernels`: a kernel's resources on one architecture against its declared budget. A row whose
/// <see cref="Note"/> says "PTX only" checked the C++ alone (an architecture-specific file this NVRTC cannot assemble).
/// </summary>
public sealed record KernelCheckRow(string File, string Kernel, string Arch, int Registers, int SmemBytes, int SpillStoreBytes, int SpillLoadBytes, string Budget, bool Ok, string? Problem, string? Note = null);

/// <summary>
/// Compiles every embedded kernel file for each architecture and checks each kernel against its budget: no spills,
/// registers and static shared memory within the declared limits. Runs without a GPU (NVRTC only).
/// </summary>
public static class KernelCheck
{
    /// <summary>The architectures checked by default: A100 and H100/H200.</summary>
    public static IReadOnlyList<string> DefaultArchitectures { get; } = ["sm_80", "sm_90"];

    /// <summary>Compiles and checks; a file that fails to compile yields one failed row per architecture with the log's first error.</summary>
    public static IReadOnlyList<KernelCheckRow> Run(IReadOnlyList<string>? architectures = null)
    {
        var rows = new List<KernelCheckRow>();
        var nvrtc = KernelCompiler.NvrtcVersion();
        foreach (var file in KernelSources.Files)
            foreach (var requested in architectures ?? DefaultArchitectures)
            {
                string arch = requested;
                if (file.Target is { } target)
                {
                    // An architecture-specific file is checked once, for its target, where its family is asked for.
                    if (requested != target.Family && requested != target.Arch) continue;
                    if (target.Unavailable(file.Name, requested, nvrtc) is { } why)
                    {
                        rows.AddRange(FrontEndOnly(file, target, why));
                        continue;
                    }
                    arch = target.Arch;
                }
                CompiledKernelFile compiled;
                try
                {
                    compiled = KernelCompiler.Compile(file, arch);
                }
                catch (Runtime.KernelCompileException e)
                {
                    string first = e.Log.Split('\n').FirstOrDefault(l => l.Contains("error", StringComparison.Ordinal))?.Trim() ?? "compile error";
                    rows.Add(new KernelCheckRow(file.Name, "*", arch, 0, 0, 0, 0, "-", false, first));
                    continue;
                }
                // Kernels a macro stamps out escape the source scan: every kernel ptxas reports needs a budget line too.
                foreach (var r in compiled.Resources.Where(r => file.Budgets.All(b => b.Kernel != r.Kernel)))
                    rows.Add(new KernelCheckRow(file.Name, r.Kernel, arch, r.Registers, r.SharedBytes, r.SpillStoreBytes, r.SpillLoadBytes, "-", false, "no `// budget:` line"));
                foreach (var budget in file.Budgets)
                {
                    var r = compiled.Resources.FirstOrDefault(x => x.Kernel == budget.Kernel);
                    string b = $"registers<={budget.MaxRegisters} smem<={budget.MaxSharedBytes}";
                    if (r is null)
                    {
                        rows.Add(new KernelCheckRow(file.Name, budget.Kernel, arch, 0, 0, 0, 0, b, false, "no such kernel in the ptxas report"));
                        continue;
                    }
                    string? problem =
                        r.SpillStoreBytes > 0 || r.SpillLoadBytes > 0 ? $"spills {r.SpillStoreBytes} B stores / {r.SpillLoadBytes} B loads"
                        : r.Registers > budget.MaxRegisters ? $"{r.Registers} registers > {budget.MaxRegisters}"
                        : r.SharedBytes > budget.MaxSharedBytes ? $"{r.SharedBytes} B smem > {budget.MaxSharedBytes}"
                        : null;
                    // ptxas' warnings that name the kernel (e.g. "wgmma.mma_async instructions are serialized …") travel with its row.
                    var warnings = compiled.Log.Split('\n').Where(l => l.Contains("warning", StringComparison.OrdinalIgnoreCase) && l.Contains($"'{r.Kernel}'", StringComparison.Ordinal))
                        .Select(l => l.Trim()).ToArray();
                    rows.Add(new KernelCheckRow(file.Name, r.Kernel, arch, r.Registers, r.SharedBytes, r.SpillStoreBytes, r.SpillLoadBytes, b, problem is null, problem,
                        warnings.Length == 0 ? null : string.Join(" | ", warnings)));
                }
            }
        return rows;
    }

    /// <summary>
    /// The rows of a file this NVRTC cannot assemble for its target: its C++ compiled to PTX for the target's virtual
    /// architecture, every budgeted kernel present in the PTX. Registers and spills stay unchecked (the note says
    /// so); the GPU bundle checks them with the device's NVRTC.
    /// </summary>
    private static IEnumerable<KernelCheckRow> FrontEndOnly(KernelFile file, KernelTarget target, string why)
    {
        string ptx;
        try
        {
            ptx = KernelCompiler.CompilePtx(file, target.Virtual);
        }
        catch (Runtime.KernelCompileException e)
        {
            string first = e.Log.Split('\n').FirstOrDefault(l => l.Contains("error", StringComparison.Ordinal))?.Trim() ?? "compile error";
            return [new KernelCheckRow(file.Name, "*", target.Virtual, 0, 0, 0, 0, "-", false, first)];
        }
        return file.Budgets.Select(b =>
        {
            bool present = ptx.Contains($".entry {b.Kernel}(", StringComparison.Ordinal);
            return new KernelCheckRow(file.Name, b.Kernel, target.Virtual, 0, 0, 0, 0, $"registers<={b.MaxRegisters} smem<={b.MaxSharedBytes}",
                present, present ? null : "no such entry in the PTX", $"PTX only: {why}; ptxas' budget check runs where NVRTC can assemble {target.Arch}");
        }).ToArray();
    }
}
