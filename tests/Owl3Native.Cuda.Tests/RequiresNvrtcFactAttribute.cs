using Owl3Native.Cuda.Runtime;
using Xunit;

namespace Owl3Native.Cuda.Tests;

/// <summary>Needs NVRTC (Debian's libnvrtc11.2 or a toolkit; no GPU): skipped with the reason where it is absent.</summary>
public sealed class RequiresNvrtcFactAttribute : FactAttribute
{
    public RequiresNvrtcFactAttribute()
    {
        var probe = NativeLibraryResolver.Probe(CudaLibrary.Nvrtc);
        if (!probe.Found) Skip = $"NVRTC not installed (apt-get install libnvrtc11.2 from Debian non-free; scripts/test.sh does this as root); tried {probe.Tried.Count} paths";
    }
}
