using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cli.Commands;

internal sealed record LibraryReport(string Library, string? Path, IReadOnlyList<string> Tried);

internal sealed record DoctorReport(
    string Runtime, string Os, int Cores, string CpuFeatures, string Driver, int DeviceCount, string? Nvrtc,
    IReadOnlyList<LibraryReport> Libraries, string? Ffmpeg, string Kernels, string DefaultDevice);

/// <summary>`owl3 doctor`: what this machine offers for running Owl3Native.</summary>
internal sealed class DoctorCommand : Command
{
    public override string Name => "doctor";
    public override string Usage => "doctor [--json]";
    public override string Summary => "report the driver, devices, NVRTC/cuBLAS found (and paths tried), ffmpeg and the default device";
    public override IReadOnlyList<OptionSpec> Options => [new("json", false, "print exactly one JSON document on stdout")];

    public override int Run(ParsedArgs args, Console console)
    {
        var probe = DeviceProbe.Run();
        var libs = Enum.GetValues<CudaLibrary>().Select(NativeLibraryResolver.Probe)
            .Select(p => new LibraryReport(p.Library.ToString(), p.LoadedFrom, p.Tried)).ToArray();
        string features = string.Join(" ", new[] { ("AVX2", Avx2.IsSupported), ("FMA", Fma.IsSupported), ("AVX-512F", Avx512F.IsSupported) }
            .Where(f => f.Item2).Select(f => f.Item1));
        var report = new DoctorReport(
            RuntimeInformation.FrameworkDescription,
            RuntimeInformation.OSDescription,
            Environment.ProcessorCount,
            features.Length == 0 ? "none of AVX2/FMA/AVX-512F" : features,
            probe.Summary,
            probe.DeviceCount,
            probe.NvrtcMajor is { } ma ? $"{ma}.{probe.NvrtcMinor}" : null,
            libs,
            FindOnPath("ffmpeg"),
            KernelsLine(probe),
            DefaultDeviceLine(probe));
        if (args.Flag("json"))
        {
            JsonOutput.Write(console, report, JsonOutput.Default.DoctorReport);
            return 0;
        }
        var o = console.Out;
        o.WriteLine($"runtime        {report.Runtime} on {report.Os}");
        o.WriteLine($"cpu            {report.Cores} cores, {report.CpuFeatures}");
        o.WriteLine($"driver         {report.Driver}");
        o.WriteLine($"nvrtc          {(report.Nvrtc is null ? "not found" : "version " + report.Nvrtc)}");
        foreach (var l in libs)
            o.WriteLine($"  {l.Library,-10} {(l.Path ?? "not found")}{(l.Path is null ? $" (tried {l.Tried.Count}: {string.Join(", ", l.Tried.Take(6))}{(l.Tried.Count > 6 ? ", ..." : "")})" : "")}");
        o.WriteLine($"ffmpeg         {report.Ffmpeg ?? "not found on PATH (video input needs it)"}");
        o.WriteLine($"kernels        {report.Kernels}");
        o.WriteLine($"default device {report.DefaultDevice}");
        return 0;
    }

    /// <summary>Whether kernels compile here: one small file through NVRTC (`owl3 kernels` checks them all).</summary>
    private static string KernelsLine(DeviceProbeResult probe)
    {
        if (probe.NvrtcMajor is null) return "cannot compile: NVRTC not found (see the paths tried above)";
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Owl3Native.Cuda.Kernels.KernelCompiler.Compile(Owl3Native.Cuda.Kernels.KernelSources.File("norm.cu"), "sm_80");
            return $"compile: ok (norm.cu for sm_80 in {clock.ElapsedMilliseconds} ms; `owl3 kernels` compiles and checks every kernel)";
        }
        catch (Exception e) when (e is KernelCompileException or CudaException or DllNotFoundException or EntryPointNotFoundException)
        {
            return $"compile FAILED: {e.Message.Split('\n')[0]}";
        }
    }

    /// <summary>`auto` runs on the CPU; whether `--device cuda` could run here, and if not why.</summary>
    private static string DefaultDeviceLine(DeviceProbeResult probe)
    {
        string? missing = !probe.DriverFound ? probe.Summary
            : probe.DeviceCount == 0 ? probe.Summary
            : probe.NvrtcMajor is null ? "NVRTC not found"
            : !NativeLibraryResolver.Probe(CudaLibrary.CublasLt).Found ? "cuBLASLt not found"
            : null;
        return missing is null
            ? $"cpu (`auto` stays on the CPU until the GPU path is judged on a device; `--device cuda` can run here: {probe.Summary})"
            : $"cpu (`--device cuda` cannot run here: {missing})";
    }

    private static string? FindOnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, exe)).FirstOrDefault(File.Exists);
}
