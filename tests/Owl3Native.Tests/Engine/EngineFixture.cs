using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Engine;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Owl3;
using Owl3Native.TestKit;

namespace Owl3Native.Tests.Engine;

/// <summary>Random tiny checkpoints of every variant, opened once per test class.</summary>
public sealed class EngineFixture : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Dictionary<Owl3Variant, Owl3Checkpoint> _checkpoints = [];

    public EngineFixture()
    {
        foreach (var v in Enum.GetValues<Owl3Variant>())
        {
            string d = Path.Combine(_dir.Path, v.Tag());
            CheckpointMaker.Write(d, new MakeTinyOptions(v, Seed: 42));
            _checkpoints[v] = Owl3Checkpoint.Open(d);
        }
    }

    public Owl3Checkpoint Checkpoint(Owl3Variant v) => _checkpoints[v];

    public Owl3Model Model(Owl3Variant v, int threads = 2) => new(_checkpoints[v], new CpuBackend(threads));

    public static Tensor Pixels(Owl3Model model, int crops, int seed)
    {
        int s = model.Config.Vision.ImageSize;
        var rng = new Random(seed);
        var t = new Tensor(crops, 3, s, s);
        for (int i = 0; i < t.Length; i++) t.Data[i] = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }

    public static int[] Prompt(int length, int seed, int vocab = 256)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => rng.Next(1, vocab)).ToArray();
    }

    public void Dispose()
    {
        foreach (var c in _checkpoints.Values) c.Dispose();
        _dir.Dispose();
    }
}
