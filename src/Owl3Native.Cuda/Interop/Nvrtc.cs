using System.Runtime.InteropServices;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Interop;

/// <summary>NVRTC status codes (nvrtc.h).</summary>
internal enum NvrtcResult
{
    NVRTC_SUCCESS = 0,
    NVRTC_ERROR_OUT_OF_MEMORY = 1,
    NVRTC_ERROR_PROGRAM_CREATION_FAILURE = 2,
    NVRTC_ERROR_INVALID_INPUT = 3,
    NVRTC_ERROR_INVALID_PROGRAM = 4,
    NVRTC_ERROR_INVALID_OPTION = 5,
    NVRTC_ERROR_COMPILATION = 6,
    NVRTC_ERROR_BUILTIN_OPERATION_FAILURE = 7,
    NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION = 8,
    NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION = 9,
    NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID = 10,
    NVRTC_ERROR_INTERNAL_ERROR = 11,
}

/// <summary>Raw NVRTC entry points, exact C names (nvrtc.h). Strings are UTF-8 byte pointers.</summary>
internal static unsafe partial class Nvrtc
{
    internal const string Library = "nvrtc";

    static Nvrtc() => CudaLibraryImports.Register();

    [LibraryImport(Library)] internal static partial NvrtcResult nvrtcVersion(int* major, int* minor);
    [LibraryImport(Library)] internal static partial byte* nvrtcGetErrorString(NvrtcResult result);
    [LibraryImport(Library)] internal static partial NvrtcResult nvrtcCreateProgram(nint* prog, byte* src, byte* name, int numHeaders, byte** headers, byte** includeNames);
    [LibraryImport(Library)] internal static partial NvrtcResult nvrtcDestroyProgram(nint* prog);
    [LibraryImport(Library)] internal static partial NvrtcResult nvrtcCompileProgram(nint prog, int numOptions, byte** options);
    [LibraryImport(Library)] internal static partial NvrtcResult nvrtcGetProgramLogSize(nint prog, nuint* logSizeRet);
    [LibraryImport(Library)] internal static partial NvrtcResult nvrtcGetProgramLog(nint prog, byte* log);
    [LibraryImport(Library)] internal static partial NvrtcResult nvrtcGetPTXSize(nint prog, nuint* ptxSizeRet);
    [LibraryImport(Library)] internal static partial NvrtcResult nvrtcGetPTX(nint prog, byte* ptx);
    // CUBIN output (NVRTC ≥ 11.1): compiles to the exact SASS of --gpu-architecture=sm_XY without a GPU.
    [LibraryImport(Library)] internal static partial NvrtcResult nvrtcGetCUBINSize(nint prog, nuint* cubinSizeRet);
    [LibraryImport(Library)] internal static partial NvrtcResult nvrtcGetCUBIN(nint prog, byte* cubin);
}
