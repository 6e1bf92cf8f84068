using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Owl3Native.Cuda.Interop;

namespace Owl3Native.Cuda.Runtime;

/// <summary>The device ran out of memory: how much was asked for and how much is free.</summary>
public sealed class DeviceOutOfMemoryException(long requested, long free, long total)
    : Exception($"device out of memory: {requested:N0} bytes requested, {free:N0} of {total:N0} bytes free")
{
    /// <summary>Bytes the failed allocation asked for.</summary>
    public long Requested { get; } = requested;
    /// <summary>Bytes free on the device when the allocation failed (cuMemGetInfo).</summary>
    public long Free { get; } = free;
    /// <summary>The device's total memory (cuMemGetInfo).</summary>
    public long Total { get; } = total;
}

/// <summary>Check layer of the driver API: `Cu.Check(CuDriver.cuMemAlloc_v2(...))`.</summary>
internal static unsafe class Cu
{
    public static void Check(CUresult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result == CUresult.CUDA_SUCCESS) return;
        throw new CudaException(call, Name(result), Message(result));
    }

    public static string Name(CUresult result)
    {
        byte* p = null;
        return CuDriver.cuGetErrorName(result, &p) == CUresult.CUDA_SUCCESS && p != null ? Marshal.PtrToStringUTF8((nint)p)! : result.ToString();
    }

    public static string Message(CUresult result)
    {
        byte* p = null;
        return CuDriver.cuGetErrorString(result, &p) == CUresult.CUDA_SUCCESS && p != null ? Marshal.PtrToStringUTF8((nint)p)! : "(no message)";
    }
}
