using Owl3Native.Cuda.Runtime;
using Xunit;

namespace Owl3Native.Cuda.Tests;

public sealed class NativeLibraryResolverTests
{
    [Fact]
    public void Nvrtc_sonames_are_probed_newest_first()
    {
        Assert.Equal(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"], NativeLibraryResolver.Sonames(CudaLibrary.Nvrtc));
        Assert.Equal("libcuda.so.1", NativeLibraryResolver.Sonames(CudaLibrary.Driver)[0]);
    }

    [Fact]
    public void A_missing_library_lists_everything_tried()
    {
        var probe = NativeLibraryResolver.Probe(CudaLibrary.Driver);
        if (probe.Found) return; // a machine with a driver: nothing missing to report
        Assert.Contains("libcuda.so.1", probe.Tried);
        var e = Assert.Throws<DllNotFoundException>(() => NativeLibraryResolver.Handle(CudaLibrary.Driver));
        Assert.Contains("tried: libcuda.so.1", e.Message);
    }

    [Fact]
    public void Debian_nvrtc_is_found_when_installed()
    {
        bool installed = File.Exists("/usr/lib/x86_64-linux-gnu/libnvrtc.so.11.2");
        var probe = NativeLibraryResolver.Probe(CudaLibrary.Nvrtc);
        if (!installed)
        {
            // Not installed (not root): report what was tried instead of pretending.
            Assert.True(probe.Found || probe.Tried.Count >= 4, string.Join(", ", probe.Tried));
            return;
        }
        Assert.True(probe.Found, "libnvrtc.so.11.2 is installed but was not loaded; tried: " + string.Join(", ", probe.Tried));
        var result = DeviceProbe.Run();
        Assert.NotNull(result.NvrtcMajor);
        Assert.True(result.NvrtcMajor >= 11);
    }

    [Fact]
    public void Device_probe_never_throws_and_explains_a_missing_gpu()
    {
        var result = DeviceProbe.Run();
        if (result.DeviceCount > 0) return;
        Assert.False(string.IsNullOrWhiteSpace(result.Summary));
        Assert.Matches("no NVIDIA driver|no device|cuInit failed|reports no device", result.Summary);
    }
}
