using Owl3Native.Cuda.Checks;
using Owl3Native.Cuda.Runtime;
using Xunit;

namespace Owl3Native.Cuda.Tests.Conformance;

/// <summary>Every kernel against its CPU twin on the GPU (skipped with the reason without one).</summary>
public sealed class KernelConformanceTests
{
    [RequiresGpuFact]
    public void Every_kernel_family_matches_the_cpu_backend()
    {
        using var ctx = CudaContext.Open();
        using var cache = new KernelCache(ctx, Path.Combine(Path.GetTempPath(), "owl3-kernel-cache-tests"));
        var results = new KernelConformance(ctx, cache).RunAll();
        var failed = results.Where(r => !r.Pass).Select(r => $"{r.Kernel} {r.Shape}: nmse {r.Nmse:g3} > {r.Bound:g3}, max-abs {r.MaxAbs:g3}").ToArray();
        Assert.True(failed.Length == 0, string.Join("\n", failed));
    }

    [RequiresGpuFact]
    public void Hostile_shapes_one_row_and_long_rows()
    {
        using var ctx = CudaContext.Open();
        using var cache = new KernelCache(ctx, Path.Combine(Path.GetTempPath(), "owl3-kernel-cache-tests"));
        var c = new KernelConformance(ctx, cache);
        foreach (var r in new[] { c.RmsNorm(1, 8, 3), c.RmsNorm(3, 18944, 4), c.SwiGlu(1, 8, 5), c.Rope(1, 1, 16, 6), c.Argmax(1, 3, 7) })
            Assert.True(r.Pass, $"{r.Kernel} {r.Shape}: nmse {r.Nmse:g3}");
    }

    [Fact]
    public void Without_a_gpu_opening_a_context_says_why()
    {
        try
        {
            using var ctx = CudaContext.Open();
        }
        catch (GpuUnavailableException e)
        {
            Assert.Matches("no NVIDIA driver|no CUDA device|cuInit failed|sm_", e.Message);
        }
    }
}
