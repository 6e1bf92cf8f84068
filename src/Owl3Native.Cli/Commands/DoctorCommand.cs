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
            "not built yet (the CUDA toolchain issue #5 adds kernels and `owl3 kernels`)",
            // The CUDA backend does not exist yet, so every machine runs on the CPU for now.
            "cpu (the CUDA backend is not built yet)");
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

    private static string? FindOnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, exe)).FirstOrDefault(File.Exists);
}
