using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Owl3Native.Cuda.Interop;

namespace Owl3Native.Cuda.Runtime;

/// <summary>Check layer for NVRTC: a non-success status becomes a <see cref="CudaException"/> naming the call.</summary>
internal static unsafe class NvrtcCheck
{
    public static void Check(NvrtcResult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result == NvrtcResult.NVRTC_SUCCESS) return;
        string message = Marshal.PtrToStringUTF8((nint)Nvrtc.nvrtcGetErrorString(result)) ?? "(no message)";
        throw new CudaException(call, result.ToString(), message);
    }
}
