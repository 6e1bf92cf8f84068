using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Kernels;

/// <summary>
/// Launcher of kernels/gemv.cu: y = x·Wᵀ (+ bias) for at most <see cref="MaxRows"/> rows, every weight row read once
/// for all of them, or with Swiglu the SwiGLU of a stacked gate|up projection (y has n/2 columns). The decoder layer uses
/// it in place of cuBLASLt (and of the SwiGLU launch) for decode steps of few rows only when <see cref="Enabled"/>.
/// </summary>
public sealed class GemvKernels(KernelCache cache)
{
    /// <summary>GEMV_MAX_M: the most input rows one launch serves.</summary>
    public const int MaxRows = 8;

    /// <summary>Set to 1, the decoder layer's projections of steps of at most 8 rows run on gemv_bf16 (<see cref="Enabled"/>).</summary>
    public const string Variable = "OWL3_GEMV";

    /// <summary>
    /// Whether the engine's layers use gemv_bf16 for steps of at most <see cref="MaxRows"/> rows (read once): only with
    /// OWL3_GEMV=1, off by default until a device run has timed it against cuBLASLt (the GPU check's gemv rows).
    /// </summary>
    public bool Enabled => _enabled ??= Environment.GetEnvironmentVariable(Variable) == "1";

    private bool? _enabled;

    /// <summary>y[r, o] = Σ_k x[r, k]·W[o, k] (+ bias[o]) for r &lt; p.M; with p.Swiglu, y[r, i] = silu(gate_i)·up_i over the stacked rows.</summary>
    /// <exception cref="ArgumentException">
    /// More than 8 rows; k or the input stride not whole 16-byte chunks, or a base address off them; strides narrower than
    /// the rows; an odd n with Swiglu.
    /// </exception>
    public void Gemv(CudaStream stream, in GemvParams p, bool programmatic = false)
    {
        if (p.M < 1 || p.M > MaxRows) throw new ArgumentException($"gemv serves 1 … {MaxRows} rows, not {p.M}");
        if (p.N < 1 || p.K < 8 || p.K % 8 != 0 || p.XStride % 8 != 0 || p.XStride < p.K)
            throw new ArgumentException($"gemv of {p.N} × {p.K} with input row stride {p.XStride}: k and the stride must be whole 16-byte chunks, the stride at least k");
        if ((p.X | p.W) % 16 != 0 || p.Y % 2 != 0) throw new ArgumentException("gemv reads x and W in 16-byte chunks: their addresses must be 16-byte aligned");
        int outputs = p.Swiglu != 0 ? p.N / 2 : p.N;
        if (p.Swiglu != 0 && p.N % 2 != 0) throw new ArgumentException($"a stacked gate|up weight has an even row count, not {p.N}");
        if (p.YStride < outputs) throw new ArgumentException($"output row stride {p.YStride} narrower than the {outputs} outputs");
        uint blocks = (uint)(p.Swiglu != 0 ? p.N / 2 : (p.N + 1) / 2); // two weight rows a CTA
        cache.Get("gemv.cu", "gemv_bf16").Launch(stream, new Dim3(blocks), new Dim3(128), p, programmatic: programmatic);
    }
}
