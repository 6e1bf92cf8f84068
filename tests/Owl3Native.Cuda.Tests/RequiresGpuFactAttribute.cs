using Owl3Native.Cuda.Runtime;
using Xunit;

namespace Owl3Native.Cuda.Tests;

/// <summary>Needs a usable GPU: skipped with the reason (no driver / no device / unsupported arch) where there is none.</summary>
public sealed class RequiresGpuFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Reason = new(() =>
    {
        try
        {
            using var ctx = CudaContext.Open();
            return null;
        }
        catch (GpuUnavailableException e)
        {
            return e.Message;
        }
    });

    public RequiresGpuFactAttribute()
    {
        if (Reason.Value is { } why) Skip = why;
    }
}
