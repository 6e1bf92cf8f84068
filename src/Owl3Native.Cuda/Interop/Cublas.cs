using System.Runtime.InteropServices;

namespace Owl3Native.Cuda.Interop;

/// <summary>cuBLAS status codes (cublas_api.h).</summary>
internal enum cublasStatus_t
{
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
}

/// <summary>Raw cuBLAS v2 entry points used for bf16 GEMMs with fp32 accumulation (cublas_api.h, exact C names).</summary>
internal static unsafe partial class Cublas
{
    internal const string Library = "cublas";
    internal const int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1;
    internal const int CUDA_R_32F = 0, CUDA_R_16BF = 14;
    internal const int CUBLAS_COMPUTE_32F = 68;
    internal const int CUBLAS_GEMM_DEFAULT = -1;

    static Cublas() => CudaLibraryImports.Register();

    /// <summary>Every entry point these bindings use (resolved with NativeLibrary.GetExport by the tests and doctor).</summary>
    internal static readonly string[] EntryPoints =
        ["cublasCreate_v2", "cublasDestroy_v2", "cublasSetStream_v2", "cublasGetVersion_v2", "cublasGemmEx", "cublasGemmStridedBatchedEx"];

    [LibraryImport(Library)] internal static partial cublasStatus_t cublasCreate_v2(nint* handle);
    [LibraryImport(Library)] internal static partial cublasStatus_t cublasDestroy_v2(nint handle);
    [LibraryImport(Library)] internal static partial cublasStatus_t cublasSetStream_v2(nint handle, nint stream);
    [LibraryImport(Library)] internal static partial cublasStatus_t cublasGetVersion_v2(nint handle, int* version);

    // C = α·op(A)·op(B) + β·C, column-major. Row-major y[T,out] = x[T,in]·W[out,in]ᵀ is the column-major
    // yᵀ[out,T] = W[out,in] (as in×out column-major, op T) · xᵀ: transa = T, transb = N, m = out, n = T, k = in.
    [LibraryImport(Library)]
    internal static partial cublasStatus_t cublasGemmEx(nint handle, int transa, int transb, int m, int n, int k,
        void* alpha, ulong a, int aType, int lda, ulong b, int bType, int ldb, void* beta, ulong c, int cType, int ldc, int computeType, int algo);

    [LibraryImport(Library)]
    internal static partial cublasStatus_t cublasGemmStridedBatchedEx(nint handle, int transa, int transb, int m, int n, int k,
        void* alpha, ulong a, int aType, int lda, long strideA, ulong b, int bType, int ldb, long strideB, void* beta,
        ulong c, int cType, int ldc, long strideC, int batchCount, int computeType, int algo);
}

/// <summary>Raw cuBLASLt entry points for the bias-epilogue GEMM (cublasLt.h, exact C names).</summary>
internal static unsafe partial class CublasLt
{
    internal const string Library = "cublasLt";
    internal const int CUBLASLT_MATMUL_DESC_TRANSA = 3, CUBLASLT_MATMUL_DESC_TRANSB = 4, CUBLASLT_MATMUL_DESC_EPILOGUE = 7, CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8;
    internal const int CUBLASLT_EPILOGUE_BIAS = 4;
    internal const int CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1;
    internal const int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5; // …_B_BYTES = 6, _C_BYTES = 7, _D_BYTES = 8 (uint32)

    static CublasLt() => CudaLibraryImports.Register();

    internal static readonly string[] EntryPoints =
        ["cublasLtCreate", "cublasLtDestroy", "cublasLtMatmulDescCreate", "cublasLtMatmulDescDestroy", "cublasLtMatmulDescSetAttribute",
         "cublasLtMatrixLayoutCreate", "cublasLtMatrixLayoutDestroy", "cublasLtMatmul", "cublasLtGetVersion",
         "cublasLtMatmulPreferenceCreate", "cublasLtMatmulPreferenceDestroy", "cublasLtMatmulPreferenceSetAttribute", "cublasLtMatmulAlgoGetHeuristic"];

    [LibraryImport(Library)] internal static partial cublasStatus_t cublasLtCreate(nint* handle);
    [LibraryImport(Library)] internal static partial cublasStatus_t cublasLtDestroy(nint handle);
    [LibraryImport(Library)] internal static partial nuint cublasLtGetVersion();
    [LibraryImport(Library)] internal static partial cublasStatus_t cublasLtMatmulDescCreate(nint* desc, int computeType, int scaleType);
    [LibraryImport(Library)] internal static partial cublasStatus_t cublasLtMatmulDescDestroy(nint desc);
    [LibraryImport(Library)] internal static partial cublasStatus_t cublasLtMatmulDescSetAttribute(nint desc, int attribute, void* value, nuint size);
    [LibraryImport(Library)] internal static partial cublasStatus_t cublasLtMatrixLayoutCreate(nint* layout, int type, ulong rows, ulong cols, long ld);
    [LibraryImport(Library)] internal static partial cublasStatus_t cublasLtMatrixLayoutDestroy(nint layout);
    [LibraryImport(Library)]
    internal static partial cublasStatus_t cublasLtMatmul(nint handle, nint desc, void* alpha, ulong a, nint aDesc, ulong b, nint bDesc,
        void* beta, ulong c, nint cDesc, ulong d, nint dDesc, void* algo, ulong workspace, nuint workspaceBytes, nint stream);
    [LibraryImport(Library)] internal static partial cublasStatus_t cublasLtMatmulPreferenceCreate(nint* pref);
    [LibraryImport(Library)] internal static partial cublasStatus_t cublasLtMatmulPreferenceDestroy(nint pref);
    [LibraryImport(Library)] internal static partial cublasStatus_t cublasLtMatmulPreferenceSetAttribute(nint pref, int attribute, void* value, nuint size);
    [LibraryImport(Library)]
    internal static partial cublasStatus_t cublasLtMatmulAlgoGetHeuristic(nint handle, nint desc, nint aDesc, nint bDesc, nint cDesc, nint dDesc,
        nint preference, int requestedAlgoCount, HeuristicResult* results, int* returnedAlgoCount);
}

/// <summary>cublasLtMatmulHeuristicResult_t (x86-64: 96 bytes): the algorithm (64 opaque bytes), its workspace, status, waves.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct HeuristicResult
{
    public fixed ulong Algo[8];
    public nuint WorkspaceSize;
    public int State;
    public float WavesCount;
    public fixed int Reserved[4];
}
