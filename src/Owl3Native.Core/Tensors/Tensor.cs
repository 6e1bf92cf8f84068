namespace Owl3Native.Core.Tensors;

/// <summary>
/// A dense fp32 activation tensor, row-major. The model never touches <see cref="Data"/>: it passes tensors to
/// <see cref="Backend.IBackend"/> ops, so a device backend can give tensors device storage behind the same seam.
/// Most activations are 2-D `[tokens, features]`; <see cref="Rows"/>/<see cref="Cols"/> view any tensor that way.
/// </summary>
public sealed class Tensor
{
    private readonly int[] _dims;

    /// <summary>A zero-filled tensor.</summary>
    public Tensor(params int[] dims) : this(new float[checked(Product(dims))], dims) { }

    /// <summary>Wraps existing data (not copied).</summary>
    /// <exception cref="ArgumentException">The data length differs from the product of the dimensions.</exception>
    public Tensor(float[] data, params int[] dims)
    {
        if (data.Length != Product(dims))
            throw new ArgumentException($"data holds {data.Length} floats, shape [{string.Join(", ", dims)}] needs {Product(dims)}", nameof(data));
        Data = data;
        _dims = (int[])dims.Clone();
    }

    /// <summary>The elements.</summary>
    public float[] Data { get; }

    /// <summary>Dimensions, outermost first.</summary>
    public ReadOnlySpan<int> Dims => _dims;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _dims.Length;

    /// <summary>Dimension <paramref name="axis"/> (negative counts from the end).</summary>
    public int Dim(int axis) => _dims[axis < 0 ? _dims.Length + axis : axis];

    /// <summary>Number of elements.</summary>
    public int Length => Data.Length;

    /// <summary>The last dimension.</summary>
    public int Cols => _dims.Length == 0 ? 1 : _dims[^1];

    /// <summary>Product of every dimension but the last.</summary>
    public int Rows => Cols == 0 ? 0 : Data.Length / Cols;

    /// <summary>Row <paramref name="r"/> of the 2-D view.</summary>
    public Span<float> Row(int r) => Data.AsSpan(r * Cols, Cols);

    /// <summary>The same data under other dimensions (no copy).</summary>
    public Tensor Reshape(params int[] dims) => new(Data, dims);

    /// <summary>A copy of rows [start, start + count) of the 2-D view, as a `[count, cols]` tensor.</summary>
    public Tensor SliceRows(int start, int count) => new(Data.AsSpan(start * Cols, count * Cols).ToArray(), count, Cols);

    /// <summary>`[a, b, c]`.</summary>
    public override string ToString() => "Tensor[" + string.Join(", ", _dims) + "]";

    private static int Product(int[] dims)
    {
        long n = 1;
        foreach (int d in dims)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(dims));
            n *= d;
        }
        return checked((int)n);
    }
}
