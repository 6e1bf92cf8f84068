using Owl3Native.Cuda.Interop;

namespace Owl3Native.Cuda.Runtime;

/// <summary>A CUDA stream, with events for timing and stream capture into a CUDA graph.</summary>
public sealed unsafe class CudaStream : IDisposable
{
    private readonly CudaContext _context;
    private nint _stream;

    /// <summary>Creates a non-blocking stream (CU_STREAM_NON_BLOCKING: no implicit sync with the legacy default stream) on <paramref name="context"/>.</summary>
    /// <exception cref="CudaException">cuStreamCreate failed.</exception>
    public CudaStream(CudaContext context)
    {
        _context = context;
        context.MakeCurrent();
        nint s;
        Cu.Check(CuDriver.cuStreamCreate(&s, 1)); // CU_STREAM_NON_BLOCKING
        _stream = s;
    }

    internal nint Handle => _stream != 0 ? _stream : throw new ObjectDisposedException(nameof(CudaStream));

    /// <summary>The context the stream belongs to.</summary>
    public CudaContext Context => _context;

    /// <summary>Blocks the calling thread until all work queued on this stream has finished.</summary>
    /// <exception cref="CudaException">The stream reported an error, including an earlier asynchronous kernel fault.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public void Synchronize()
    {
        _context.MakeCurrent();
        Cu.Check(CuDriver.cuStreamSynchronize(Handle));
    }

    /// <summary>Milliseconds the work queued by <paramref name="work"/> takes on this stream (events around it).</summary>
    public float Time(Action work)
    {
        _context.MakeCurrent();
        nint start, end;
        Cu.Check(CuDriver.cuEventCreate(&start, 0));
        Cu.Check(CuDriver.cuEventCreate(&end, 0));
        try
        {
            Cu.Check(CuDriver.cuEventRecord(start, Handle));
            work();
            Cu.Check(CuDriver.cuEventRecord(end, Handle));
            Cu.Check(CuDriver.cuEventSynchronize(end));
            float ms;
            Cu.Check(CuDriver.cuEventElapsedTime(&ms, start, end));
            return ms;
        }
        finally
        {
            CuDriver.cuEventDestroy_v2(start);
            CuDriver.cuEventDestroy_v2(end);
        }
    }

    private List<(string Name, nint Event)>? _marks;

    /// <summary>
    /// Milliseconds each launch queued by <paramref name="work"/> takes on the device, in order: every kernel launch and
    /// cuBLASLt matmul on this stream records an event after itself, and a launch's time is the gap from the event before
    /// it. The work waits behind <paramref name="head"/> (a kernel queued first that keeps the device busy while the host
    /// queues the rest, e.g. a 2 ms spin), so the gaps are the device's own time, not the host's launch rate. Not for a
    /// stream being captured.
    /// </summary>
    public IReadOnlyList<(string Name, float Ms)> LaunchTimes(Action head, Action work)
    {
        if (IsCapturing) throw new InvalidOperationException("launch times of a stream being captured");
        _context.MakeCurrent();
        head();
        var marks = new List<(string Name, nint Event)>();
        try
        {
            nint first;
            Cu.Check(CuDriver.cuEventCreate(&first, 0));
            marks.Add(("", first));
            Cu.Check(CuDriver.cuEventRecord(first, Handle));
            _marks = marks;
            try
            {
                work();
            }
            finally
            {
                _marks = null;
            }
            Cu.Check(CuDriver.cuEventSynchronize(marks[^1].Event));
            var times = new List<(string, float)>(marks.Count - 1);
            for (int i = 1; i < marks.Count; i++)
            {
                float ms;
                Cu.Check(CuDriver.cuEventElapsedTime(&ms, marks[i - 1].Event, marks[i].Event));
                times.Add((marks[i].Name, ms));
            }
            return times;
        }
        finally
        {
            foreach (var (_, e) in marks) CuDriver.cuEventDestroy_v2(e);
        }
    }

    /// <summary>Inside <see cref="LaunchTimes"/>: records an event after the launch just queued (a no-op otherwise).</summary>
    internal void Mark(string name)
    {
        if (_marks is null) return;
        nint e;
        Cu.Check(CuDriver.cuEventCreate(&e, 0));
        _marks.Add((name, e));
        Cu.Check(CuDriver.cuEventRecord(e, Handle));
    }

    /// <summary>Device-to-device copy on this stream.</summary>
    public void Copy(ulong destination, ulong source, long bytes)
    {
        _context.MakeCurrent();
        Cu.Check(CuDriver.cuMemcpyDtoDAsync_v2(destination, source, (nuint)bytes, Handle));
    }

    /// <summary>
    /// Captures the work queued by <paramref name="work"/> into a graph that can be replayed with one launch.
    /// <paramref name="threadLocal"/>: only this thread's unsafe calls (allocations, synchronous copies) break the capture
    /// (CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), not other threads' (the engine frees a finished request's memory elsewhere).
    /// </summary>
    public CudaGraph Capture(Action work, bool threadLocal = false)
    {
        _context.MakeCurrent();
        Cu.Check(CuDriver.cuStreamBeginCapture_v2(Handle, threadLocal ? 1 : 0)); // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL : _GLOBAL
        nint graph = 0;
        try
        {
            work();
        }
        catch
        {
            // End the capture (the stream must leave capture mode), drop what was recorded, and keep work's own error.
            if (CuDriver.cuStreamEndCapture(Handle, &graph) == CUresult.CUDA_SUCCESS && graph != 0) CuDriver.cuGraphDestroy(graph);
            throw;
        }
        Cu.Check(CuDriver.cuStreamEndCapture(Handle, &graph));
        nint exec;
        var instantiated = CuDriver.cuGraphInstantiateWithFlags(&exec, graph, 0);
        if (instantiated != CUresult.CUDA_SUCCESS)
        {
            CuDriver.cuGraphDestroy(graph);
            Cu.Check(instantiated);
        }
        return new CudaGraph(_context, graph, exec);
    }

    /// <summary>Whether work queued on this stream is being captured into a graph now (not run).</summary>
    public bool IsCapturing
    {
        get
        {
            _context.MakeCurrent();
            int status;
            Cu.Check(CuDriver.cuStreamIsCapturing(Handle, &status));
            return status != 0; // CU_STREAM_CAPTURE_STATUS_NONE = 0
        }
    }

    /// <summary>Destroys the stream; work already queued still completes. A second call does nothing.</summary>
    public void Dispose()
    {
        nint s = Interlocked.Exchange(ref _stream, 0);
        if (s == 0) return;
        _context.MakeCurrent();
        CuDriver.cuStreamDestroy_v2(s);
    }
}

/// <summary>An instantiated CUDA graph.</summary>
public sealed class CudaGraph : IDisposable
{
    private readonly CudaContext _context;
    private nint _graph, _exec;

    internal CudaGraph(CudaContext context, nint graph, nint exec)
    {
        _context = context;
        _graph = graph;
        _exec = exec;
    }

    /// <summary>Replays the captured work on <paramref name="stream"/> (asynchronously).</summary>
    /// <exception cref="ObjectDisposedException">The graph was disposed.</exception>
    /// <exception cref="CudaException">cuGraphLaunch failed.</exception>
    public void Launch(CudaStream stream)
    {
        ObjectDisposedException.ThrowIf(_exec == 0, this);
        _context.MakeCurrent();
        Cu.Check(CuDriver.cuGraphLaunch(_exec, stream.Handle));
    }

    /// <summary>Destroys the executable graph and its template. A second call does nothing.</summary>
    public void Dispose()
    {
        if (_exec == 0) return;
        _context.MakeCurrent();
        CuDriver.cuGraphExecDestroy(_exec);
        CuDriver.cuGraphDestroy(_graph);
        _exec = _graph = 0;
    }
}
