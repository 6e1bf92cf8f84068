using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>Output rows per parallel work item: a multiple of the micro-kernel's 4.</summary>
    private const int RowsPerItem = 32;

    /// <inheritdoc/>
    public unsafe Tensor Linear(Tensor x, Weight w, Weight? bias = null)
    {
        if (x.Cols != w.Cols) throw new ArgumentException($"Linear: input rows have {x.Cols} features, `{w.Name}` expects {w.Cols}");
        if (bias is not null && bias.Length != w.Rows) throw new ArgumentException($"`{bias.Name}` has {bias.Length} elements, `{w.Name}` has {w.Rows} rows");
        int tokens = x.Rows, outF = w.Rows;
        var y = new Tensor(tokens, outF);
        int items = (outF + RowsPerItem - 1) / RowsPerItem;
        ParallelChunks(items, (s, e) =>
        {
            int r0 = s * RowsPerItem, r1 = Math.Min(outF, e * RowsPerItem);
            Gemm(x, w, r0, r1, y.Data, outF, r0);
        });
        if (bias is not null)
        {
            float[] b = bias.ToArray();
            for (int t = 0; t < tokens; t++) System.Numerics.Tensors.TensorPrimitives.Add(y.Row(t), b, y.Row(t));
        }
        return y;
    }

    /// <inheritdoc/>
    public Tensor[] LinearMany(Tensor x, IReadOnlyList<Weight> weights, IReadOnlyList<Weight?> biases)
    {
        if (weights.Count != biases.Count) throw new ArgumentException("one bias slot per weight");
        var outputs = new Tensor[weights.Count];
        var firstItem = new int[weights.Count + 1];
        for (int i = 0; i < weights.Count; i++)
        {
            var w = weights[i];
            if (x.Cols != w.Cols) throw new ArgumentException($"LinearMany: input rows have {x.Cols} features, `{w.Name}` expects {w.Cols}");
            if (biases[i] is { } b && b.Length != w.Rows) throw new ArgumentException($"`{b.Name}` has {b.Length} elements, `{w.Name}` has {w.Rows} rows");
            outputs[i] = new Tensor(x.Rows, w.Rows);
            firstItem[i + 1] = firstItem[i] + (w.Rows + RowsPerItem - 1) / RowsPerItem;
        }
        ParallelChunks(firstItem[^1], (s, e) =>
        {
            for (int item = s; item < e; item++)
            {
                int i = Array.FindLastIndex(firstItem, f => f <= item);
                var w = weights[i];
                int r0 = (item - firstItem[i]) * RowsPerItem, r1 = Math.Min(w.Rows, r0 + RowsPerItem);
                Gemm(x, w, r0, r1, outputs[i].Data, w.Rows, r0);
            }
        });
        for (int i = 0; i < weights.Count; i++)
            if (biases[i] is { } bias)
            {
                float[] b = bias.ToArray();
                for (int t = 0; t < x.Rows; t++) System.Numerics.Tensors.TensorPrimitives.Add(outputs[i].Row(t), b, outputs[i].Row(t));
            }
        return outputs;
    }

    /// <inheritdoc/>
    public unsafe Tensor SwiGlu(Tensor x, Weight gate, Weight up)
    {
        if (gate.Rows != up.Rows || gate.Cols != x.Cols || up.Cols != x.Cols)
            throw new ArgumentException($"SwiGLU: `{gate.Name}` {gate.Shape}, `{up.Name}` {up.Shape}, input {x}");
        int tokens = x.Rows, inter = gate.Rows;
        var y = new Tensor(tokens, inter);
        int items = (inter + RowsPerItem - 1) / RowsPerItem;
        ParallelChunks(items, (s, e) =>
        {
            int r0 = s * RowsPerItem, r1 = Math.Min(inter, e * RowsPerItem), n = r1 - r0;
            // Gate and up rows of the same block, back to back: both mapped tensors are read in one pass.
            var g = new float[tokens * n];
            var u = new float[tokens * n];
            Block(x, gate, r0, r1, g, n);
            Block(x, up, r0, r1, u, n);
            for (int t = 0; t < tokens; t++) SiluMul(g.AsSpan(t * n, n), u.AsSpan(t * n, n), y.Row(t).Slice(r0, n));
        });
        return y;
    }

    private static void Block(Tensor x, Weight w, int r0, int r1, float[] y, int ldy) => Gemm(x, w, r0, r1, y, ldy, 0);

    /// <summary>
    /// dst = silu(g)·u = g·σ(g)·u, vectorised. Segments shorter than a SIMD width would take TensorPrimitives' scalar
    /// path (other last bits), and how rows are split among threads decides the segments: the elements past the last
    /// whole 16 go through a zero-padded block of 16, so every element takes the same vector code whatever the split.
    /// </summary>
    private static void SiluMul(ReadOnlySpan<float> g, ReadOnlySpan<float> u, Span<float> dst)
    {
        int whole = g.Length / 16 * 16;
        if (whole > 0) SiluMulVector(g[..whole], u[..whole], dst[..whole]);
        if (whole == g.Length) return;
        Span<float> gb = stackalloc float[16], ub = stackalloc float[16], db = stackalloc float[16];
        gb.Clear(); ub.Clear();
        g[whole..].CopyTo(gb);
        u[whole..].CopyTo(ub);
        SiluMulVector(gb, ub, db);
        db[..(g.Length - whole)].CopyTo(dst[whole..]);
    }

    private static void SiluMulVector(ReadOnlySpan<float> g, ReadOnlySpan<float> u, Span<float> dst)
    {
        System.Numerics.Tensors.TensorPrimitives.Sigmoid(g, dst);
        System.Numerics.Tensors.TensorPrimitives.Multiply(dst, g, dst);
        System.Numerics.Tensors.TensorPrimitives.Multiply(dst, u, dst);
    }

    /// <summary>
    /// Output rows [r0, r1) of x·Wᵀ into y (row stride ldy, first column yOffset). Four or more tokens: the panel kernel
    /// (weights widened once per block); fewer: the dot kernel (decode is a weight-streaming GEMV).
    /// </summary>
    private static unsafe void Gemm(Tensor x, Weight w, int r0, int r1, float[] y, int ldy, int yOffset)
    {
        int tokens = x.Rows, k = x.Cols;
        bool rowKernel = tokens <= CpuGemm.SmallBatch && w.DType == DType.BF16 && System.Runtime.Intrinsics.X86.Avx512F.IsSupported;
        int panelRows = tokens >= 4 && !rowKernel ? (r1 - r0) / CpuGemmPanel.Rows * CpuGemmPanel.Rows : 0;
        if (panelRows > 0)
        {
            if (w.DType == DType.BF16) CpuGemmPanel.Block<Bf16Loader>(x.Data, tokens, k, w.Bf16, r0, panelRows / CpuGemmPanel.Rows, y, ldy, yOffset);
            else CpuGemmPanel.Block<F32Loader>(x.Data, tokens, k, w.F32, r0, panelRows / CpuGemmPanel.Rows, y, ldy, yOffset);
        }
        if (r0 + panelRows < r1)
        {
            int start = r0 + panelRows;
            if (w.DType == DType.BF16) CpuGemm.Block<Bf16Loader>(x.Data, tokens, k, w.Bf16, start, r1, y, ldy, yOffset + panelRows);
            else CpuGemm.Block<F32Loader>(x.Data, tokens, k, w.F32, start, r1, y, ldy, yOffset + panelRows);
        }
    }
}
