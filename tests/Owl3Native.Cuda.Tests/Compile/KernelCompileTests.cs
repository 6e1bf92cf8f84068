using Owl3Native.Cuda.Kernels;
using Xunit;

namespace Owl3Native.Cuda.Tests.Compile;

/// <summary>Every kernel compiles through NVRTC for sm_80 and sm_90, spill-free and within its declared budget (no GPU).</summary>
public sealed class KernelCompileTests
{
    [RequiresNvrtcFact]
    public void Every_kernel_compiles_spill_free_within_budget_for_sm80_and_sm90()
    {
        var rows = KernelCheck.Run();
        Assert.NotEmpty(rows);
        var failures = rows.Where(r => !r.Ok).Select(r => $"{r.File}/{r.Kernel}/{r.Arch}: {r.Problem}").ToArray();
        Assert.True(failures.Length == 0, string.Join("\n", failures));
        // Every budgeted kernel appears for both architectures.
        foreach (var file in KernelSources.Files)
            foreach (var b in file.Budgets)
                Assert.Equal(2, rows.Count(r => r.Kernel == b.Kernel));
    }

    [RequiresNvrtcFact]
    public void A_broken_kernel_reports_the_file_and_the_log()
    {
        var bad = new KernelFile("broken.cu", "extern \"C\" __global__ void broken_bf16(int x) { undefined_thing(x); }\n", []);
        var e = Assert.Throws<Runtime.KernelCompileException>(() => KernelCompiler.Compile(bad, "sm_80"));
        Assert.Equal("broken.cu", e.File);
        Assert.Contains("undefined_thing", e.Log);
    }

    [Fact]
    public void Ptxas_report_is_parsed_per_kernel()
    {
        const string log = """
            ptxas info    : 0 bytes gmem
            ptxas info    : Compiling entry function 'a_bf16' for 'sm_90'
            ptxas info    : Function properties for a_bf16
            ptxas         .     8 bytes stack frame, 12 bytes spill stores, 16 bytes spill loads
            ptxas info    : Used 71 registers, 4096 bytes smem, 408 bytes cmem[0]
            ptxas info    : Compiling entry function 'b_bf16' for 'sm_90'
            ptxas info    : Function properties for b_bf16
            ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 13 registers, 380 bytes cmem[0]
            """;
        var r = KernelCompiler.ParseReport(log, "sm_90");
        Assert.Equal(new KernelResources("a_bf16", "sm_90", 71, 4096, 8, 12, 16), r[0]);
        Assert.Equal(new KernelResources("b_bf16", "sm_90", 13, 0, 0, 0, 0), r[1]);
    }

    [Fact]
    public void Every_entry_point_declares_a_budget()
    {
        Assert.All(KernelSources.Files, f => Assert.NotEmpty(f.Budgets));
        var e = Assert.Throws<FormatException>(() => KernelSources.ParseBudgets("x.cu", "extern \"C\" __global__ void k_bf16(int a) {}"));
        Assert.Contains("kernel `k_bf16` has no `// budget:", e.Message);
        Assert.Contains(KernelSources.Headers, h => h.Name == "common.cuh");
    }
}
