using System.Runtime.InteropServices;

namespace Owl3Native.Cuda.Interop;

/// <summary>
/// Raw CUDA driver API (cuda.h), exact C names, grouped by chapter of the manual. Device pointers are `ulong`
/// (CUdeviceptr); handles are `nint`. `_v2` entry points are the ones cuda.h maps the plain names to.
/// </summary>
internal static unsafe partial class CuDriver
{
    internal const string Library = "cuda";

    static CuDriver() => CudaLibraryImports.Register();

    // Initialization, version, errors
    [LibraryImport(Library)] internal static partial CUresult cuInit(uint flags);
    [LibraryImport(Library)] internal static partial CUresult cuDriverGetVersion(int* version);
    [LibraryImport(Library)] internal static partial CUresult cuGetErrorName(CUresult error, byte** name);
    [LibraryImport(Library)] internal static partial CUresult cuGetErrorString(CUresult error, byte** text);

    // Device management
    [LibraryImport(Library)] internal static partial CUresult cuDeviceGetCount(int* count);
    [LibraryImport(Library)] internal static partial CUresult cuDeviceGet(int* device, int ordinal);
    [LibraryImport(Library)] internal static partial CUresult cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Library)] internal static partial CUresult cuDeviceGetAttribute(int* value, CUdevice_attribute attribute, int device);
    [LibraryImport(Library)] internal static partial CUresult cuDeviceTotalMem_v2(nuint* bytes, int device);

    // Primary context management
    [LibraryImport(Library)] internal static partial CUresult cuDevicePrimaryCtxRetain(nint* context, int device);
    [LibraryImport(Library)] internal static partial CUresult cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Library)] internal static partial CUresult cuCtxSetCurrent(nint context);
    [LibraryImport(Library)] internal static partial CUresult cuCtxSynchronize();

    // Memory management
    [LibraryImport(Library)] internal static partial CUresult cuMemGetInfo_v2(nuint* free, nuint* total);
    [LibraryImport(Library)] internal static partial CUresult cuMemAlloc_v2(ulong* pointer, nuint bytes);
    [LibraryImport(Library)] internal static partial CUresult cuMemFree_v2(ulong pointer);
    [LibraryImport(Library)] internal static partial CUresult cuMemAllocHost_v2(void** pointer, nuint bytes);
    [LibraryImport(Library)] internal static partial CUresult cuMemFreeHost(void* pointer);
    [LibraryImport(Library)] internal static partial CUresult cuMemcpyHtoD_v2(ulong destination, void* source, nuint bytes);
    [LibraryImport(Library)] internal static partial CUresult cuMemcpyDtoH_v2(void* destination, ulong source, nuint bytes);
    [LibraryImport(Library)] internal static partial CUresult cuMemcpyDtoD_v2(ulong destination, ulong source, nuint bytes);
    [LibraryImport(Library)] internal static partial CUresult cuMemcpyHtoDAsync_v2(ulong destination, void* source, nuint bytes, nint stream);
    [LibraryImport(Library)] internal static partial CUresult cuMemcpyDtoHAsync_v2(void* destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(Library)] internal static partial CUresult cuMemcpyDtoDAsync_v2(ulong destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(Library)] internal static partial CUresult cuMemsetD8_v2(ulong destination, byte value, nuint count);
    [LibraryImport(Library)] internal static partial CUresult cuMemsetD32_v2(ulong destination, uint value, nuint count);

    // Stream management
    [LibraryImport(Library)] internal static partial CUresult cuStreamCreate(nint* stream, uint flags);
    [LibraryImport(Library)] internal static partial CUresult cuStreamDestroy_v2(nint stream);
    [LibraryImport(Library)] internal static partial CUresult cuStreamSynchronize(nint stream);

    // Event management
    [LibraryImport(Library)] internal static partial CUresult cuEventCreate(nint* evt, uint flags);
    [LibraryImport(Library)] internal static partial CUresult cuEventDestroy_v2(nint evt);
    [LibraryImport(Library)] internal static partial CUresult cuEventRecord(nint evt, nint stream);
    [LibraryImport(Library)] internal static partial CUresult cuEventSynchronize(nint evt);
    [LibraryImport(Library)] internal static partial CUresult cuEventElapsedTime(float* milliseconds, nint start, nint end);

    // Module management
    [LibraryImport(Library)] internal static partial CUresult cuModuleLoadData(nint* module, void* image);
    [LibraryImport(Library)] internal static partial CUresult cuModuleUnload(nint module);
    [LibraryImport(Library)] internal static partial CUresult cuModuleGetFunction(nint* function, nint module, byte* name);

    [LibraryImport(Library)] internal static partial CUresult cuFuncSetAttribute(nint function, int attribute, int value);
    [LibraryImport(Library)] internal static partial CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, nint function, int blockSize, nuint dynamicSharedBytes);
    [LibraryImport(Library)] internal static partial CUresult cuOccupancyMaxActiveClusters(int* numClusters, nint function, CUlaunchConfig* config);

    // Execution control. kernelParams: one pointer per kernel argument (ours: one, to the params struct).
    [LibraryImport(Library)]
    internal static partial CUresult cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemBytes, nint stream, void** kernelParams, void** extra);

    // Extensible launch (CUDA 12): the config names launch attributes, e.g. programmatic stream serialization (PDL).
    [LibraryImport(Library)] internal static partial CUresult cuLaunchKernelEx(CUlaunchConfig* config, nint function, void** kernelParams, void** extra);

    // Graph management (stream capture → instantiate → launch)
    [LibraryImport(Library)] internal static partial CUresult cuStreamBeginCapture_v2(nint stream, int mode);
    [LibraryImport(Library)] internal static partial CUresult cuStreamEndCapture(nint stream, nint* graph);
    [LibraryImport(Library)] internal static partial CUresult cuGraphInstantiateWithFlags(nint* graphExec, nint graph, ulong flags);
    [LibraryImport(Library)] internal static partial CUresult cuGraphLaunch(nint graphExec, nint stream);
    [LibraryImport(Library)] internal static partial CUresult cuGraphExecDestroy(nint graphExec);
    [LibraryImport(Library)] internal static partial CUresult cuGraphDestroy(nint graph);
    [LibraryImport(Library)] internal static partial CUresult cuStreamIsCapturing(nint stream, int* status);
}

/// <summary>cuda.h's CUlaunchConfig (56 bytes): grid, block, dynamic shared memory, stream, attributes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CUlaunchConfig
{
    public uint GridDimX, GridDimY, GridDimZ, BlockDimX, BlockDimY, BlockDimZ, SharedMemBytes;
    public nint HStream;
    public CUlaunchAttribute* Attrs;
    public uint NumAttrs;
}

/// <summary>cuda.h's CUlaunchAttribute (72 bytes): an id, 4 bytes of padding, a 64-byte value union (its first int here).</summary>
[StructLayout(LayoutKind.Explicit, Size = 72)]
internal struct CUlaunchAttribute
{
    /// <summary>CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION: value.programmaticStreamSerializationAllowed.</summary>
    public const int ProgrammaticStreamSerialization = 6;

    /// <summary>CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION: value.clusterDim {x, y, z} (CTAs per cluster in each dimension).</summary>
    public const int ClusterDimension = 4;

    [FieldOffset(0)] public int Id;
    [FieldOffset(8)] public int Value;
    [FieldOffset(8)] public uint ClusterX;
    [FieldOffset(12)] public uint ClusterY;
    [FieldOffset(16)] public uint ClusterZ;
}
