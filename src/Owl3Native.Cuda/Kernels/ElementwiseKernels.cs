using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Kernels;

/// <summary>Launchers of kernels/activation.cu, rope.cu, embedding.cu and sampling.cu (grid-stride kernels).</summary>
public sealed class ElementwiseKernels(KernelCache cache, CudaContext context)
{
    private const uint Threads = 256;

    private Dim3 GridFor(long work) => new((uint)Math.Clamp((work + Threads - 1) / Threads, 1, (long)context.Multiprocessors * 16));

    /// <summary>SwiGLU on the fused gate/up output: y[r, i] = silu(x[r, i]) · x[r, cols + i], x [rows, 2·cols], y [rows, cols].</summary>
    /// <exception cref="ArgumentException">Cols is not a multiple of 8.</exception>
    public void SwiGlu(CudaStream s, in ActivationParams p) => Activation(s, "swiglu_bf16", p);
    /// <summary>GELU, tanh approximation (SigLIP MLP), elementwise over [rows, cols].</summary>
    /// <exception cref="ArgumentException">Cols is not a multiple of 8.</exception>
    public void GeluTanh(CudaStream s, in ActivationParams p) => Activation(s, "gelu_tanh_bf16", p);
    /// <summary>Exact GELU, 0.5·x·(1 + erf(x/√2)) (241101 projector), elementwise over [rows, cols].</summary>
    /// <exception cref="ArgumentException">Cols is not a multiple of 8.</exception>
    public void GeluErf(CudaStream s, in ActivationParams p) => Activation(s, "gelu_erf_bf16", p);
    /// <summary>Adds the [cols] bias to every row of x [rows, cols] into y.</summary>
    /// <exception cref="ArgumentException">Cols is not a multiple of 8.</exception>
    public void BiasAdd(CudaStream s, in ActivationParams p) => Activation(s, "bias_add_bf16", p);

    private void Activation(CudaStream s, string kernel, in ActivationParams p)
    {
        if (p.Cols % 8 != 0) throw new ArgumentException($"cols {p.Cols} must be a multiple of 8");
        cache.Get("activation.cu", kernel).Launch(s, GridFor(p.Rows * p.Cols / 8), new Dim3(Threads), p);
    }

    /// <summary>Rotate-half RoPE of `[tokens, heads·headDim]` in place at per-row positions.</summary>
    public void Rope(CudaStream s, in RopeParams p)
    {
        if (p.HeadDim % 2 != 0) throw new ArgumentException($"head dim {p.HeadDim} must be even");
        cache.Get("rope.cu", "rope_bf16").Launch(s, GridFor((long)p.Tokens * p.Heads * p.HeadDim / 2), new Dim3(Threads), p);
    }

    /// <summary>Splits v_kv_proj output into keys (rotated at each crop's marker position) and values.</summary>
    public void MiRope(CudaStream s, in RopeParams p)
    {
        if (p.HeadDim % 2 != 0 || p.TokensPerCrop < 1) throw new ArgumentException("mi_rope: even head dim and a positive crop size");
        cache.Get("rope.cu", "mi_rope_bf16").Launch(s, GridFor((long)p.Tokens * p.Heads * p.HeadDim / 2), new Dim3(Threads), p);
    }

    /// <summary>Token embedding gather: one block per token.</summary>
    public void EmbeddingGather(CudaStream s, in EmbeddingParams p)
    {
        if (p.Hidden % 8 != 0) throw new ArgumentException($"hidden {p.Hidden} must be a multiple of 8");
        cache.Get("embedding.cu", "embedding_gather_bf16").Launch(s, new Dim3((uint)p.Tokens), new Dim3(NormKernels.BlockFor(p.Hidden / 8)), p);
    }

    /// <summary>Converts Count fp32 elements to bf16, rounding to nearest even.</summary>
    public void F32ToBf16(CudaStream s, in ConvertParams p) => cache.Get("embedding.cu", "convert_f32_bf16").Launch(s, GridFor(p.Count), new Dim3(Threads), p);

    /// <summary>Widens Count bf16 elements to fp32 (exact).</summary>
    public void Bf16ToF32(CudaStream s, in ConvertParams p) => cache.Get("embedding.cu", "convert_bf16_f32").Launch(s, GridFor(p.Count), new Dim3(Threads), p);

    /// <summary>
    /// Seeded sampling per row (the CPU Sampler's twin): one block of 1024 threads per row; logits are processed in
    /// place and Weights is a [rows, vocab] u64 scratch.
    /// </summary>
    public void Sample(CudaStream s, in SampleParams p)
    {
        if (p.Vocab > (1 << 23)) throw new ArgumentException($"vocab {p.Vocab} exceeds 2^23 (the fixed-point weights' range)");
        cache.Get("sampling.cu", "sample_f32").Launch(s, new Dim3((uint)p.Rows), new Dim3(1024), p);
    }

    /// <summary>Greedy token per row: one block of 1024 threads per row.</summary>
    public void Argmax(CudaStream s, in ArgmaxParams p) => cache.Get("sampling.cu", "sample_argmax_f32").Launch(s, new Dim3((uint)p.Rows), new Dim3(1024), p);
}
