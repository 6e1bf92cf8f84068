using Owl3Native.Core.Backend;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Checks;
using Owl3Native.Cuda.Kernels;

namespace Owl3Native.Cuda.Tests.Attention;

/// <summary>One visible key of a (row, head): its K and V rows as offsets into their arrays.</summary>
internal readonly record struct KeyRow(float[] K, int KOffset, float[] V, int VOffset);

/// <summary>
/// The exact (fp64) result; the same-precision one (P rounded to bf16, output rounded to bf16); the same before its
/// output rounding; and the plain fp32 one (P kept in fp32, output not rounded: decode's precision policy).
/// </summary>
internal sealed record ReferenceResults(double[] Exact, float[] Lowp, float[] Lowp32, float[] Fp32);

/// <summary>
/// The two references of FlashAttention's error rule, over the same bf16 inputs: the exact result (fp64 throughout) and
/// the same-precision naive one (fp32 scores and softmax, the normalised P rounded to bf16 before P·V, fp32 P·V, output
/// rounded to bf16). A tiled kernel is right when its error against the exact result is at most a small multiple of
/// the same-precision result's.
/// </summary>
internal static class AttentionReference
{
    public static ReferenceResults Compute(float[] q, int rows, int heads, int headDim, Func<int, int, List<KeyRow>> keysOf)
    {
        int width = heads * headDim;
        var exact = new double[rows * width];
        var lowp = new float[rows * width];
        var lowp32 = new float[rows * width];
        var fp32 = new float[rows * width];
        double scale = 1 / Math.Sqrt(headDim);
        float scaleF = 1f / MathF.Sqrt(headDim);
        var acc = new double[headDim];
        var accF = new float[headDim];
        var accP = new float[headDim];
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
            {
                var keys = keysOf(r, h);
                if (keys.Count == 0) continue; // nothing visible: zeros
                int qo = r * width + h * headDim;
                var s = new double[keys.Count];
                var sF = new float[keys.Count];
                for (int j = 0; j < keys.Count; j++)
                {
                    double dot = 0;
                    float dotF = 0;
                    for (int e = 0; e < headDim; e++)
                    {
                        dot += (double)q[qo + e] * keys[j].K[keys[j].KOffset + e];
                        dotF += q[qo + e] * keys[j].K[keys[j].KOffset + e];
                    }
                    s[j] = dot * scale;
                    sF[j] = dotF * scaleF;
                }
                double max = s.Max(), sum = 0;
                float maxF = sF.Max(), sumF = 0;
                for (int j = 0; j < keys.Count; j++)
                {
                    sum += s[j] = Math.Exp(s[j] - max);
                    sumF += sF[j] = MathF.Exp(sF[j] - maxF);
                }
                Array.Clear(acc);
                Array.Clear(accF);
                Array.Clear(accP);
                for (int j = 0; j < keys.Count; j++)
                {
                    double pj = s[j] / sum;
                    float pj32 = sF[j] / sumF, pjF = KernelMath.Bf16(pj32);
                    for (int e = 0; e < headDim; e++)
                    {
                        float v = keys[j].V[keys[j].VOffset + e];
                        acc[e] += pj * v;
                        accF[e] += pjF * v;
                        accP[e] += pj32 * v;
                    }
                }
                for (int e = 0; e < headDim; e++)
                {
                    exact[qo + e] = acc[e];
                    lowp32[qo + e] = accF[e];
                    fp32[qo + e] = accP[e];
                    lowp[qo + e] = KernelMath.Bf16(accF[e]);
                }
            }
        return new ReferenceResults(exact, lowp, lowp32, fp32);
    }
}

/// <summary>
/// A paged attention case built as src/Owl3Native.Cuda/Checks/AttentionConformance.cs builds its GPU cases: scattered
/// block tables over twice the blocks needed, every sequence's cached + new tokens written once (the CPU twin's cache
/// through WriteKv, the models' cache by slot into a NaN-filled copy), images with VisibleFrom in marker order, a step
/// batch of the new rows with CachedLength, visual visibility VisibleCrops(t)·TokensPerCrop. All inputs are bf16 values.
/// Crops no query of the step can see are NaN (nobody may read them), as are the cache slots no table points at.
/// </summary>
internal sealed class PagedCase
{
    private readonly float[] _kAll, _vAll;
    private readonly int[] _tokenStart; // first row of each sequence in _kAll/_vAll
    private readonly int[][] _tables;
    private readonly int _numBlocks;

    public PagedCase(AttentionMode mode, int heads, int kvHeads, int headDim, int blockSize, int seed, IReadOnlyList<AttentionSeqSpec> seqs)
    {
        (Mode, Heads, KvHeads, HeadDim, BlockSize, Seqs) = (mode, heads, kvHeads, headDim, blockSize, seqs);
        var rng = new Random(seed);
        int stride = kvHeads * headDim, seqCount = seqs.Count;
        MaxBlocks = seqs.Max(s => (s.Cached + s.New + blockSize - 1) / blockSize);
        int usedBlocks = seqs.Sum(s => (s.Cached + s.New + blockSize - 1) / blockSize);
        _numBlocks = usedBlocks * 2 + 3;
        var perm = Enumerable.Range(0, _numBlocks).OrderBy(_ => rng.Next()).ToArray();
        _tables = new int[seqCount][];
        for (int s = 0, next = 0; s < seqCount; s++)
        {
            _tables[s] = new int[(seqs[s].Cached + seqs[s].New + blockSize - 1) / blockSize];
            for (int b = 0; b < _tables[s].Length; b++) _tables[s][b] = perm[next++];
        }
        FlatTables = new int[seqCount * MaxBlocks];
        Array.Fill(FlatTables, -1); // entries past a sequence's blocks are never looked up
        for (int s = 0; s < seqCount; s++) _tables[s].CopyTo(FlatTables, s * MaxBlocks);

        int allTokens = seqs.Sum(s => s.Cached + s.New);
        _kAll = RandomBf16(rng, allTokens * stride);
        _vAll = RandomBf16(rng, allTokens * stride);
        _tokenStart = new int[seqCount];
        for (int s = 1; s < seqCount; s++) _tokenStart[s] = _tokenStart[s - 1] + seqs[s - 1].Cached + seqs[s - 1].New;

        Visual = new VisualKv?[seqCount];
        for (int s = 0; s < seqCount; s++)
            if (seqs[s].Crops > 0)
            {
                int tpc = seqs[s].TokensPerCrop, n = seqs[s].Crops * tpc;
                float[] k = RandomBf16(rng, kvHeads * n * headDim), v = RandomBf16(rng, kvHeads * n * headDim);
                int lastPos = seqs[s].Cached + seqs[s].New - 1;
                for (int c = 0; c < seqs[s].Crops; c++)
                    if (seqs[s].VisibleFrom![c] > lastPos)
                        for (int g = 0; g < kvHeads; g++)
                        {
                            k.AsSpan((g * n + c * tpc) * headDim, tpc * headDim).Fill(float.NaN);
                            v.AsSpan((g * n + c * tpc) * headDim, tpc * headDim).Fill(float.NaN);
                        }
                Visual[s] = new VisualKv(new Tensor(k, kvHeads * n, headDim), new Tensor(v, kvHeads * n, headDim), tpc, seqs[s].VisibleFrom!);
            }

        // The models' cache: NaN everywhere, the sequences' tokens in their slots.
        KCache = new float[_numBlocks * blockSize * stride];
        VCache = new float[KCache.Length];
        Array.Fill(KCache, float.NaN);
        Array.Fill(VCache, float.NaN);
        for (int s = 0; s < seqCount; s++)
            for (int i = 0; i < seqs[s].Cached + seqs[s].New; i++)
            {
                int slot = _tables[s][i / blockSize] * blockSize + i % blockSize;
                _kAll.AsSpan((_tokenStart[s] + i) * stride, stride).CopyTo(KCache.AsSpan(slot * stride, stride));
                _vAll.AsSpan((_tokenStart[s] + i) * stride, stride).CopyTo(VCache.AsSpan(slot * stride, stride));
            }

        Rows = seqs.Sum(s => s.New);
        Q = RandomBf16(rng, Rows * heads * headDim);
        RowSeq = new int[Rows];
        RowVis = new int[Rows];
        RowText = new int[Rows];
        for (int s = 0, row = 0; s < seqCount; s++)
            for (int i = 0; i < seqs[s].New; i++, row++)
            {
                int t = seqs[s].Cached + i;
                RowSeq[row] = s;
                RowVis[row] = Visual[s] is { } vk ? vk.VisibleCrops(t) * vk.TokensPerCrop : 0;
                RowText[row] = mode == AttentionMode.Fused ? t + 1 : 0;
            }
    }

    public AttentionMode Mode { get; }
    public int Heads { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public int BlockSize { get; }
    public IReadOnlyList<AttentionSeqSpec> Seqs { get; }
    public int MaxBlocks { get; }
    public int[] FlatTables { get; }
    public VisualKv?[] Visual { get; }
    public float[] KCache { get; }
    public float[] VCache { get; }
    public float[] Q { get; }
    public int Rows { get; }
    /// <summary>Per step row: its sequence, visible visual keys, and text keys (t + 1 causal, 0 cross).</summary>
    public int[] RowSeq { get; }
    public int[] RowVis { get; }
    public int[] RowText { get; }

    /// <summary>The CPU twin: PagedAttention(fusedVisual: true) or CrossAttention on a CPU cache filled by WriteKv.</summary>
    public float[] Cpu(CpuBackend cpu)
    {
        int stride = KvHeads * HeadDim, allTokens = _kAll.Length / stride;
        using var cache = cpu.CreateKvCache(1, _numBlocks, BlockSize, KvHeads, HeadDim);
        var writeSeqs = new List<AttentionSequence>();
        for (int s = 0; s < Seqs.Count; s++)
            writeSeqs.Add(new AttentionSequence(_tokenStart[s], Seqs[s].Cached + Seqs[s].New, 0, _tables[s], [Visual[s]]));
        cpu.WriteKv(new AttentionBatch(writeSeqs, cache), 0, new Tensor(_kAll, allTokens, stride), new Tensor(_vAll, allTokens, stride));
        var stepSeqs = new List<AttentionSequence>();
        for (int s = 0, row = 0; s < Seqs.Count; s++)
        {
            stepSeqs.Add(new AttentionSequence(row, Seqs[s].New, Seqs[s].Cached, _tables[s], [Visual[s]]));
            row += Seqs[s].New;
        }
        var step = new AttentionBatch(stepSeqs, cache);
        var qt = new Tensor(Q, Rows, Heads * HeadDim);
        var y = Mode == AttentionMode.Fused ? cpu.PagedAttention(qt, step, 0, Heads, fusedVisual: true) : cpu.CrossAttention(qt, step, 0, Heads, new int[Rows]);
        return y.Data;
    }

    /// <summary>Exact and same-precision references over each row's visible keys: [visual 0..vis ; text 0..text).</summary>
    public ReferenceResults References() =>
        AttentionReference.Compute(Q, Rows, Heads, HeadDim, (r, h) =>
        {
            int s = RowSeq[r], kvh = h / (Heads / KvHeads), stride = KvHeads * HeadDim;
            var keys = new List<KeyRow>(RowVis[r] + RowText[r]);
            if (Visual[s] is { } vk)
                for (int u = 0; u < RowVis[r]; u++)
                {
                    int off = (kvh * vk.ImageTokens + u) * HeadDim;
                    keys.Add(new KeyRow(vk.Keys.Data, off, vk.Values.Data, off));
                }
            for (int j = 0; j < RowText[r]; j++)
            {
                int off = (_tokenStart[s] + j) * stride + kvh * HeadDim;
                keys.Add(new KeyRow(_kAll, off, _vAll, off));
            }
            return keys;
        });

    /// <summary>The prefill launch of this step (text_mode 1 fused, 0 cross), as AttentionConformance.Case sets it.</summary>
    public PrefillModelParams Prefill()
    {
        var qStart = new int[Seqs.Count + 1];
        for (int s = 0; s < Seqs.Count; s++) qStart[s + 1] = qStart[s] + Seqs[s].New;
        return new PrefillModelParams
        {
            Q = Q, K = KCache, V = VCache, BlockTables = FlatTables, SeqQStart = qStart, SeqPos = Seqs.Select(s => s.Cached).ToArray(),
            VisLens = RowVis, VisK = Visual.Select(v => v?.Keys.Data).ToArray(), VisV = Visual.Select(v => v?.Values.Data).ToArray(),
            VisTokens = Visual.Select(v => v?.ImageTokens ?? 0).ToArray(), Heads = Heads, KvHeads = KvHeads, HeadDim = HeadDim,
            BlockSize = BlockSize, MaxBlocks = MaxBlocks, TextMode = Mode == AttentionMode.Cross ? 0 : 1,
            QStride = Heads * HeadDim, OStride = Heads * HeadDim, KvStride = KvHeads * HeadDim, ScaleLog2 = KernelMath.ScaleLog2(HeadDim),
        };
    }

    /// <summary>The decode launch of this step (one new token per sequence), split as DecodeSplits plans it.</summary>
    public DecodeModelParams Decode(int multiprocessors)
    {
        if (Seqs.Any(s => s.New != 1)) throw new ArgumentException("decode cases have one new token per sequence");
        int maxKeys = Enumerable.Range(0, Rows).Max(r => RowVis[r] + RowText[r]);
        var (splitKeys, splits) = AttentionKernels.DecodeSplits(maxKeys, Seqs.Count, KvHeads, multiprocessors);
        return new DecodeModelParams
        {
            Q = Q, KCache = KCache, VCache = VCache, BlockTables = FlatTables, TextLens = RowText, VisLens = RowVis,
            VisK = Visual.Select(v => v?.Keys.Data).ToArray(), VisV = Visual.Select(v => v?.Values.Data).ToArray(),
            VisTokens = Visual.Select(v => v?.ImageTokens ?? 0).ToArray(), Seqs = Seqs.Count, Heads = Heads, KvHeads = KvHeads,
            HeadDim = HeadDim, BlockSize = BlockSize, MaxBlocks = MaxBlocks, Splits = splits, SplitKeys = splitKeys,
            QStride = Heads * HeadDim, OStride = Heads * HeadDim, ScaleLog2 = KernelMath.ScaleLog2(HeadDim),
        };
    }

    public static float[] RandomBf16(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = KernelMath.Bf16((float)(rng.NextDouble() * 2 - 1));
        return a;
    }
}

/// <summary>SigLIP-style attention: groups of `length` rows attend within the group, no mask, dense K/V (as AttentionConformance.Dense).</summary>
internal sealed class DenseCase
{
    public DenseCase(int groups, int length, int heads, int headDim, int seed)
    {
        (Groups, Length, Heads, HeadDim) = (groups, length, heads, headDim);
        var rng = new Random(seed);
        int n = groups * length * heads * headDim;
        Q = PagedCase.RandomBf16(rng, n);
        K = PagedCase.RandomBf16(rng, n);
        V = PagedCase.RandomBf16(rng, n);
    }

    public int Groups { get; }
    public int Length { get; }
    public int Heads { get; }
    public int HeadDim { get; }
    public float[] Q { get; }
    public float[] K { get; }
    public float[] V { get; }
    public int Rows => Groups * Length;

    public float[] Cpu(CpuBackend cpu)
    {
        int width = Heads * HeadDim;
        return cpu.DenseAttention(new Tensor(Q, Rows, width), new Tensor(K, Rows, width), new Tensor(V, Rows, width), Length, Heads, HeadDim).Data;
    }

    public ReferenceResults References() =>
        AttentionReference.Compute(Q, Rows, Heads, HeadDim, (r, h) =>
        {
            int g = r / Length, width = Heads * HeadDim;
            var keys = new List<KeyRow>(Length);
            for (int j = 0; j < Length; j++)
            {
                int off = (g * Length + j) * width + h * HeadDim;
                keys.Add(new KeyRow(K, off, V, off));
            }
            return keys;
        });

    /// <summary>The launch AttentionConformance.DenseParams builds: dense rows, KvHeads = Heads, text_mode 2.</summary>
    public PrefillModelParams Prefill()
    {
        var qStart = Enumerable.Range(0, Groups + 1).Select(g => g * Length).ToArray();
        return new PrefillModelParams
        {
            Q = Q, K = K, V = V, SeqQStart = qStart, SeqKStart = qStart[..Groups], SeqPos = new int[Groups],
            Heads = Heads, KvHeads = Heads, HeadDim = HeadDim, BlockSize = 1, TextMode = 2,
            QStride = Heads * HeadDim, OStride = Heads * HeadDim, KvStride = Heads * HeadDim, ScaleLog2 = KernelMath.ScaleLog2(HeadDim),
        };
    }
}
