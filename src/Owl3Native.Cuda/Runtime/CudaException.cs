namespace Owl3Native.Cuda.Runtime;

/// <summary>A CUDA driver, NVRTC or cuBLAS call failed: names the call, the status and the library's message.</summary>
public class CudaException(string call, string status, string message, Exception? inner = null)
    : Exception($"{call} failed: {status}: {message}", inner)
{
    /// <summary>The failing call as written at the call site.</summary>
    public string Call { get; } = call;
    /// <summary>The status enum name (`CUDA_ERROR_OUT_OF_MEMORY`, `NVRTC_ERROR_COMPILATION`).</summary>
    public string Status { get; } = status;
}

/// <summary>A kernel did not compile: carries the kernel file, the options and NVRTC's program log.</summary>
public sealed class KernelCompileException(string file, string options, string log)
    : CudaException($"nvrtcCompileProgram({file})", "NVRTC_ERROR_COMPILATION", $"{file} with [{options}]:\n{log}")
{
    /// <summary>The kernel source file.</summary>
    public string File { get; } = file;
    /// <summary>NVRTC's log.</summary>
    public string Log { get; } = log;
}

/// <summary>No usable GPU: says why (no driver, no device, unsupported architecture).</summary>
public sealed class GpuUnavailableException(string reason) : Exception($"no usable GPU: {reason}")
{
    /// <summary>Why.</summary>
    public string Reason { get; } = reason;
}
