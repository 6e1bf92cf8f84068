using System.Diagnostics;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Kernels;

/// <summary>Launchers of kernels/norm.cu: one block per row.</summary>
public sealed class NormKernels(KernelCache cache)
{
    /// <summary>y = x · rsqrt(mean(x²) + eps) · w.</summary>
    public void RmsNorm(CudaStream stream, in NormParams p) => Launch(stream, "rms_norm_bf16", p);

    /// <summary>residual += x; y = RMSNorm(residual).</summary>
    public void RmsNormResidual(CudaStream stream, in NormParams p) => Launch(stream, "rms_norm_residual_bf16", p);

    /// <summary>y = LayerNorm(x; w, b).</summary>
    public void LayerNorm(CudaStream stream, in NormParams p) => Launch(stream, "layer_norm_bf16", p);

    /// <summary>residual += x; y = LayerNorm(residual; w, b) (SigLIP: a sublayer's residual add fused with the next pre-norm).</summary>
    public void LayerNormResidual(CudaStream stream, in NormParams p) => Launch(stream, "layer_norm_residual_bf16", p);

    private void Launch(CudaStream stream, string kernel, in NormParams p)
    {
        Debug.Assert(p.Hidden % 8 == 0, "kernel loads 16-byte chunks");
        if (p.Hidden % 8 != 0) throw new ArgumentException($"hidden {p.Hidden} must be a multiple of 8");
        cache.Get("norm.cu", kernel).Launch(stream, new Dim3((uint)p.Rows), new Dim3(BlockFor(p.Hidden / 8)), p);
    }

    /// <summary>Threads per block: one per 16-byte chunk, a multiple of 32, at most 1024.</summary>
    internal static uint BlockFor(int chunks) => (uint)Math.Clamp((chunks + 31) / 32 * 32, 32, 1024);
}
