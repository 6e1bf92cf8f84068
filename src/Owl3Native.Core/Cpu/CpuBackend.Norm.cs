using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.Cpu;

public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    public Tensor RmsNorm(Tensor x, Weight w, float eps)
    {
        if (w.Length != x.Cols) throw new ArgumentException($"`{w.Name}` has {w.Length} elements; rows have {x.Cols}");
        float[] weight = w.ToArray();
        var y = new Tensor(x.Rows, x.Cols);
        ParallelChunks(x.Rows, (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                var row = x.Row(r);
                float meanSq = TensorPrimitives.Dot(row, row) / row.Length; // spec/MODEL.md §3.3: fp32 statistics
                float scale = 1f / MathF.Sqrt(meanSq + eps);
                var dst = y.Row(r);
                TensorPrimitives.Multiply(row, scale, dst);
                TensorPrimitives.Multiply(dst, weight, dst);
            }
        }, minChunk: 16);
        return y;
    }

    /// <inheritdoc/>
    public Tensor LayerNorm(Tensor x, Weight w, Weight b, float eps)
    {
        if (w.Length != x.Cols || b.Length != x.Cols) throw new ArgumentException($"`{w.Name}`/`{b.Name}` do not match rows of {x.Cols}");
        float[] weight = w.ToArray(), bias = b.ToArray();
        var y = new Tensor(x.Rows, x.Cols);
        ParallelChunks(x.Rows, (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                var row = x.Row(r);
                double sum = 0;
                foreach (float v in row) sum += v;
                float mean = (float)(sum / row.Length);
                double sq = 0;
                foreach (float v in row) sq += (double)(v - mean) * (v - mean);
                float inv = 1f / MathF.Sqrt((float)(sq / row.Length) + eps);
                var dst = y.Row(r);
                for (int i = 0; i < row.Length; i++) dst[i] = (row[i] - mean) * inv * weight[i] + bias[i];
            }
        }, minChunk: 16);
        return y;
    }
}
