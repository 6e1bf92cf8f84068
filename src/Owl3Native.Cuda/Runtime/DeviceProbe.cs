using System.Runtime.InteropServices;

namespace Owl3Native.Cuda.Runtime;

/// <summary>What the driver says about this machine, gathered without creating a context.</summary>
public sealed record DeviceProbeResult(bool DriverFound, int? DriverVersion, int? InitStatus, int DeviceCount, string Summary, int? NvrtcMajor, int? NvrtcMinor);

/// <summary>
/// Asks the driver (cuInit, cuDriverGetVersion, cuDeviceGetCount) and NVRTC (nvrtcVersion) for their versions and
/// device count. Used by `owl3 doctor`; the typed bindings of the CUDA issue (#5) replace these direct exports.
/// </summary>
public static unsafe class DeviceProbe
{
    private const int CudaErrorNoDevice = 100;

    /// <summary>Probes the driver and NVRTC; never throws for a missing library or device.</summary>
    public static DeviceProbeResult Run()
    {
        int? nvMajor = null, nvMinor = null;
        var nvrtc = NativeLibraryResolver.Probe(CudaLibrary.Nvrtc);
        if (nvrtc.Found && NativeLibrary.TryGetExport(NativeLibraryResolver.Handle(CudaLibrary.Nvrtc), "nvrtcVersion", out var nvFn))
        {
            int major, minor;
            if (((delegate* unmanaged<int*, int*, int>)nvFn)(&major, &minor) == 0) { nvMajor = major; nvMinor = minor; }
        }

        var driver = NativeLibraryResolver.Probe(CudaLibrary.Driver);
        if (!driver.Found)
            return new DeviceProbeResult(false, null, null, 0, "no NVIDIA driver (libcuda.so.1 not found)", nvMajor, nvMinor);
        var h = NativeLibraryResolver.Handle(CudaLibrary.Driver);
        int version = 0, count = 0;
        if (NativeLibrary.TryGetExport(h, "cuDriverGetVersion", out var verFn))
            ((delegate* unmanaged<int*, int>)verFn)(&version);
        int status = NativeLibrary.TryGetExport(h, "cuInit", out var initFn) ? ((delegate* unmanaged<uint, int>)initFn)(0) : -1;
        if (status == 0 && NativeLibrary.TryGetExport(h, "cuDeviceGetCount", out var countFn))
            ((delegate* unmanaged<int*, int>)countFn)(&count);
        string summary = status switch
        {
            0 when count > 0 => $"{count} device(s), driver API {version / 1000}.{version % 1000 / 10}",
            0 => "driver initialised but reports no device",
            CudaErrorNoDevice => $"driver library present (API {version / 1000}.{version % 1000 / 10}) but no device (cuInit: CUDA_ERROR_NO_DEVICE)",
            _ => $"driver library present but cuInit failed with status {status}",
        };
        return new DeviceProbeResult(true, version == 0 ? null : version, status, count, summary, nvMajor, nvMinor);
    }
}
