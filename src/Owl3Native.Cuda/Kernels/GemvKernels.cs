using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Kernels;

/// <summary>
/// Launcher of kernels/gemv.cu: y = x'·Wᵀ (+ bias) for at most <see cref="MaxRows"/> rows, every weight row read once
/// for all of them (x' = x, or the SwiGLU of [gate | up] rows). The decoder layer uses it in place of cuBLASLt for decode
/// steps of few rows only when <see cref="Enabled"/>.
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

    /// <summary>y[r, n] = Σ_k x'[r, k]·W[n, k] (+ bias[n]) for r &lt; p.M.</summary>
    /// <exception cref="ArgumentException">More than 8 rows, or a size or stride that is not whole 16-byte chunks.</exception>
    public void Gemv(CudaStream stream, in GemvParams p, bool programmatic = false)
    {
        if (p.M < 1 || p.M > MaxRows) throw new ArgumentException($"gemv serves 1 … {MaxRows} rows, not {p.M}");
        if (p.N < 1 || p.K < 8 || p.K % 8 != 0 || p.XStride % 8 != 0 || p.YStride % 8 != 0)
            throw new ArgumentException($"gemv of {p.N} × {p.K} with row strides {p.XStride} / {p.YStride}: k and the strides must be whole 16-byte chunks");
        if (p.XStride < (p.Swiglu != 0 ? 2 * p.K : p.K) || p.YStride < p.N) throw new ArgumentException($"row strides {p.XStride} / {p.YStride} narrower than the rows");
        uint blocks = (uint)((p.N + 4 * 2 - 1) / (4 * 2)); // four warps of GEMV_ROWS = 2 output rows each
        cache.Get("gemv.cu", "gemv_bf16").Launch(stream, new Dim3(blocks), new Dim3(128), p, programmatic: programmatic);
    }
}
