using Owl3Native.Cuda.Checks;
using Owl3Native.Cuda.Runtime;
using Xunit;

namespace Owl3Native.Cuda.Tests.Conformance;

/// <summary>The attention kernels against the CPU engine's attention on the GPU (skipped with the reason without one).</summary>
public sealed class AttentionConformanceTests
{
    [RequiresGpuFact]
    public void Every_attention_case_matches_the_cpu_backend()
    {
        using var ctx = CudaContext.Open();
        using var cache = new KernelCache(ctx, Path.Combine(Path.GetTempPath(), "owl3-kernel-cache-tests"));
        var checks = new AttentionConformance(ctx, cache);
        // The portable kernels, then the architecture-specific ones this device and NVRTC can run (sm_90a on Hopper).
        var results = checks.RunAll().Concat(checks.RunArchSpecific(bench: false).Results).ToArray();
        var failed = results.Where(r => !r.Pass).Select(r => $"{r.Kernel} {r.Shape}: nmse {r.Nmse:g3}, max-abs {r.MaxAbs:g3}").ToArray();
        Assert.True(failed.Length == 0, string.Join("\n", failed));
    }
}
