using Xunit;

namespace Owl3Native.Eval.Tests;

public sealed class PathsTests
{
    [Fact]
    public void Dataset_and_images_live_under_the_data_root()
    {
        var p = new EvalPaths("/data");
        Assert.Equal(Path.Combine("/data", "dataset"), p.Dataset);
        Assert.Equal(Path.Combine("/data", "images"), p.Images);
    }
}
