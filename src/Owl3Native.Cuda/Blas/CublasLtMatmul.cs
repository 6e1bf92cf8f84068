using Owl3Native.Cuda.Interop;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Blas;

/// <summary>
/// cuBLASLt GEMM with a fused bias epilogue: y[rows, outF] = x · Wᵀ + b (bf16 in/out, fp32 compute), the biased
/// projections of the model (q/k/v, SigLIP, projector) in one kernel. Each shape (rows, inF, outF) gets a plan once —
/// its descriptors and the algorithm cuBLASLt's heuristic picks with a 32 MiB workspace (null, cuBLASLt's own choice
/// without workspace, where the heuristic offers none or the chosen one fails) — so a call is one attribute set and one
/// matmul. Algorithms are chosen for 16-byte-aligned operands. The workspace is shared by the calls: use one instance per
/// stream that runs concurrently with another. Plans are keyed by the row count too; a server with many prefill lengths
/// should bucket them (not done yet: the cache only grows).
/// </summary>
public sealed unsafe class CublasLtMatmul : IDisposable
{
    private const ulong WorkspaceBytes = 32ul << 20; // cuBLAS's recommendation for Hopper
    private readonly CudaContext _context;
    private readonly DeviceBuffer<byte> _workspace;
    private readonly Dictionary<(int Rows, int InF, int OutF), Plan> _plans = [];
    private nint _handle;

    /// <summary>The cuBLASLt exports these bindings call (a GPU report checks the installed library has them).</summary>
    public static IReadOnlyList<string> EntryPoints => CublasLt.EntryPoints;

    /// <summary>Creates a cuBLASLt handle on <paramref name="context"/> and its workspace; the stream is chosen per call.</summary>
    /// <exception cref="DllNotFoundException">cuBLASLt is not installed; the message lists the paths tried.</exception>
    public CublasLtMatmul(CudaContext context)
    {
        _context = context;
        context.MakeCurrent();
        _workspace = new DeviceBuffer<byte>(context, (long)WorkspaceBytes);
        nint h;
        try
        {
            CublasHandle.Check(CublasLt.cublasLtCreate(&h));
        }
        catch
        {
            _workspace.Dispose();
            throw;
        }
        _handle = h;
    }

    /// <summary>y = x·Wᵀ + bias on <paramref name="stream"/> (bias: [outF] bf16); every address 16-byte aligned (the tuned algorithms assume it).</summary>
    public void LinearBias(CudaStream stream, ulong x, ulong w, ulong bias, ulong y, int rows, int inF, int outF)
    {
        ObjectDisposedException.ThrowIf(_handle == 0, this);
        _context.MakeCurrent();
        lock (_plans)
        {
            if (!_plans.TryGetValue((rows, inF, outF), out var plan)) _plans[(rows, inF, outF)] = plan = Plan.Create(_handle, rows, inF, outF, bias, WorkspaceBytes);
            CublasHandle.Check(CublasLt.cublasLtMatmulDescSetAttribute(plan.Desc, CublasLt.CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(ulong)));
            float alpha = 1f, beta = 0f;
            HeuristicResult chosen = plan.Algorithm;
            if (plan.HasAlgorithm)
            {
                var status = CublasLt.cublasLtMatmul(_handle, plan.Desc, &alpha, w, plan.A, x, plan.B, &beta, y, plan.C, y, plan.C,
                    &chosen, _workspace.Pointer, chosen.WorkspaceSize, stream.Handle);
                if (status == cublasStatus_t.CUBLAS_STATUS_SUCCESS)
                {
                    stream.Mark($"cublasLt {rows}×{inF}→{outF}");
                    return;
                }
                // Inside a graph capture a failure says nothing about the algorithm (the capture may have been invalidated):
                // report it, and keep the plan for the steps that run kernel by kernel.
                if (stream.IsCapturing) CublasHandle.Check(status);
                plan.HasAlgorithm = false; // the chosen algorithm is refused: cuBLASLt's own choice from now on
            }
            CublasHandle.Check(CublasLt.cublasLtMatmul(_handle, plan.Desc, &alpha, w, plan.A, x, plan.B, &beta, y, plan.C, y, plan.C,
                null, 0, 0, stream.Handle));
            stream.Mark($"cublasLt {rows}×{inF}→{outF}");
        }
    }

    /// <summary>Destroys the plans, the workspace and the cuBLASLt handle. A second call does nothing.</summary>
    public void Dispose()
    {
        nint h = Interlocked.Exchange(ref _handle, 0);
        if (h == 0) return;
        _context.MakeCurrent();
        lock (_plans)
        {
            foreach (var plan in _plans.Values) plan.Destroy();
            _plans.Clear();
        }
        _workspace.Dispose();
        CublasLt.cublasLtDestroy(h);
    }

    /// <summary>One shape's descriptors and chosen algorithm.</summary>
    private sealed class Plan
    {
        public nint Desc, A, B, C;
        public HeuristicResult Algorithm;
        public bool HasAlgorithm;

        public static Plan Create(nint handle, int rows, int inF, int outF, ulong bias, ulong workspaceBytes)
        {
            var p = new Plan();
            try
            {
                nint desc, aDesc, bDesc, cDesc;
                CublasHandle.Check(CublasLt.cublasLtMatmulDescCreate(&desc, Cublas.CUBLAS_COMPUTE_32F, Cublas.CUDA_R_32F));
                p.Desc = desc;
                int opT = Cublas.CUBLAS_OP_T, opN = Cublas.CUBLAS_OP_N, epilogue = CublasLt.CUBLASLT_EPILOGUE_BIAS;
                CublasHandle.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof(int)));
                CublasHandle.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.CUBLASLT_MATMUL_DESC_TRANSB, &opN, sizeof(int)));
                CublasHandle.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(int)));
                CublasHandle.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(ulong)));
                // Column-major: A = W seen as [inF, outF] (op T), B = xᵀ as [inF, rows], C = D = yᵀ as [outF, rows].
                CublasHandle.Check(CublasLt.cublasLtMatrixLayoutCreate(&aDesc, Cublas.CUDA_R_16BF, (ulong)inF, (ulong)outF, inF));
                p.A = aDesc;
                CublasHandle.Check(CublasLt.cublasLtMatrixLayoutCreate(&bDesc, Cublas.CUDA_R_16BF, (ulong)inF, (ulong)rows, inF));
                p.B = bDesc;
                CublasHandle.Check(CublasLt.cublasLtMatrixLayoutCreate(&cDesc, Cublas.CUDA_R_16BF, (ulong)outF, (ulong)rows, outF));
                p.C = cDesc;
                // The heuristic's first choice within the workspace; none (or an error) leaves the null algorithm.
                nint pref = 0;
                if (CublasLt.cublasLtMatmulPreferenceCreate(&pref) == cublasStatus_t.CUBLAS_STATUS_SUCCESS)
                {
                    try
                    {
                        ulong ws = workspaceBytes;
                        uint align = 16;
                        HeuristicResult result;
                        int returned = 0;
                        bool aligned = true;
                        for (int attr = CublasLt.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES; attr <= CublasLt.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES + 3; attr++)
                            aligned &= CublasLt.cublasLtMatmulPreferenceSetAttribute(pref, attr, &align, sizeof(uint)) == cublasStatus_t.CUBLAS_STATUS_SUCCESS;
                        if (aligned
                            && CublasLt.cublasLtMatmulPreferenceSetAttribute(pref, CublasLt.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ulong)) == cublasStatus_t.CUBLAS_STATUS_SUCCESS
                            && CublasLt.cublasLtMatmulAlgoGetHeuristic(handle, desc, aDesc, bDesc, cDesc, cDesc, pref, 1, &result, &returned) == cublasStatus_t.CUBLAS_STATUS_SUCCESS
                            && returned > 0 && result.State == 0 && result.WorkspaceSize <= ws)
                            (p.Algorithm, p.HasAlgorithm) = (result, true);
                    }
                    finally
                    {
                        CublasLt.cublasLtMatmulPreferenceDestroy(pref);
                    }
                }
                return p;
            }
            catch
            {
                p.Destroy();
                throw;
            }
        }

        public void Destroy()
        {
            if (C != 0) CublasLt.cublasLtMatrixLayoutDestroy(C);
            if (B != 0) CublasLt.cublasLtMatrixLayoutDestroy(B);
            if (A != 0) CublasLt.cublasLtMatrixLayoutDestroy(A);
            if (Desc != 0) CublasLt.cublasLtMatmulDescDestroy(Desc);
            (C, B, A, Desc) = (0, 0, 0, 0);
        }
    }
}
