using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Model;

/// <summary>
/// One row's sampling settings for <see cref="DeviceSampler"/> (the CPU Sampler's arguments): temperature (0: greedy),
/// top-k (0: off), top-p (1: off), repetition penalty (1: off) over <paramref name="History"/> (the prompt and generated
/// ids; only read when the penalty is on), the Philox key, stream and step.
/// </summary>
public sealed record DeviceSampleRow(float Temperature, int TopK, float TopP, float Penalty, int[] History, ulong Seed, ulong Stream, int Step)
{
    /// <summary>A row whose token nobody reads: greedy, no history.</summary>
    public static DeviceSampleRow Unused { get; } = new(0f, 0, 1f, 1f, [], 0, 0, 0);
}

/// <summary>
/// Token choice on the device for the engine's steps (kernels/sampling.cu's sample_f32, token-exact with the CPU
/// Sampler): the logits stay on the device and only each row's token id comes back. Holds the sampler's scratch (u64
/// weights per logit, the rows' settings and histories), grown to the largest call seen.
/// </summary>
public sealed class DeviceSampler : IDisposable
{
    private readonly CudaContext _context;
    private DeviceBuffer<ulong>? _weights;
    private DeviceBuffer<int>? _ints;     // [offsets (rows + 1) | topK | step | ids | history]
    private DeviceBuffer<float>? _floats; // [temperature | topP | penalty | history scratch]
    private DeviceBuffer<ulong>? _longs;  // [seed | stream]
    private long _weightCap;
    private int _rowCap, _historyCap;

    /// <summary>A sampler on <paramref name="context"/>; nothing is allocated until the first call.</summary>
    public DeviceSampler(CudaContext context) => _context = context;

    /// <summary>
    /// Samples rows 0 .. rows.Count − 1 of the fp32 logits at <paramref name="logits"/> (row stride <paramref name="vocab"/>,
    /// modified in place) on <paramref name="s"/>, and returns each row's token (−1: every logit was −inf or NaN). Columns
    /// past the real vocabulary must hold −inf (they then never change a draw: their weights are 0 and their ids are last).
    /// </summary>
    /// <exception cref="ArgumentException">A vocab beyond 2^23, or a history id outside [0, vocab).</exception>
    public int[] Sample(ElementwiseKernels k, CudaStream s, ulong logits, int vocab, IReadOnlyList<DeviceSampleRow> rows)
    {
        int n = rows.Count;
        if (n == 0) return [];
        var (ints, floats, longs, history) = Layout(rows, vocab);
        Grow((long)n * vocab, n, history);
        // In the kernel's stream order (no context-wide wait); the previous call's ids were read after its synchronise.
        _ints!.CopyFromAsync(ints, s);
        _floats!.CopyFromAsync(floats, s);
        _longs!.CopyFromAsync(longs, s);
        ulong I(long at) => _ints.Pointer + (ulong)(at * sizeof(int));
        ulong F(long at) => _floats.Pointer + (ulong)(at * sizeof(float));
        k.Sample(s, new SampleParams
        {
            Logits = logits, Weights = _weights!.Pointer,
            PrevOffsets = I(0), TopK = I(n + 1), Step = I(n + 1 + n), Ids = I(n + 1 + 2 * n), PrevTokens = I((n + 1) + 3 * n),
            Temperature = F(0), TopP = F(n), Penalty = F(2 * n), PrevScratch = F(3 * n),
            Seed = _longs.Pointer, Stream = _longs.Pointer + (ulong)(n * sizeof(ulong)),
            Rows = n, Vocab = vocab,
        });
        s.Synchronize();
        var ids = new int[n];
        var all = new int[(n + 1) + 3 * n];
        _ints.CopyTo(all);
        Array.Copy(all, n + 1 + 2 * n, ids, 0, n);
        return ids;
    }

    /// <summary>
    /// The rows' settings as the three copies carry them. ints: offsets into the history `[n + 1]` | top-k `[n]` | step
    /// `[n]` | the kernel's ids `[n]` (zeros) | the histories of the rows with a repetition penalty, back to back; floats:
    /// temperature | top-p | penalty `[n]` each; u64: seed | stream `[n]` each. History: the history's total length.
    /// </summary>
    /// <exception cref="ArgumentException">A penalised row's history id outside [0, vocab).</exception>
    internal static (int[] Ints, float[] Floats, ulong[] Longs, int History) Layout(IReadOnlyList<DeviceSampleRow> rows, int vocab)
    {
        int n = rows.Count;
        var offsets = new int[n + 1];
        for (int r = 0; r < n; r++)
            offsets[r + 1] = offsets[r] + (rows[r].Penalty == 1f ? 0 : rows[r].History.Length); // read only for a penalty
        var ints = new int[(n + 1) + 3 * n + offsets[n]];
        var floats = new float[3 * n];
        var longs = new ulong[2 * n];
        offsets.CopyTo(ints, 0);
        for (int r = 0; r < n; r++)
        {
            var row = rows[r];
            ints[n + 1 + r] = row.TopK;
            ints[n + 1 + n + r] = row.Step;
            floats[r] = row.Temperature;
            floats[n + r] = row.TopP;
            floats[2 * n + r] = row.Penalty;
            longs[r] = row.Seed;
            longs[n + r] = row.Stream;
            if (row.Penalty == 1f) continue;
            foreach (int id in row.History)
                if ((uint)id >= (uint)vocab) throw new ArgumentException($"row {r}: history id {id} is outside the vocabulary [0, {vocab})");
            row.History.CopyTo(ints, (n + 1) + 3 * n + offsets[r]);
        }
        return (ints, floats, longs, offsets[n]);
    }

    private void Grow(long weights, int rows, int history)
    {
        if (weights > _weightCap)
        {
            _weights?.Dispose();
            (_weights, _weightCap) = (null, 0); // an allocation that fails leaves nothing that looks usable
            _weights = new DeviceBuffer<ulong>(_context, weights);
            _weightCap = weights;
        }
        if (rows > _rowCap || history > _historyCap)
        {
            int r = Math.Max(rows, _rowCap), h = Math.Max(history, _historyCap);
            _ints?.Dispose(); _floats?.Dispose(); _longs?.Dispose();
            (_ints, _floats, _longs, _rowCap, _historyCap) = (null, null, null, 0, 0);
            _ints = new DeviceBuffer<int>(_context, (r + 1) + 3L * r + Math.Max(1, h));
            _floats = new DeviceBuffer<float>(_context, 3L * r + Math.Max(1, h));
            _longs = new DeviceBuffer<ulong>(_context, 2L * r);
            (_rowCap, _historyCap) = (r, h);
        }
    }

    /// <summary>Frees the scratch.</summary>
    public void Dispose()
    {
        _weights?.Dispose();
        _ints?.Dispose();
        _floats?.Dispose();
        _longs?.Dispose();
    }
}
