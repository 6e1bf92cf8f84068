using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cli.Commands;

/// <summary>`owl3 kernels [--arch sm_80,sm_90] [--json]`.</summary>
internal sealed class KernelsCommand : Command
{
    public override string Name => "kernels";
    public override string Usage => "kernels [--arch sm_80,sm_90] [--json]";
    public override string Summary => "compile every kernel through NVRTC (no GPU needed) and check registers, shared memory and spills against each kernel's budget";
    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("arch", true, "comma-separated architectures (default sm_80,sm_90)", ValueName: "LIST"),
        new("json", false, "print exactly one JSON document on stdout: a list of rows"),
    ];

    public override int Run(ParsedArgs args, Console console)
    {
        args.NoMorePositionals(0);
        var arches = (args.Value("arch") ?? "sm_80,sm_90").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var a in arches)
            if (!System.Text.RegularExpressions.Regex.IsMatch(a, "^sm_[0-9]{2,3}a?$")) throw new UsageException($"--arch: '{a}' is not an architecture like sm_80");
        var nvrtc = NativeLibraryResolver.Probe(CudaLibrary.Nvrtc);
        if (!nvrtc.Found)
            throw new UserErrorException($"NVRTC not found (tried {string.Join(", ", nvrtc.Tried.Take(4))}, ...): install libnvrtc11.2 (Debian non-free) or a CUDA toolkit");
        var rows = KernelCheck.Run(arches);
        if (args.Flag("json")) JsonOutput.Write(console, rows, JsonOutput.Default.IReadOnlyListKernelCheckRow);
        else
        {
            console.Out.WriteLine($"{"file",-22} {"kernel",-30} {"arch",-6} {"regs",5} {"smem",6} {"spill",6}  {"budget",-26} result");
            foreach (var r in rows)
                console.Out.WriteLine($"{r.File,-22} {r.Kernel,-30} {r.Arch,-6} {r.Registers,5} {r.SmemBytes,6} {r.SpillStoreBytes + r.SpillLoadBytes,6}  {r.Budget,-26} {(r.Ok ? "ok" : "FAIL: " + r.Problem)}{(r.Note is null ? "" : $" ({r.Note})")}");
            console.Out.WriteLine($"{rows.Count(r => r.Ok)} ok, {rows.Count(r => !r.Ok)} failed (NVRTC {KernelCompiler.NvrtcVersion()?.Major}.{KernelCompiler.NvrtcVersion()?.Minor}, {nvrtc.LoadedFrom})");
        }
        if (rows.Any(r => !r.Ok))
        {
            console.Error.WriteLine($"error: {rows.Count(r => !r.Ok)} kernel check(s) failed: {string.Join("; ", rows.Where(r => !r.Ok).Take(3).Select(r => $"{r.File}/{r.Kernel}/{r.Arch}: {r.Problem}"))}");
            return 1;
        }
        return 0;
    }
}
