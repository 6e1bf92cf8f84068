using System.Numerics;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Benchmarks;

/// <summary>
/// Open + full read of a ≥ 1 GiB safetensors file through our memory-mapped reader, against a plain sequential
/// FileStream read of the same file, in the same run. Both fold every byte into a checksum so neither can skip work;
/// after the first pass both read from the page cache, so the comparison is of the read paths, not of the disk.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 3, iterationCount: 20)]
[MemoryDiagnoser]
public class CheckpointReadBench
{
    private const int Tensors = 64;
    private const long TensorBytes = 16L << 20; // 64 × 16 MiB = 1 GiB of bf16
    private string _path = "";

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), "owl3-bench-1gib.safetensors");
        if (File.Exists(_path) && new FileInfo(_path).Length > Tensors * TensorBytes) return;
        var writer = new SafeTensorWriter();
        for (int t = 0; t < Tensors; t++)
        {
            int seed = t;
            writer.Add($"layers.{t}.weight", DType.BF16, new Shape(TensorBytes / 2 / 4096, 4096), s =>
            {
                var chunk = new byte[1 << 20];
                new Random(seed).NextBytes(chunk);
                for (long w = 0; w < TensorBytes; w += chunk.Length) s.Write(chunk);
            });
        }
        writer.WriteTo(_path);
    }

    [Benchmark(Baseline = true, Description = "FileStream sequential read")]
    public ulong PlainRead()
    {
        using var fs = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var buffer = new byte[4 << 20];
        ulong acc = 0;
        int n;
        while ((n = fs.Read(buffer, 0, buffer.Length)) > 0) acc ^= Fold(buffer.AsSpan(0, n));
        return acc;
    }

    [Benchmark(Description = "SafeTensorFile open + read every tensor (mmap)")]
    public unsafe ulong MappedRead()
    {
        using var file = SafeTensorFile.Open(_path);
        ulong acc = 0;
        foreach (var name in file.Names)
        {
            var view = file.Get(name);
            byte* p = view.Pointer;
            for (long off = 0; off < view.ByteLength; off += 1 << 30)
                acc ^= Fold(new ReadOnlySpan<byte>(p + off, (int)Math.Min(1 << 30, view.ByteLength - off)));
        }
        return acc;
    }

    [GlobalCleanup]
    public void Cleanup() => File.Delete(_path);

    private static ulong Fold(ReadOnlySpan<byte> bytes)
    {
        var words = MemoryMarshal.Cast<byte, Vector<ulong>>(bytes);
        var acc = Vector<ulong>.Zero;
        foreach (var w in words) acc ^= w;
        ulong r = 0;
        for (int i = 0; i < Vector<ulong>.Count; i++) r ^= acc[i];
        for (int i = words.Length * Vector<byte>.Count; i < bytes.Length; i++) r ^= bytes[i];
        return r;
    }
}
