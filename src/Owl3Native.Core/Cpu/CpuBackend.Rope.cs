using Owl3Native.Core.Backend;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>`inv_freq[i] = 1 / θ^(fp32(2i)/D)` in fp32, as the reference builds it (spec/MODEL.md §3.4).</summary>
    internal static float[] InverseFrequencies(int headDim, double theta)
    {
        var inv = new float[headDim / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = 1f / MathF.Pow((float)theta, (float)(2 * i) / headDim);
        return inv;
    }

    /// <summary>Rotates one head vector in place at position <paramref name="position"/> (rotate-half layout).</summary>
    private static void RotateHalf(Span<float> x, float position, float[] invFreq)
    {
        int half = invFreq.Length;
        for (int i = 0; i < half; i++)
        {
            float angle = position * invFreq[i];
            float c = MathF.Cos(angle), s = MathF.Sin(angle);
            float x1 = x[i], x2 = x[i + half];
            x[i] = x1 * c - x2 * s;
            x[i + half] = x2 * c + x1 * s;
        }
    }

    /// <inheritdoc/>
    public void RopeInPlace(Tensor x, ReadOnlySpan<int> positions, int heads, int headDim, double theta)
    {
        if (x.Cols != heads * headDim || x.Rows != positions.Length)
            throw new ArgumentException($"RoPE of {x} with {positions.Length} positions, {heads}×{headDim}");
        var inv = InverseFrequencies(headDim, theta);
        int[] pos = positions.ToArray();
        ParallelChunks(x.Rows, (s, e) =>
        {
            for (int r = s; r < e; r++)
                for (int h = 0; h < heads; h++)
                    RotateHalf(x.Row(r).Slice(h * headDim, headDim), pos[r], inv);
        }, minChunk: 8);
    }

    /// <inheritdoc/>
    public VisualKv MakeVisualKv(Tensor kv, int kvHeads, int headDim, int tokensPerCrop, ReadOnlySpan<int> ropePositions, double theta, int[] visibleFrom)
    {
        int tokens = kv.Rows;
        if (kv.Cols != 2 * kvHeads * headDim || tokens != ropePositions.Length * tokensPerCrop || visibleFrom.Length != ropePositions.Length)
            throw new ArgumentException($"visual K/V of {kv} for {ropePositions.Length} crops of {tokensPerCrop} tokens, {kvHeads}×{headDim}");
        var keys = new Tensor(kvHeads, tokens, headDim);
        var values = new Tensor(kvHeads, tokens, headDim);
        var inv = InverseFrequencies(headDim, theta);
        int[] pos = ropePositions.ToArray();
        ParallelChunks(tokens, (s, e) =>
        {
            for (int u = s; u < e; u++)
            {
                var row = kv.Row(u);
                for (int g = 0; g < kvHeads; g++)
                {
                    // Output feature f = (g·2 + s)·D + d: per head [K | V] (spec/MODEL.md §4.1).
                    var k = keys.Data.AsSpan((g * tokens + u) * headDim, headDim);
                    row.Slice(2 * g * headDim, headDim).CopyTo(k);
                    row.Slice((2 * g + 1) * headDim, headDim).CopyTo(values.Data.AsSpan((g * tokens + u) * headDim, headDim));
                    RotateHalf(k, pos[u / tokensPerCrop], inv); // MI-RoPE: every key of crop j at its marker position, fp32
                }
            }
        }, minChunk: 32);
        return new VisualKv(keys, values, tokensPerCrop, visibleFrom);
    }
}
