namespace Owl3Native.Core.Tensors;

/// <summary>An immutable tensor shape (row-major, outermost dimension first).</summary>
public sealed class Shape : IEquatable<Shape>
{
    private readonly long[] _dims;

    /// <summary>Creates a shape; every dimension must be non-negative.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative.</exception>
    public Shape(params long[] dims)
    {
        foreach (var d in dims)
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(dims));
        _dims = (long[])dims.Clone();
    }

    /// <summary>Number of dimensions.</summary>
    public int Rank => _dims.Length;

    /// <summary>Dimension <paramref name="axis"/>.</summary>
    public long this[int axis] => _dims[axis];

    /// <summary>The dimensions as a read-only span.</summary>
    public ReadOnlySpan<long> Dims => _dims;

    /// <summary>Product of the dimensions (1 for a scalar).</summary>
    /// <exception cref="OverflowException">The product does not fit in 64 bits.</exception>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in _dims) n = checked(n * d);
            return n;
        }
    }

    /// <summary>Product of the dimensions, or false when it overflows 64 bits.</summary>
    public bool TryGetElementCount(out long count)
    {
        count = 1;
        foreach (var d in _dims)
        {
            if (d != 0 && count > long.MaxValue / d) { count = 0; return false; }
            count *= d;
        }
        return true;
    }

    /// <inheritdoc/>
    public bool Equals(Shape? other) => other is not null && _dims.AsSpan().SequenceEqual(other._dims);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as Shape);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in _dims) h.Add(d);
        return h.ToHashCode();
    }

    /// <summary>`[a, b, c]`, the spelling used in every error message.</summary>
    public override string ToString() => "[" + string.Join(", ", _dims) + "]";
}
