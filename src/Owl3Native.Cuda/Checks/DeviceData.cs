using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Checks;

/// <summary>The conformance checks' shared plumbing: bf16 random inputs, uploads, NaN-poisoned outputs, the verdict.</summary>
public static class DeviceData
{
    /// <summary>Random values already rounded to bf16 (so CPU and GPU see identical inputs), uniform in offset ± scale.</summary>
    public static float[] RandomBf16(Random rng, int n, float scale = 1f, float offset = 0f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = BFloat16.ToSingle(BFloat16.FromSingle(offset + scale * (float)(rng.NextDouble() * 2 - 1)));
        return a;
    }

    /// <summary>Values as bf16 on the device (at least one element, so empty inputs still have an address).</summary>
    public static DeviceBuffer<ushort> Upload(CudaContext context, float[] values) => DeviceUpload.Bf16(context, values);

    /// <summary>An unmanaged array on the device (at least one element).</summary>
    public static DeviceBuffer<T> Upload<T>(CudaContext context, T[] values) where T : unmanaged => DeviceUpload.Of<T>(context, values);

    /// <summary>A bf16 buffer filled with NaN (0xFFFF): an output the kernel never writes shows up as NaN.</summary>
    public static DeviceBuffer<ushort> Poisoned(CudaContext context, long n)
    {
        var b = new DeviceBuffer<ushort>(context, Math.Max(1, n));
        b.FillBytes(0xFF);
        return b;
    }

    /// <summary>A bf16 buffer as floats.</summary>
    public static float[] Download(DeviceBuffer<ushort> buffer)
    {
        var bits = buffer.ToArray();
        var f = new float[bits.Length];
        BFloat16.ToSingle(bits, f);
        return f;
    }

    /// <summary>
    /// NMSE and max-abs of <paramref name="actual"/> against <paramref name="expected"/> (a NaN counts as an infinite
    /// error); passes when NMSE ≤ <paramref name="nmseBound"/> and, if given, max-abs ≤ <paramref name="maxAbsBound"/>.
    /// </summary>
    public static ConformanceResult Judge(string kernel, string shape, float[] actual, float[] expected, double nmseBound, double? maxAbsBound = null, double? gbs = null)
    {
        double err = 0, norm = 0, maxAbs = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            if (double.IsNaN(d)) d = double.PositiveInfinity;
            err += d * d;
            norm += (double)expected[i] * expected[i];
            maxAbs = Math.Max(maxAbs, Math.Abs(d));
        }
        double nmse = norm == 0 ? err : err / norm;
        return new ConformanceResult(kernel, shape, maxAbs, nmse, nmseBound, nmse <= nmseBound && (maxAbsBound is not { } m || maxAbs <= m), gbs);
    }

    /// <summary>
    /// Milliseconds per call of <paramref name="launch"/> when <paramref name="reps"/> calls are captured into one CUDA
    /// graph and replayed (one warm-up replay, then one timed): the device's time, free of the host's launch cost.
    /// </summary>
    public static float GraphTime(CudaStream stream, Action launch, int reps)
    {
        using var graph = stream.Capture(() => { for (int i = 0; i < reps; i++) launch(); });
        graph.Launch(stream);
        return stream.Time(() => graph.Launch(stream)) / reps;
    }

    /// <summary>
    /// n random bf16 values on the device, cheaply: a block of up to 2²⁰ random values uploaded once and tiled by
    /// device copies (for benchmarks of large operands, where only the bytes matter).
    /// </summary>
    public static DeviceBuffer<ushort> RandomTiled(CudaContext context, CudaStream stream, long n, int seed, float scale = 1f)
    {
        var b = new DeviceBuffer<ushort>(context, Math.Max(1, n));
        try
        {
            int chunk = (int)Math.Max(1, Math.Min(n, 1 << 20));
            using var src = Upload(context, RandomBf16(new Random(seed), chunk, scale));
            for (long at = 0; at < n; at += chunk)
                stream.Copy(b.Pointer + (ulong)(at * 2), src.Pointer, Math.Min(chunk, n - at) * 2);
            stream.Synchronize();
            return b;
        }
        catch
        {
            b.Dispose();
            throw;
        }
    }
}
