using Owl3Native.Cuda.Interop;

namespace Owl3Native.Cuda.Runtime;

/// <summary>What the driver says about this machine, gathered without creating a context.</summary>
public sealed record DeviceProbeResult(bool DriverFound, int? DriverVersion, int? InitStatus, int DeviceCount, string Summary, int? NvrtcMajor, int? NvrtcMinor);

/// <summary>
/// Asks the driver (cuInit, cuDriverGetVersion, cuDeviceGetCount) and NVRTC (nvrtcVersion) for their versions and
/// device count through the raw bindings, only after the resolver has found each library. Never throws for a missing
/// library or device: `owl3 doctor` and the GPU check report what is there.
/// </summary>
public static unsafe class DeviceProbe
{
    /// <summary>Probes the driver and NVRTC.</summary>
    public static DeviceProbeResult Run()
    {
        int? nvMajor = null, nvMinor = null;
        if (NativeLibraryResolver.Probe(CudaLibrary.Nvrtc).Found)
        {
            int major, minor;
            if (Nvrtc.nvrtcVersion(&major, &minor) == NvrtcResult.NVRTC_SUCCESS) { nvMajor = major; nvMinor = minor; }
        }
        if (!NativeLibraryResolver.Probe(CudaLibrary.Driver).Found)
            return new DeviceProbeResult(false, null, null, 0, "no NVIDIA driver (libcuda.so.1 not found)", nvMajor, nvMinor);
        int version = 0, count = 0;
        CuDriver.cuDriverGetVersion(&version);
        var status = CuDriver.cuInit(0);
        if (status == CUresult.CUDA_SUCCESS) CuDriver.cuDeviceGetCount(&count);
        string api = $"{version / 1000}.{version % 1000 / 10}";
        string summary = status switch
        {
            CUresult.CUDA_SUCCESS when count > 0 => $"{count} device(s), driver API {api}",
            CUresult.CUDA_SUCCESS => "driver initialised but reports no device",
            CUresult.CUDA_ERROR_NO_DEVICE => $"driver library present (API {api}) but no device (cuInit: CUDA_ERROR_NO_DEVICE)",
            _ => $"driver library present but cuInit failed with {status}",
        };
        return new DeviceProbeResult(true, version == 0 ? null : version, (int)status, count, summary, nvMajor, nvMinor);
    }
}
