using Owl3Native.Models.Checkpoints;

namespace Owl3Native.Tests.Diagnostics;

/// <summary>A tiny random checkpoint in the real format, written to a temp folder for one test and removed after.</summary>
internal static class TinyCheckpoint
{
    public static void With(Owl3Variant variant, ulong seed, Action<Owl3Checkpoint> body)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"owl3-tiny-{variant}-{Guid.NewGuid():N}");
        try
        {
            CheckpointMaker.Write(dir, new MakeTinyOptions(variant, ModelShape.Tiny, Seed: seed));
            using var ckpt = Owl3Checkpoint.Open(dir);
            body(ckpt);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A tensor's bf16 bits as stored (the released format is bf16: anything else fails the test).</summary>
    public static ushort[] Raw(Owl3Checkpoint ckpt, string name)
    {
        var view = ckpt.Weights.Get(name);
        Xunit.Assert.Equal(Owl3Native.Core.Tensors.DType.BF16, view.DType);
        return view.AsSpan<ushort>().ToArray();
    }
}
