using Owl3Native.Cuda.Checks;
using Owl3Native.Cuda.Runtime;
using Xunit;

namespace Owl3Native.Cuda.Tests.Conformance;

/// <summary>A whole Qwen2 decoder layer on the device against the CPU backend's (skipped with the reason without a GPU).</summary>
public sealed class LayerConformanceTests
{
    [RequiresGpuFact]
    public void A_decoder_layer_on_the_device_matches_the_cpu_backend_in_prefill_and_decode()
    {
        using var ctx = CudaContext.Open();
        using var cache = new KernelCache(ctx, Path.Combine(Path.GetTempPath(), "owl3-kernel-cache-tests"));
        var results = new LayerConformance(ctx, cache).Run();
        Assert.Equal(4, results.Count); // Δx and the fused next norm, in prefill and in decode
        AllPass(results);
    }

    [RequiresGpuFact]
    public void The_text_model_on_the_device_matches_the_cpu_backends_logits_in_prefill_and_decode()
    {
        using var ctx = CudaContext.Open();
        using var cache = new KernelCache(ctx, Path.Combine(Path.GetTempPath(), "owl3-kernel-cache-tests"));
        var results = new TextModelConformance(ctx, cache).Run();
        Assert.Equal(2, results.Count);
        AllPass(results);
    }

    [RequiresGpuFact]
    public void The_engine_on_cuda_matches_the_cpu_engine_through_the_runner_and_in_generation()
    {
        using var ctx = CudaContext.Open();
        foreach (var variant in new[] { Models.Checkpoints.Owl3Variant.V241101, Models.Checkpoints.Owl3Variant.V240728 })
        {
            var results = Owl3Native.Diagnostics.DeviceEngineConformance.Run(ctx, Models.Checkpoints.ModelShape.Tiny, variant,
                kernelDirectory: Path.Combine(Path.GetTempPath(), "owl3-kernel-cache-tests"));
            Assert.Equal(2, results.Count); // the runner's logits, then two concurrent generations
            AllPass(results);
        }
    }

    private static void AllPass(IReadOnlyList<ConformanceResult> results)
    {
        var failed = results.Where(r => !r.Pass).Select(r => $"{r.Kernel} {r.Shape}: nmse {r.Nmse:g3}, max-abs {r.MaxAbs:g3}").ToArray();
        Assert.True(failed.Length == 0, string.Join("\n", failed));
    }
}
