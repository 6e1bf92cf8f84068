using System.Runtime.CompilerServices;
using Owl3Native.Cuda.Interop;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Blas;

/// <summary>
/// A cuBLAS handle bound to a stream (Own + Idiomatic layers): bf16 GEMMs with fp32 accumulation in the row-major
/// convention of the engine — y[rows, out] = x[rows, in] · W[out, in]ᵀ — and the strided-batched form.
/// </summary>
public sealed unsafe class CublasHandle : IDisposable
{
    private readonly CudaContext _context;
    private nint _handle;

    /// <summary>Creates a handle on <paramref name="stream"/>.</summary>
    /// <exception cref="DllNotFoundException">cuBLAS is not installed; the message lists the paths tried.</exception>
    public CublasHandle(CudaContext context, CudaStream stream)
    {
        _context = context;
        context.MakeCurrent();
        nint h;
        Check(Cublas.cublasCreate_v2(&h));
        _handle = h;
        Check(Cublas.cublasSetStream_v2(h, stream.Handle));
    }

    /// <summary>cuBLAS version (e.g. 130100).</summary>
    public int Version
    {
        get
        {
            int v;
            Check(Cublas.cublasGetVersion_v2(_handle, &v));
            return v;
        }
    }

    /// <summary>y[rows, outF] = x[rows, inF] · W[outF, inF]ᵀ, bf16 in and out, fp32 accumulation.</summary>
    public void Linear(ulong x, ulong w, ulong y, int rows, int inF, int outF)
    {
        // Column-major view: yᵀ[outF, rows] = Wᵀᵀ… i.e. C(m=outF, n=rows) = op(A = W as [inF, outF] col-major, T)·(B = xᵀ as [inF, rows]).
        float alpha = 1f, beta = 0f;
        _context.MakeCurrent();
        Check(Cublas.cublasGemmEx(_handle, Cublas.CUBLAS_OP_T, Cublas.CUBLAS_OP_N, outF, rows, inF,
            &alpha, w, Cublas.CUDA_R_16BF, inF, x, Cublas.CUDA_R_16BF, inF, &beta, y, Cublas.CUDA_R_16BF, outF,
            Cublas.CUBLAS_COMPUTE_32F, Cublas.CUBLAS_GEMM_DEFAULT));
    }

    /// <summary>
    /// <paramref name="batch"/> independent products y_b = x_b · W_bᵀ with element strides between batch items
    /// (per-head attention products, grouped projections).
    /// </summary>
    public void LinearStridedBatched(ulong x, long strideX, ulong w, long strideW, ulong y, long strideY, int rows, int inF, int outF, int batch)
    {
        float alpha = 1f, beta = 0f;
        _context.MakeCurrent();
        Check(Cublas.cublasGemmStridedBatchedEx(_handle, Cublas.CUBLAS_OP_T, Cublas.CUBLAS_OP_N, outF, rows, inF,
            &alpha, w, Cublas.CUDA_R_16BF, inF, strideW, x, Cublas.CUDA_R_16BF, inF, strideX, &beta,
            y, Cublas.CUDA_R_16BF, outF, strideY, batch, Cublas.CUBLAS_COMPUTE_32F, Cublas.CUBLAS_GEMM_DEFAULT));
    }

    /// <summary>Destroys the cuBLAS handle (the stream stays). A second call does nothing.</summary>
    public void Dispose()
    {
        nint h = Interlocked.Exchange(ref _handle, 0);
        if (h == 0) return;
        _context.MakeCurrent();
        Cublas.cublasDestroy_v2(h);
    }

    internal static void Check(cublasStatus_t status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != cublasStatus_t.CUBLAS_STATUS_SUCCESS) throw new CudaException(call, status.ToString(), "cuBLAS call failed");
    }
}
