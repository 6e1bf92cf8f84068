using System.Reflection;
using System.Runtime.InteropServices;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Interop;

/// <summary>
/// Routes the logical library names of the raw bindings ("cuda", "nvrtc", "cublas", "cublasLt") to the handles that
/// <see cref="NativeLibraryResolver"/> found. Registered once, by the static constructors of the raw classes.
/// </summary>
internal static class CudaLibraryImports
{
    private static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) != 0) return;
        NativeLibrary.SetDllImportResolver(typeof(CudaLibraryImports).Assembly, Resolve);
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path) => name switch
    {
        Nvrtc.Library => NativeLibraryResolver.Handle(CudaLibrary.Nvrtc),
        "cuda" => NativeLibraryResolver.Handle(CudaLibrary.Driver),
        "cublas" => NativeLibraryResolver.Handle(CudaLibrary.Cublas),
        "cublasLt" => NativeLibraryResolver.Handle(CudaLibrary.CublasLt),
        _ => nint.Zero,
    };
}
