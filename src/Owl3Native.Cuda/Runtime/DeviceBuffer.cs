using Owl3Native.Cuda.Interop;

namespace Owl3Native.Cuda.Runtime;

/// <summary>
/// Device memory of <see cref="Length"/> elements of <typeparamref name="T"/>. Disposed explicitly; the finalizer only
/// reports a leak (it frees nothing on a thread without a context).
/// </summary>
public sealed unsafe class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    private readonly CudaContext _context;
    private ulong _pointer;

    /// <summary>Allocates <paramref name="length"/> elements (uninitialised).</summary>
    /// <exception cref="DeviceOutOfMemoryException">Not enough device memory.</exception>
    public DeviceBuffer(CudaContext context, long length)
    {
        _context = context;
        Length = length;
        long bytes = checked(length * sizeof(T));
        context.MakeCurrent();
        ulong p;
        var r = CuDriver.cuMemAlloc_v2(&p, (nuint)Math.Max(bytes, 1));
        if (r == CUresult.CUDA_ERROR_OUT_OF_MEMORY)
        {
            var (free, total) = context.MemoryInfo();
            throw new DeviceOutOfMemoryException(bytes, free, total);
        }
        Cu.Check(r, "cuMemAlloc_v2");
        _pointer = p;
    }

    /// <summary>Capacity in elements of <typeparamref name="T"/>.</summary>
    public long Length { get; }

    /// <summary>Capacity in bytes: <see cref="Length"/> · sizeof(<typeparamref name="T"/>).</summary>
    public long Bytes => Length * sizeof(T);

    /// <summary>The device address (for params structs).</summary>
    public ulong Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer == 0, this);
            return _pointer;
        }
    }

    /// <summary>Copies <paramref name="source"/> host → device into the first source.Length elements (synchronous).</summary>
    /// <exception cref="ArgumentException"><paramref name="source"/> is longer than the buffer.</exception>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="CudaException">The copy failed.</exception>
    public void CopyFrom(ReadOnlySpan<T> source) => CopyFrom(source, 0);

    /// <summary>Copies <paramref name="source"/> host → device into elements offset … offset + source.Length − 1 (synchronous).</summary>
    /// <exception cref="ArgumentException">The elements do not lie inside the buffer.</exception>
    public void CopyFrom(ReadOnlySpan<T> source, long offset)
    {
        if (offset < 0 || offset + source.Length > Length) throw new ArgumentException($"{source.Length} elements at {offset} into a buffer of {Length}");
        if (source.Length == 0) return;
        _context.MakeCurrent();
        fixed (T* s = source) Cu.Check(CuDriver.cuMemcpyHtoD_v2(Pointer + (ulong)(offset * sizeof(T)), s, (nuint)(source.Length * sizeof(T))));
    }

    /// <summary>
    /// Copies <paramref name="source"/> host → device into the first source.Length elements, in <paramref name="stream"/>'s
    /// order (pageable memory: staged by the driver before this returns, so the span may be reused at once).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="source"/> is longer than the buffer.</exception>
    public void CopyFromAsync(ReadOnlySpan<T> source, CudaStream stream)
    {
        if (source.Length > Length) throw new ArgumentException($"{source.Length} elements into a buffer of {Length}");
        if (source.Length == 0) return;
        _context.MakeCurrent();
        fixed (T* s = source) Cu.Check(CuDriver.cuMemcpyHtoDAsync_v2(Pointer, s, (nuint)(source.Length * sizeof(T)), stream.Handle));
    }

    /// <summary>Copies the first destination.Length elements device → host (synchronous; waits for work on the legacy default stream).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is longer than the buffer.</exception>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="CudaException">The copy failed.</exception>
    public void CopyTo(Span<T> destination)
    {
        if (destination.Length > Length) throw new ArgumentException($"{destination.Length} elements out of a buffer of {Length}");
        _context.MakeCurrent();
        fixed (T* d = destination) Cu.Check(CuDriver.cuMemcpyDtoH_v2(d, Pointer, (nuint)(destination.Length * sizeof(T))));
    }

    /// <summary>Copies the whole buffer to a new host array (see <see cref="CopyTo"/>).</summary>
    public T[] ToArray()
    {
        var a = new T[Length];
        CopyTo(a);
        return a;
    }

    /// <summary>Fills every byte with <paramref name="value"/> (tests poison outputs with 0xFF = NaN for floats).</summary>
    public void FillBytes(byte value)
    {
        _context.MakeCurrent();
        Cu.Check(CuDriver.cuMemsetD8_v2(Pointer, value, (nuint)Bytes));
    }

    /// <summary>Frees the device memory. A second call does nothing.</summary>
    public void Dispose()
    {
        ulong p = Interlocked.Exchange(ref _pointer, 0);
        if (p == 0) return;
        _context.MakeCurrent();
        CuDriver.cuMemFree_v2(p);
        GC.SuppressFinalize(this);
    }

    /// <summary>Leak detector: writes a line to stderr when the buffer was never disposed; frees nothing.</summary>
    ~DeviceBuffer()
    {
        if (_pointer != 0) Console.Error.WriteLine($"Owl3Native: DeviceBuffer<{typeof(T).Name}> of {Bytes} bytes leaked (not disposed)");
    }
}
