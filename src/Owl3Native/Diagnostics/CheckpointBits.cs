using Owl3Native.Core;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;
using Owl3Native.Models;

namespace Owl3Native.Diagnostics;

/// <summary>
/// Checkpoint tensors as the device uploads them: looked up by name with their element count checked against the
/// config's sizes (zero copy), then copied out as bf16 bits (the released checkpoints' own; an fp32 or fp16 tensor is rounded).
/// </summary>
internal sealed class CheckpointBits(ITensorSource source)
{
    /// <summary>`scope.weight`, which must have rows × cols elements.</summary>
    /// <exception cref="CheckpointException">Missing, or another element count.</exception>
    public Weight Matrix(WeightScope scope, long rows, long cols) => Sized(scope.Tensor("weight"), rows * cols, $"[{rows}, {cols}]");

    /// <summary>`scope.name`, which must have <paramref name="length"/> elements.</summary>
    /// <exception cref="CheckpointException">Missing, or another element count.</exception>
    public Weight Vector(WeightScope scope, string name, long length) => Sized(scope.Tensor(name), length, $"[{length}]");

    private Weight Sized(Weight w, long count, string expected) => w.Length == count ? w
        : throw new CheckpointFormatException(source.FileOf(w.Name), $"`{w.Name}` {w.Shape} has {w.Length} elements; the config's sizes need {expected}") { TensorName = w.Name };

    /// <summary>The tensors' bf16 bits, one after the other in one array (k|v, gate|up stacked).</summary>
    public static ushort[] Of(params Weight[] parts)
    {
        var bits = new ushort[parts.Sum(p => p.Length)];
        long at = 0;
        foreach (var p in parts)
        {
            Copy(p, 0, checked((int)p.Length), bits.AsSpan(checked((int)at), checked((int)p.Length)));
            at += p.Length;
        }
        return bits;
    }

    /// <summary><paramref name="w"/> seen as `[rows, cols]` with each row followed by zeros up to <paramref name="paddedCols"/>.</summary>
    public static ushort[] Padded(Weight w, int rows, int cols, int paddedCols)
    {
        if ((long)rows * cols != w.Length || paddedCols < cols) throw new ArgumentException($"`{w.Name}` as [{rows}, {cols}] padded to {paddedCols}");
        var bits = new ushort[(long)rows * paddedCols];
        for (int r = 0; r < rows; r++) Copy(w, (long)r * cols, cols, bits.AsSpan(r * paddedCols, cols));
        return bits;
    }

    private static unsafe void Copy(Weight w, long offset, int count, Span<ushort> destination)
    {
        if (w.DType == DType.BF16) new ReadOnlySpan<ushort>(w.Bf16 + offset, count).CopyTo(destination);
        else BFloat16.FromSingle(new ReadOnlySpan<float>(w.F32 + offset, count), destination);
    }
}
