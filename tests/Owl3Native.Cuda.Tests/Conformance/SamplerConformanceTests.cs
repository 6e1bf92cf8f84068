using Owl3Native.Cuda.Runtime;
using Owl3Native.Diagnostics;
using Xunit;

namespace Owl3Native.Cuda.Tests.Conformance;

/// <summary>
/// sample_f32 against the CPU Sampler: the same token for the same logits, history, settings, seed, stream and step —
/// exactly, not statistically (every sum in both is an exact integer). Runs on a GPU only.
/// </summary>
public sealed class SamplerConformanceTests
{
    [RequiresGpuFact]
    public void Device_sampler_picks_the_cpu_samplers_token()
    {
        using var ctx = CudaContext.Open();
        using var cache = new KernelCache(ctx, Path.Combine(Path.GetTempPath(), "owl3-kernel-cache-tests"));
        var result = SamplerConformance.Run(ctx, cache, rows: 24);
        Assert.True(result.Pass, $"{result.MaxAbs} of 24 rows chose another token than the CPU sampler");
    }
}
