using System.Runtime.InteropServices;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.SafeTensors;

/// <summary>
/// A zero-copy view of one tensor inside a memory-mapped safetensors file. Valid while the file is open;
/// any access after the file is disposed throws <see cref="ObjectDisposedException"/>.
/// </summary>
public readonly struct TensorView
{
    private readonly SafeTensorFile _file;
    private readonly long _fileOffset;

    internal TensorView(SafeTensorFile file, TensorInfo info, long fileOffset)
    {
        _file = file;
        Info = info;
        _fileOffset = fileOffset;
    }

    /// <summary>Name, dtype, shape and byte range.</summary>
    public TensorInfo Info { get; }

    /// <summary>The tensor's name in the checkpoint.</summary>
    public string Name => Info.Name;

    /// <summary>Element type.</summary>
    public DType DType => Info.DType;

    /// <summary>Shape.</summary>
    public Shape Shape => Info.Shape;

    /// <summary>Bytes of data.</summary>
    public long ByteLength => Info.ByteLength;

    /// <summary>The file the data lives in.</summary>
    public string FilePath => _file.Path;

    /// <summary>Address of the first byte (the mapping keeps it valid until the file is disposed).</summary>
    public unsafe byte* Pointer => _file.BasePointer + _fileOffset;

    /// <summary>The raw bytes; tensors above 2 GiB must be read through <see cref="Pointer"/> in pieces.</summary>
    /// <exception cref="InvalidOperationException">The tensor holds 2 GiB or more.</exception>
    public unsafe ReadOnlySpan<byte> Bytes
    {
        get
        {
            if (ByteLength > int.MaxValue)
                throw new InvalidOperationException($"tensor `{Name}` is {ByteLength} bytes; read it through Pointer in pieces");
            return new ReadOnlySpan<byte>(Pointer, (int)ByteLength);
        }
    }

    /// <summary>The data reinterpreted as <typeparamref name="T"/> (bf16 as <see cref="ushort"/>).</summary>
    /// <exception cref="InvalidOperationException">The element size of <typeparamref name="T"/> differs from the dtype's.</exception>
    public ReadOnlySpan<T> AsSpan<T>() where T : unmanaged
    {
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (size != DType.SizeOf())
            throw new InvalidOperationException($"tensor `{Name}` is {DType.SafeTensorsName()} ({DType.SizeOf()} bytes per element); cannot view it as {typeof(T).Name}");
        return MemoryMarshal.Cast<byte, T>(Bytes);
    }

    /// <summary>Converts the elements to fp32 (BF16, F16, F32, F64 only).</summary>
    /// <exception cref="ArgumentException">The destination length differs from the element count.</exception>
    /// <exception cref="InvalidOperationException">The dtype is not a float type.</exception>
    public void CopyTo(Span<float> destination)
    {
        if (destination.Length != Info.ElementCount)
            throw new ArgumentException($"destination holds {destination.Length} floats; tensor `{Name}` has {Info.ElementCount}", nameof(destination));
        switch (DType)
        {
            case DType.BF16: BFloat16.ToSingle(AsSpan<ushort>(), destination); break;
            case DType.F16: System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(AsSpan<Half>(), destination); break;
            case DType.F32: AsSpan<float>().CopyTo(destination); break;
            case DType.F64:
                var src = AsSpan<double>();
                for (int i = 0; i < src.Length; i++) destination[i] = (float)src[i];
                break;
            default: throw new InvalidOperationException($"tensor `{Name}` is {DType.SafeTensorsName()}, not a float type");
        }
    }

    /// <summary>A new fp32 array holding the elements.</summary>
    public float[] ToFloatArray()
    {
        var a = new float[checked((int)Info.ElementCount)];
        CopyTo(a);
        return a;
    }
}
