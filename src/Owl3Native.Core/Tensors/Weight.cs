using Owl3Native.Core.SafeTensors;

namespace Owl3Native.Core.Tensors;

/// <summary>
/// A read-only weight tensor. BF16 and F32 weights stay in the memory-mapped file (zero copy; bf16 is widened in
/// registers by the CPU kernels). F16 weights, rare, are widened to fp32 once at load. A matrix weight is
/// `[out, in]` as stored by PyTorch (<see cref="Rows"/> = out, <see cref="Cols"/> = in).
/// </summary>
public sealed unsafe class Weight
{
    private readonly TensorView _view;
    private readonly float[]? _widened;

    /// <summary>Wraps a tensor view.</summary>
    /// <exception cref="ArgumentException">The dtype is not BF16, F16 or F32.</exception>
    public Weight(TensorView view)
    {
        if (view.DType is not (DType.BF16 or DType.F16 or DType.F32))
            throw new ArgumentException($"weight `{view.Name}` is {view.DType.SafeTensorsName()}; expected BF16, F16 or F32", nameof(view));
        _view = view;
        Name = view.Name;
        Shape = view.Shape;
        if (view.DType == DType.F16)
        {
            // Pinned, so the kernels can hold a raw pointer to it like they do to the mapping.
            _widened = GC.AllocateUninitializedArray<float>(checked((int)view.Info.ElementCount), pinned: true);
            view.CopyTo(_widened);
        }
        DType = view.DType == DType.F16 ? DType.F32 : view.DType;
        Cols = Shape.Rank == 0 ? 1 : checked((int)Shape[Shape.Rank - 1]);
        Rows = Cols == 0 ? 0 : checked((int)(Shape.ElementCount / Cols));
    }

    private Weight(Weight source, int rows, int cols)
    {
        _view = source._view;
        _widened = source._widened;
        Name = source.Name;
        Shape = new Shape(rows, cols);
        DType = source.DType;
        Rows = rows;
        Cols = cols;
    }

    private Weight(string name, float[] pinned, int rows, int cols)
    {
        _widened = pinned;
        Name = name;
        Shape = new Shape(rows, cols);
        DType = DType.F32;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>An fp32 weight held in memory (copied into a pinned array): for tests, checks and small synthetic tensors.</summary>
    public static Weight FromArray(string name, ReadOnlySpan<float> values, int rows, int cols)
    {
        if ((long)rows * cols != values.Length) throw new ArgumentException($"{values.Length} values for {rows}×{cols}");
        var pinned = GC.AllocateUninitializedArray<float>(values.Length, pinned: true);
        values.CopyTo(pinned);
        return new Weight(name, pinned, rows, cols);
    }

    /// <summary>
    /// The same elements seen as a `[rows, cols]` matrix (no copy): a conv kernel `[out, c, kh, kw]` is the GEMM
    /// weight `[out, c·kh·kw]`.
    /// </summary>
    /// <exception cref="ArgumentException">rows × cols differs from the element count.</exception>
    public Weight AsMatrix(int rows, int cols) =>
        (long)rows * cols == Length ? new Weight(this, rows, cols)
            : throw new ArgumentException($"`{Name}` {Shape} has {Length} elements, not {rows}×{cols}");

    /// <summary>Checkpoint name.</summary>
    public string Name { get; }

    /// <summary>Shape as stored.</summary>
    public Shape Shape { get; }

    /// <summary>Element type the kernels read: BF16 or F32.</summary>
    public DType DType { get; }

    /// <summary>Outer size (product of all but the last dimension).</summary>
    public int Rows { get; }

    /// <summary>Last dimension.</summary>
    public int Cols { get; }

    /// <summary>Number of elements.</summary>
    public long Length => (long)Rows * Cols;

    /// <summary>bf16 bits (only when <see cref="DType"/> is BF16).</summary>
    public ushort* Bf16 => DType == DType.BF16 ? (ushort*)_view.Pointer : throw new InvalidOperationException($"`{Name}` is not BF16");

    /// <summary>fp32 values (only when <see cref="DType"/> is F32).</summary>
    public float* F32
    {
        get
        {
            if (DType != DType.F32) throw new InvalidOperationException($"`{Name}` is not F32");
            if (_widened is null) return (float*)_view.Pointer;
            return _widened.Length == 0 ? null : (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _widened[0]);
        }
    }

    /// <summary>Copies row <paramref name="row"/> to fp32.</summary>
    public void ReadRow(int row, Span<float> destination)
    {
        if (DType == DType.BF16) BFloat16.ToSingle(new ReadOnlySpan<ushort>(Bf16 + (long)row * Cols, Cols), destination);
        else new ReadOnlySpan<float>(F32 + (long)row * Cols, Cols).CopyTo(destination);
    }

    /// <summary>All elements as fp32 (a copy; for small tensors such as norms and biases).</summary>
    public float[] ToArray()
    {
        var a = new float[checked((int)Length)];
        for (int r = 0; r < Rows; r++) ReadRow(r, a.AsSpan(r * Cols, Cols));
        return a;
    }
}
