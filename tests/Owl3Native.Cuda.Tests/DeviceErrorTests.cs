using Owl3Native.Cuda.Runtime;
using Xunit;

namespace Owl3Native.Cuda.Tests;

public sealed class DeviceErrorTests
{
    [Fact]
    public void Out_of_memory_names_what_was_asked_what_was_free_and_the_devices_total()
    {
        var e = new DeviceOutOfMemoryException(requested: 3L << 30, free: 1L << 30, total: 80L << 30);
        Assert.Equal(3L << 30, e.Requested);
        Assert.Equal(1L << 30, e.Free);
        Assert.Equal(80L << 30, e.Total);
        Assert.Contains((3L << 30).ToString("N0"), e.Message);
        Assert.Contains((80L << 30).ToString("N0"), e.Message);
    }
}
