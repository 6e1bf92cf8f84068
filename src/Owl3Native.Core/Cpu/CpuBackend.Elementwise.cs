using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.Cpu;

public sealed partial class CpuBackend
{
    private const float SqrtTwoOverPi = 0.7978845608028654f;

    /// <inheritdoc/>
    public void AddInPlace(Tensor x, Tensor y)
    {
        if (x.Length != y.Length) throw new ArgumentException($"shapes differ: {x} vs {y}");
        TensorPrimitives.Add(x.Data, y.Data, x.Data);
    }

    /// <inheritdoc/>
    public void AddRowsInPlace(Tensor x, Weight table)
    {
        if (x.Cols != table.Cols) throw new ArgumentException($"{x} rows have {x.Cols} features; `{table.Name}` has {table.Cols}");
        var row = new float[table.Cols];
        for (int r = 0; r < x.Rows; r++)
        {
            table.ReadRow(r % table.Rows, row);
            TensorPrimitives.Add(x.Row(r), row, x.Row(r));
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Vectorised in blocks of 1024: u = √(2/π)·(v + 0.044715·v³), tanh(u) (TensorPrimitives), ½·v·(1 + tanh u). A
    /// block's length is a multiple of 16 (the last one zero-padded through scratch), so every element takes the same
    /// vector code however the work is split among threads (bitwise the same results).
    /// </remarks>
    public void GeluTanhInPlace(Tensor x) => ParallelChunks(x.Length, (s, e) =>
    {
        Span<float> u = stackalloc float[1024], pad = stackalloc float[16];
        for (int at = s; at < e; at += u.Length)
        {
            var d = x.Data.AsSpan(at, Math.Min(u.Length, e - at));
            int whole = d.Length / 16 * 16;
            if (whole < d.Length)
            {
                // The tail of the chunk: through a zero-padded block of 16 (its own pass, then copied back).
                pad.Clear();
                d[whole..].CopyTo(pad);
                GeluTanhBlock(pad, u[..16]);
                pad[..(d.Length - whole)].CopyTo(d[whole..]);
                d = d[..whole];
            }
            if (d.Length > 0) GeluTanhBlock(d, u[..d.Length]);
        }
    }, minChunk: 4096);

    /// <summary>d ← gelu_tanh(d) for a block whose length is a multiple of 16; t is scratch of the same length.</summary>
    private static void GeluTanhBlock(Span<float> d, Span<float> t)
    {
        TensorPrimitives.Multiply(d, d, t);                       // v²
        TensorPrimitives.Multiply(t, 0.044715f, t);
        TensorPrimitives.Add(t, 1f, t);                           // 1 + 0.044715·v²
        TensorPrimitives.Multiply(t, d, t);                       // v + 0.044715·v³
        TensorPrimitives.Multiply(t, SqrtTwoOverPi, t);
        TensorPrimitives.Tanh(t, t);
        TensorPrimitives.Add(t, 1f, t);
        TensorPrimitives.Multiply(t, d, t);
        TensorPrimitives.Multiply(t, 0.5f, d);
    }

    /// <inheritdoc/>
    public void GeluErfInPlace(Tensor x) => ParallelChunks(x.Length, (s, e) =>
    {
        var d = x.Data.AsSpan(s, e - s);
        for (int i = 0; i < d.Length; i++)
        {
            double v = d[i];
            d[i] = (float)(0.5 * v * (1.0 + Erf.Compute(v * 0.70710678118654752440)));
        }
    }, minChunk: 4096);

    /// <inheritdoc/>
    public void SigmoidInPlace(Tensor x) => TensorPrimitives.Sigmoid(x.Data, x.Data);

    /// <inheritdoc/>
    public Tensor Patches(Tensor pixels, int patchSize)
    {
        if (pixels.Rank != 4 || pixels.Dim(1) != 3 || pixels.Dim(2) != pixels.Dim(3))
            throw new ArgumentException($"pixels must be [crops, 3, S, S], got {pixels}");
        int crops = pixels.Dim(0), s = pixels.Dim(2), p = patchSize;
        int grid = (s - p) / p + 1; // spec/MODEL.md §2.1: edge pixels beyond the last whole patch are never read
        int patches = grid * grid, cols = 3 * p * p;
        var y = new Tensor(crops * patches, cols);
        for (int n = 0; n < crops; n++)
            for (int py = 0; py < grid; py++)
                for (int px = 0; px < grid; px++)
                {
                    var row = y.Row(n * patches + py * grid + px);
                    for (int c = 0; c < 3; c++)
                        for (int ky = 0; ky < p; ky++)
                        {
                            int src = ((n * 3 + c) * s + py * p + ky) * s + px * p;
                            pixels.Data.AsSpan(src, p).CopyTo(row.Slice((c * p + ky) * p, p));
                        }
                }
        return y;
    }

    /// <inheritdoc/>
    public void GatedMixInPlace(Tensor context, Tensor cross, Tensor gate, ReadOnlySpan<int> visibleCrops)
    {
        if (context.Length != cross.Length || gate.Cols != context.Cols || (gate.Rows != 1 && gate.Rows != context.Rows))
            throw new ArgumentException($"gated mix of {context}, {cross}, gate {gate}");
        for (int t = 0; t < context.Rows; t++)
        {
            if (visibleCrops[t] == 0) continue; // tokens before the first visible image are not gated (§4.2 step 4)
            var c = context.Row(t);
            var x = cross.Row(t);
            var g = gate.Row(gate.Rows == 1 ? 0 : t);
            for (int i = 0; i < c.Length; i++) c[i] = (1f - g[i]) * c[i] + g[i] * x[i];
        }
    }
}
