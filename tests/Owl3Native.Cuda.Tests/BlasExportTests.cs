using System.Runtime.InteropServices;
using Owl3Native.Cuda.Interop;
using Owl3Native.Cuda.Runtime;
using Xunit;

namespace Owl3Native.Cuda.Tests;

/// <summary>Every cuBLAS / cuBLASLt entry point the bindings use exists in the installed library (skipped where none is).</summary>
public sealed class BlasExportTests
{
    public static TheoryData<CudaLibrary> Libraries => new() { CudaLibrary.Cublas, CudaLibrary.CublasLt };

    [Theory]
    [MemberData(nameof(Libraries))]
    public void Entry_points_resolve_where_the_library_is_installed(CudaLibrary library)
    {
        var probe = NativeLibraryResolver.Probe(library);
        if (!probe.Found)
        {
            // Not installed here (CI installs neither cuBLAS nor a toolkit): nothing to resolve, and the probe says what it tried.
            Assert.NotEmpty(probe.Tried);
            return;
        }
        var handle = NativeLibraryResolver.Handle(library);
        var names = library == CudaLibrary.Cublas ? Cublas.EntryPoints : CublasLt.EntryPoints;
        var missing = names.Where(n => !NativeLibrary.TryGetExport(handle, n, out _)).ToArray();
        Assert.True(missing.Length == 0, $"{probe.LoadedFrom} lacks: {string.Join(", ", missing)}");
    }
}
