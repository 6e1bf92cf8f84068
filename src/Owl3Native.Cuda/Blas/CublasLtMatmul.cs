using Owl3Native.Cuda.Interop;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Blas;

/// <summary>
/// cuBLASLt GEMM with a fused bias epilogue: y[rows, outF] = x · Wᵀ + b (bf16 in/out, fp32 compute), the biased
/// projections of the model (q/k/v, SigLIP, projector) in one kernel.
/// </summary>
public sealed unsafe class CublasLtMatmul : IDisposable
{
    private readonly CudaContext _context;
    private nint _handle;

    /// <summary>Creates a cuBLASLt handle on <paramref name="context"/>; the stream is chosen per call.</summary>
    /// <exception cref="DllNotFoundException">cuBLASLt is not installed; the message lists the paths tried.</exception>
    public CublasLtMatmul(CudaContext context)
    {
        _context = context;
        context.MakeCurrent();
        nint h;
        CublasHandle.Check(CublasLt.cublasLtCreate(&h));
        _handle = h;
    }

    /// <summary>y = x·Wᵀ + bias on <paramref name="stream"/> (bias: [outF] bf16).</summary>
    public void LinearBias(CudaStream stream, ulong x, ulong w, ulong bias, ulong y, int rows, int inF, int outF)
    {
        _context.MakeCurrent();
        nint desc = 0, aDesc = 0, bDesc = 0, cDesc = 0;
        try
        {
            CublasHandle.Check(CublasLt.cublasLtMatmulDescCreate(&desc, Cublas.CUBLAS_COMPUTE_32F, Cublas.CUDA_R_32F));
            int opT = Cublas.CUBLAS_OP_T, opN = Cublas.CUBLAS_OP_N, epilogue = CublasLt.CUBLASLT_EPILOGUE_BIAS;
            CublasHandle.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof(int)));
            CublasHandle.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.CUBLASLT_MATMUL_DESC_TRANSB, &opN, sizeof(int)));
            CublasHandle.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(int)));
            CublasHandle.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(ulong)));
            // Column-major: A = W seen as [inF, outF] (op T), B = xᵀ as [inF, rows], C = D = yᵀ as [outF, rows].
            CublasHandle.Check(CublasLt.cublasLtMatrixLayoutCreate(&aDesc, Cublas.CUDA_R_16BF, (ulong)inF, (ulong)outF, inF));
            CublasHandle.Check(CublasLt.cublasLtMatrixLayoutCreate(&bDesc, Cublas.CUDA_R_16BF, (ulong)inF, (ulong)rows, inF));
            CublasHandle.Check(CublasLt.cublasLtMatrixLayoutCreate(&cDesc, Cublas.CUDA_R_16BF, (ulong)outF, (ulong)rows, outF));
            float alpha = 1f, beta = 0f;
            CublasHandle.Check(CublasLt.cublasLtMatmul(_handle, desc, &alpha, w, aDesc, x, bDesc, &beta, y, cDesc, y, cDesc, null, 0, 0, stream.Handle));
        }
        finally
        {
            if (cDesc != 0) CublasLt.cublasLtMatrixLayoutDestroy(cDesc);
            if (bDesc != 0) CublasLt.cublasLtMatrixLayoutDestroy(bDesc);
            if (aDesc != 0) CublasLt.cublasLtMatrixLayoutDestroy(aDesc);
            if (desc != 0) CublasLt.cublasLtMatmulDescDestroy(desc);
        }
    }

    /// <summary>Destroys the cuBLASLt handle. A second call does nothing.</summary>
    public void Dispose()
    {
        nint h = Interlocked.Exchange(ref _handle, 0);
        if (h == 0) return;
        _context.MakeCurrent();
        CublasLt.cublasLtDestroy(h);
    }
}
