using System.Text;
using Owl3Native.Cuda.Interop;

namespace Owl3Native.Cuda.Runtime;

/// <summary>Launch geometry.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1);

/// <summary>A loaded CUBIN; keeps its context alive.</summary>
internal sealed unsafe class CudaModule : IDisposable
{
    private readonly CudaContext _context;
    private nint _module;
    private readonly Dictionary<string, CudaFunction> _functions = [];

    public CudaModule(CudaContext context, byte[] cubin)
    {
        _context = context;
        context.MakeCurrent();
        nint m;
        fixed (byte* p = cubin) Cu.Check(CuDriver.cuModuleLoadData(&m, p));
        _module = m;
    }

    public CudaFunction Function(string name)
    {
        lock (_functions)
        {
            if (_functions.TryGetValue(name, out var f)) return f;
            _context.MakeCurrent();
            nint fn;
            var bytes = Encoding.UTF8.GetBytes(name + "\0");
            fixed (byte* p = bytes) Cu.Check(CuDriver.cuModuleGetFunction(&fn, _module, p));
            return _functions[name] = new CudaFunction(_context, name, fn);
        }
    }

    public void Dispose()
    {
        nint m = Interlocked.Exchange(ref _module, 0);
        if (m == 0) return;
        _context.MakeCurrent();
        CuDriver.cuModuleUnload(m);
    }
}

/// <summary>A kernel entry point; launches take the kernel's params struct by value (one argument).</summary>
public sealed unsafe class CudaFunction
{
    private readonly CudaContext _context;
    private readonly nint _function;

    internal CudaFunction(CudaContext context, string name, nint function)
    {
        _context = context;
        Name = name;
        _function = function;
    }

    /// <summary>The kernel's exported (extern "C") name, e.g. <c>rms_norm_bf16</c>.</summary>
    public string Name { get; }

    private int _maxDynamicShared = 48 * 1024;

    /// <summary>
    /// Raises the kernel's dynamic shared-memory limit (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) when a launch
    /// needs more than the 48 KiB every kernel may use without opting in.
    /// </summary>
    public void EnsureDynamicShared(int bytes)
    {
        if (bytes <= Volatile.Read(ref _maxDynamicShared)) return;
        _context.MakeCurrent();
        Cu.Check(CuDriver.cuFuncSetAttribute(_function, 8, bytes), $"cuFuncSetAttribute({Name}, max dynamic shared = {bytes} B)");
        Volatile.Write(ref _maxDynamicShared, bytes);
    }

    /// <summary>CTAs of <paramref name="threads"/> threads and <paramref name="dynamicSharedBytes"/> that one multiprocessor holds at once.</summary>
    public int MaxActiveBlocksPerMultiprocessor(int threads, int dynamicSharedBytes)
    {
        if (dynamicSharedBytes > 48 * 1024) EnsureDynamicShared(dynamicSharedBytes);
        _context.MakeCurrent();
        int blocks;
        Cu.Check(CuDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, _function, threads, (nuint)dynamicSharedBytes),
            $"cuOccupancyMaxActiveBlocksPerMultiprocessor({Name})");
        return blocks;
    }

    /// <summary>
    /// Clusters of <paramref name="cluster"/> CTAs (each <paramref name="threads"/> threads and
    /// <paramref name="dynamicSharedBytes"/>) the device can hold at once (cuOccupancyMaxActiveClusters); 0 when no
    /// such cluster can be scheduled at all. Needs <see cref="CudaContext.SupportsClusterLaunch"/>.
    /// </summary>
    public int MaxActiveClusters(Dim3 cluster, int threads, int dynamicSharedBytes)
    {
        if (!_context.SupportsClusterLaunch) return 0;
        if (dynamicSharedBytes > 48 * 1024) EnsureDynamicShared(dynamicSharedBytes);
        if (cluster.X * cluster.Y * cluster.Z > 8) EnsureNonPortableClusters();
        _context.MakeCurrent();
        var attribute = new CUlaunchAttribute { Id = CUlaunchAttribute.ClusterDimension, ClusterX = cluster.X, ClusterY = cluster.Y, ClusterZ = cluster.Z };
        var config = new CUlaunchConfig
        {
            GridDimX = cluster.X, GridDimY = cluster.Y, GridDimZ = cluster.Z, BlockDimX = (uint)threads, BlockDimY = 1, BlockDimZ = 1,
            SharedMemBytes = (uint)dynamicSharedBytes, Attrs = &attribute, NumAttrs = 1,
        };
        int clusters;
        var r = CuDriver.cuOccupancyMaxActiveClusters(&clusters, _function, &config);
        // A cluster size the hardware cannot form at all is an error here, not a count of 0.
        return r == CUresult.CUDA_SUCCESS ? clusters : 0;
    }

    /// <summary>
    /// Launches with <paramref name="p"/> as the kernel's single by-value parameter. <paramref name="programmatic"/>
    /// (where <see cref="CudaContext.SupportsProgrammaticLaunch"/>; a plain launch elsewhere): a programmatic dependent launch — the kernel may start while the previous
    /// kernel of the stream still runs, and must call <c>pdl_wait()</c> (common.cuh) before it reads anything that kernel
    /// writes; the kernels here do. <paramref name="cluster"/>: CTAs per thread-block cluster in each dimension (sm_90+,
    /// <see cref="CudaContext.SupportsClusterLaunch"/>); each grid dimension must be a multiple of it, and above 8 CTAs
    /// a cluster is of a non-portable size, which the launch opts into.
    /// </summary>
    /// <exception cref="NotSupportedException">A cluster launch where the device or driver has none.</exception>
    public void Launch<TParams>(CudaStream stream, Dim3 grid, Dim3 block, in TParams p, uint sharedBytes = 0, bool programmatic = false, Dim3? cluster = null) where TParams : unmanaged
    {
        if (sharedBytes > 48 * 1024) EnsureDynamicShared((int)sharedBytes);
        _context.MakeCurrent();
        TParams copy = p;
        void* arg = &copy;
        bool pdl = programmatic && _context.SupportsProgrammaticLaunch;
        if (cluster is { } c)
        {
            if (!_context.SupportsClusterLaunch)
                throw new NotSupportedException($"{Name}: thread-block clusters need an sm_90 device and a CUDA 12 driver (this is {_context.Arch}, driver {_context.DriverVersion})");
            if (c.X == 0 || c.Y == 0 || c.Z == 0 || grid.X % c.X != 0 || grid.Y % c.Y != 0 || grid.Z % c.Z != 0)
                throw new ArgumentException($"{Name}: grid {grid} is not a whole number of clusters {c}");
            if (c.X * c.Y * c.Z > 8) EnsureNonPortableClusters();
        }
        if (pdl || cluster is not null)
        {
            var attributes = stackalloc CUlaunchAttribute[2];
            uint count = 0;
            if (pdl) attributes[count++] = new CUlaunchAttribute { Id = CUlaunchAttribute.ProgrammaticStreamSerialization, Value = 1 };
            if (cluster is { } d) attributes[count++] = new CUlaunchAttribute { Id = CUlaunchAttribute.ClusterDimension, ClusterX = d.X, ClusterY = d.Y, ClusterZ = d.Z };
            var config = new CUlaunchConfig
            {
                GridDimX = grid.X, GridDimY = grid.Y, GridDimZ = grid.Z, BlockDimX = block.X, BlockDimY = block.Y, BlockDimZ = block.Z,
                SharedMemBytes = sharedBytes, HStream = stream.Handle, Attrs = attributes, NumAttrs = count,
            };
            Cu.Check(CuDriver.cuLaunchKernelEx(&config, _function, &arg, null),
                $"cuLaunchKernelEx({Name}{(pdl ? ", programmatic" : "")}{(cluster is { } e ? $", cluster {e.X}×{e.Y}×{e.Z}" : "")})");
            stream.Mark(Name);
            return;
        }
        Cu.Check(CuDriver.cuLaunchKernel(_function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, stream.Handle, &arg, null), $"cuLaunchKernel({Name})");
        stream.Mark(Name);
    }

    private int _nonPortableClusters;

    /// <summary>CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, once: clusters of more than 8 CTAs (16 on H100/H200).</summary>
    private void EnsureNonPortableClusters()
    {
        if (Volatile.Read(ref _nonPortableClusters) != 0) return;
        Cu.Check(CuDriver.cuFuncSetAttribute(_function, 14, 1), $"cuFuncSetAttribute({Name}, non-portable cluster size allowed)");
        Volatile.Write(ref _nonPortableClusters, 1);
    }
}
