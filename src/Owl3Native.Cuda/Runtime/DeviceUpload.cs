using Owl3Native.Core.Tensors;

namespace Owl3Native.Cuda.Runtime;

/// <summary>Host arrays onto the device in one step (a buffer of at least one element, so empty inputs still have an address).</summary>
public static class DeviceUpload
{
    /// <summary>fp32 values rounded to bf16 on the device.</summary>
    public static DeviceBuffer<ushort> Bf16(CudaContext context, ReadOnlySpan<float> values)
    {
        var bits = new ushort[values.Length];
        BFloat16.FromSingle(values, bits);
        return Of<ushort>(context, bits);
    }

    /// <summary><paramref name="first"/> then <paramref name="second"/> in one buffer, copied straight from each (no joined host copy).</summary>
    public static DeviceBuffer<T> Concat<T>(CudaContext context, ReadOnlySpan<T> first, ReadOnlySpan<T> second) where T : unmanaged
    {
        var buffer = new DeviceBuffer<T>(context, Math.Max(1, first.Length + second.Length));
        try
        {
            buffer.CopyFrom(first, 0);
            buffer.CopyFrom(second, first.Length);
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    /// <summary>An unmanaged array as it is.</summary>
    public static DeviceBuffer<T> Of<T>(CudaContext context, ReadOnlySpan<T> values) where T : unmanaged
    {
        var buffer = new DeviceBuffer<T>(context, Math.Max(1, values.Length));
        try
        {
            if (values.Length > 0) buffer.CopyFrom(values);
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }
}
