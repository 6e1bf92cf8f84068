using System.Runtime.InteropServices;
using System.Text;
using Owl3Native.Cuda.Interop;

namespace Owl3Native.Cuda.Runtime;

/// <summary>
/// One GPU and its primary context (Own + Idiomatic layers). Every object made from it (buffers, streams, modules)
/// holds a reference to it, so the context outlives them; calls make it current on the calling thread first.
/// </summary>
public sealed unsafe class CudaContext : IDisposable
{
    private nint _context;
    private int _disposed;

    private CudaContext(int ordinal, nint context, string name, int major, int minor, long totalBytes, int multiprocessors, int driverVersion)
    {
        DriverVersion = driverVersion;
        Ordinal = ordinal;
        _context = context;
        Name = name;
        ComputeMajor = major;
        ComputeMinor = minor;
        TotalBytes = totalBytes;
        Multiprocessors = multiprocessors;
    }

    /// <summary>CUDA device ordinal this context was opened on (0-based, as <c>CUDA_VISIBLE_DEVICES</c> exposes them).</summary>
    public int Ordinal { get; }
    /// <summary>The device's marketing name from cuDeviceGetName, e.g. <c>NVIDIA H100 80GB HBM3</c>.</summary>
    public string Name { get; }
    /// <summary>Compute capability major version (8 for Ampere, 9 for Hopper); always ≥ 8.</summary>
    public int ComputeMajor { get; }
    /// <summary>Compute capability minor version.</summary>
    public int ComputeMinor { get; }
    /// <summary>Total device memory in bytes (cuDeviceTotalMem).</summary>
    public long TotalBytes { get; }
    /// <summary>Streaming multiprocessors on the device; sizes grids and the decode split-K plan.</summary>
    public int Multiprocessors { get; }

    /// <summary>The driver's CUDA API version (cuDriverGetVersion: 12030 = 12.3).</summary>
    public int DriverVersion { get; }

    /// <summary>
    /// Programmatic dependent launch works here: an sm_90+ device, and a driver of CUDA 12.3 or later (cuLaunchKernelEx
    /// came with 12.0, programmatic edges in captured CUDA graphs with 12.3). Otherwise launches asked to be programmatic
    /// are plain ones.
    /// </summary>
    public bool SupportsProgrammaticLaunch => ComputeMajor >= 9 && DriverVersion >= 12030;

    /// <summary>
    /// Thread-block clusters can be launched here (cuLaunchKernelEx with a cluster dimension): an sm_90+ device and a
    /// driver of CUDA 12.0 or later.
    /// </summary>
    public bool SupportsClusterLaunch => ComputeMajor >= 9 && DriverVersion >= 12000;

    /// <summary>`sm_XY` of the device: what NVRTC compiles kernels for.</summary>
    public string Arch => $"sm_{ComputeMajor}{ComputeMinor}";

    /// <summary>Opens device <paramref name="ordinal"/>.</summary>
    /// <exception cref="GpuUnavailableException">No driver, no device, or an architecture older than sm_80.</exception>
    public static CudaContext Open(int ordinal = 0)
    {
        var driver = NativeLibraryResolver.Probe(CudaLibrary.Driver);
        if (!driver.Found) throw new GpuUnavailableException("no NVIDIA driver (libcuda.so.1 not found)");
        var init = CuDriver.cuInit(0);
        if (init == CUresult.CUDA_ERROR_NO_DEVICE) throw new GpuUnavailableException("the driver reports no CUDA device (CUDA_ERROR_NO_DEVICE)");
        if (init != CUresult.CUDA_SUCCESS) throw new GpuUnavailableException($"cuInit failed: {Cu.Name(init)}: {Cu.Message(init)}");
        int count;
        Cu.Check(CuDriver.cuDeviceGetCount(&count));
        if (ordinal < 0 || ordinal >= count) throw new GpuUnavailableException($"device {ordinal} requested, {count} present");
        int device, major, minor, sms;
        Cu.Check(CuDriver.cuDeviceGet(&device, ordinal));
        Cu.Check(CuDriver.cuDeviceGetAttribute(&major, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device));
        Cu.Check(CuDriver.cuDeviceGetAttribute(&minor, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device));
        Cu.Check(CuDriver.cuDeviceGetAttribute(&sms, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device));
        if (major < 8) throw new GpuUnavailableException($"device {ordinal} is sm_{major}{minor}; Owl3Native's bf16 kernels need sm_80 or newer");
        var name = new byte[256];
        fixed (byte* p = name) Cu.Check(CuDriver.cuDeviceGetName(p, name.Length, device));
        nuint total;
        Cu.Check(CuDriver.cuDeviceTotalMem_v2(&total, device));
        nint ctx;
        Cu.Check(CuDriver.cuDevicePrimaryCtxRetain(&ctx, device));
        int driverVersion;
        try
        {
            Cu.Check(CuDriver.cuCtxSetCurrent(ctx));
            Cu.Check(CuDriver.cuDriverGetVersion(&driverVersion));
        }
        catch
        {
            CuDriver.cuDevicePrimaryCtxRelease_v2(device); // the retain above is not kept by anything
            throw;
        }
        return new CudaContext(device, ctx, Encoding.UTF8.GetString(name).TrimEnd('\0'), major, minor, (long)total, sms, driverVersion);
    }

    /// <summary>Makes the context current on this thread (finalizer and pool threads have none).</summary>
    public void MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        Cu.Check(CuDriver.cuCtxSetCurrent(_context));
    }

    /// <summary>Free and total device memory now.</summary>
    public (long Free, long Total) MemoryInfo()
    {
        MakeCurrent();
        nuint free, total;
        Cu.Check(CuDriver.cuMemGetInfo_v2(&free, &total));
        return ((long)free, (long)total);
    }

    /// <summary>Waits for all work of the context.</summary>
    public void Synchronize()
    {
        MakeCurrent();
        Cu.Check(CuDriver.cuCtxSynchronize());
    }

    /// <summary>Releases the primary context. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        CuDriver.cuDevicePrimaryCtxRelease_v2(Ordinal);
        _context = 0;
    }
}
