using Owl3Native.Cuda.Interop;

namespace Owl3Native.Cuda.Runtime;

/// <summary>
/// Page-locked host memory of <see cref="Length"/> elements (cuMemAllocHost): copies from it to the device are DMA
/// transfers queued on a stream, with no staging copy and no wait on the stream's earlier work. The caller must not
/// rewrite it until the copies queued from it have run (a step's host mirror is rewritten after the step's synchronise).
/// </summary>
public sealed unsafe class PinnedBuffer<T> : IDisposable where T : unmanaged
{
    private readonly CudaContext _context;
    private T* _pointer;

    /// <summary>Allocates <paramref name="length"/> elements (zeroed).</summary>
    public PinnedBuffer(CudaContext context, long length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        _context = context;
        Length = length;
        context.MakeCurrent();
        void* p;
        Cu.Check(CuDriver.cuMemAllocHost_v2(&p, (nuint)checked(length * sizeof(T))), "cuMemAllocHost_v2");
        _pointer = (T*)p;
        Span.Clear();
    }

    /// <summary>Capacity in elements.</summary>
    public long Length { get; }

    /// <summary>The memory (at most int.MaxValue elements are reachable this way).</summary>
    public Span<T> Span => new(_pointer != null ? _pointer : throw new ObjectDisposedException(nameof(PinnedBuffer<T>)), (int)Math.Min(Length, int.MaxValue));

    /// <summary>Queues a copy of the first <paramref name="count"/> elements to <paramref name="destination"/> on <paramref name="stream"/>.</summary>
    public void CopyToAsync(DeviceBuffer<T> destination, long count, CudaStream stream)
    {
        if (count > Length || count > destination.Length) throw new ArgumentException($"{count} elements from a pinned buffer of {Length} into a device buffer of {destination.Length}");
        if (count <= 0) return;
        ObjectDisposedException.ThrowIf(_pointer == null, this);
        _context.MakeCurrent();
        Cu.Check(CuDriver.cuMemcpyHtoDAsync_v2(destination.Pointer, _pointer, (nuint)(count * sizeof(T)), stream.Handle), "cuMemcpyHtoDAsync_v2");
    }

    /// <summary>Frees the memory. A second call does nothing.</summary>
    public void Dispose()
    {
        if (_pointer == null) return;
        _context.MakeCurrent();
        CuDriver.cuMemFreeHost(_pointer);
        _pointer = null;
    }
}
