using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Kernels;
using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Checks;

/// <summary>One kernel against its CPU twin on fresh random inputs (outputs poisoned with NaN before the launch).</summary>
public sealed record ConformanceResult(string Kernel, string Shape, double MaxAbs, double Nmse, double Bound, bool Pass, double? GbPerSecond = null);

/// <summary>
/// Runs each kernel family on the GPU and the same op on <see cref="CpuBackend"/> (fp32 on the bf16-rounded inputs),
/// judging bf16 outputs by NMSE ≤ 1e-5 and argmax exactly. Used by the GPU conformance tests and `gpu-check`.
/// </summary>
public sealed class KernelConformance(CudaContext context, KernelCache cache)
{
    private const double Bf16Nmse = 1e-5;
    private readonly CpuBackend _cpu = new(1);
    private readonly NormKernels _norm = new(cache);
    private readonly ElementwiseKernels _ew = new(cache, context);
    private readonly AttentionKernels _attn = new(cache);
    private readonly GemvKernels _gemv = new(cache);

    /// <summary>
    /// Every check below at shapes from the real configs (Qwen2 896/3584 hidden, SigLIP 1152, a 151851-row vocabulary),
    /// one result each; the cuBLAS check runs only when libcublas can be loaded.
    /// </summary>
    /// <param name="seed">Base seed; each check adds its own offset, so the checks draw different inputs.</param>
    /// <exception cref="CudaException">A driver, NVRTC or cuBLAS call failed.</exception>
    public IReadOnlyList<ConformanceResult> RunAll(int seed = 1) =>
    [
        .. NativeLibraryResolver.Probe(CudaLibrary.Cublas).Found
            ? new[] { CublasLinear(rows: 17, inF: 896, outF: 4864, seed + 7), CublasLtLinearBias(rows: 1, inF: 896, outF: 1152, seed + 8),
                      CublasLtLinearBias(rows: 17, inF: 896, outF: 256, seed + 9) }
            : [],
        RmsNorm(rows: 7, hidden: 896, seed),
        RmsNorm(rows: 64, hidden: 3584, seed + 1),
        LayerNorm(rows: 9, hidden: 1152, seed + 2),
        SwiGlu(rows: 5, intermediate: 4864, seed + 3),
        GeluTanh(rows: 3, cols: 4304, seed + 4),
        Rope(tokens: 11, heads: 14, headDim: 64, seed + 5),
        KvWriteRotatesQueries(tokens: 11, heads: 14, kvHeads: 2, headDim: 64, seed + 15),
        Gemv(rows: 1, inF: 896, outF: 1152, bias: true, swiglu: false, seed + 16),
        Gemv(rows: 8, inF: 896, outF: 9728, bias: false, swiglu: false, seed + 17),
        Gemv(rows: 3, inF: 896, outF: 9728, bias: false, swiglu: true, seed + 18),
        Gemv(rows: 5, inF: 3584, outF: 517, bias: true, swiglu: false, seed + 19),
        Gemv(rows: 2, inF: 4864, outF: 896, bias: false, swiglu: false, seed + 20),
        Gemv(rows: 8, inF: 256, outF: 64, bias: true, swiglu: true, seed + 21),
        Argmax(rows: 4, vocab: 151851, seed + 6),
        RmsNormResidual(rows: 5, hidden: 896, seed + 8),
        GeluErf(rows: 3, cols: 3584, seed + 9),
        BiasAdd(rows: 6, cols: 1152, seed + 10),
        MiRope(crops: 3, tokensPerCrop: 9, kvHeads: 2, headDim: 64, seed + 11),
        EmbeddingGather(tokens: 13, hidden: 896, vocab: 4096, seed + 12),
        ConvertRoundTrip(count: 100_003, seed + 13),
        LayerNormResidual(rows: 9, hidden: 1152, seed + 14),
    ];

    /// <summary>rms_norm_residual_bf16 on [rows, hidden] (eps 1e-6): judges both y and the rounded x + residual it writes back; returns the first failing of the two.</summary>
    public ConformanceResult RmsNormResidual(int rows, int hidden, int seed)
    {
        var rng = new Random(seed);
        float[] x = RandomBf16(rng, rows * hidden, 2f), res = RandomBf16(rng, rows * hidden, 2f), w = RandomBf16(rng, hidden, 1f, 1f);
        var sum = new float[x.Length];
        for (int i = 0; i < sum.Length; i++) sum[i] = BFloat16.ToSingle(BFloat16.FromSingle(x[i] + res[i])); // the kernel stores the rounded sum
        var expected = _cpu.RmsNorm(new Tensor(sum, rows, hidden), Weight.FromArray("w", w, 1, hidden), 1e-6f);
        using var dx = Upload(x); using var dr = Upload(res); using var dw = Upload(w); using var dy = Poisoned(rows * hidden);
        using var stream = new CudaStream(context);
        _norm.RmsNormResidual(stream, new NormParams { X = dx.Pointer, Residual = dr.Pointer, Weight = dw.Pointer, Y = dy.Pointer, Rows = rows, Hidden = hidden, Eps = 1e-6f });
        stream.Synchronize();
        var y = Judge("rms_norm_residual_bf16", $"[{rows}, {hidden}]", Download(dy), expected.Data);
        var r = Judge("rms_norm_residual_bf16 (residual out)", $"[{rows}, {hidden}]", Download(dr), sum);
        return y.Pass ? r : y;
    }

    /// <summary>gelu_erf_bf16 on [rows, cols] against <see cref="CpuBackend"/>'s exact GELU.</summary>
    public ConformanceResult GeluErf(int rows, int cols, int seed) =>
        Unary("gelu_erf_bf16", rows, cols, seed, _cpu.GeluErfInPlace, (stream, p) => _ew.GeluErf(stream, p));

    /// <summary>bias_add_bf16: [rows, cols] plus a [cols] bias.</summary>
    public ConformanceResult BiasAdd(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        float[] x = RandomBf16(rng, rows * cols, 2f), b = RandomBf16(rng, cols, 1f);
        var expected = new float[x.Length];
        for (int i = 0; i < x.Length; i++) expected[i] = x[i] + b[i % cols];
        using var dx = Upload(x); using var db = Upload(b); using var dy = Poisoned(rows * cols);
        using var stream = new CudaStream(context);
        _ew.BiasAdd(stream, new ActivationParams { X = dx.Pointer, Bias = db.Pointer, Y = dy.Pointer, Rows = rows, Cols = cols });
        stream.Synchronize();
        return Judge("bias_add_bf16", $"[{rows}, {cols}]", Download(dy), expected);
    }

    /// <summary>mi_rope_bf16: crops · tokensPerCrop visual tokens of v_kv_proj output split into rotated keys and values (θ = 1e6); returns the first failing of keys and values.</summary>
    public ConformanceResult MiRope(int crops, int tokensPerCrop, int kvHeads, int headDim, int seed)
    {
        var rng = new Random(seed);
        int tokens = crops * tokensPerCrop;
        float[] kv = RandomBf16(rng, tokens * 2 * kvHeads * headDim, 2f);
        int[] positions = Enumerable.Range(0, crops).Select(j => 17 + 6 * j).ToArray();
        var visual = _cpu.MakeVisualKv(new Tensor(kv, tokens, 2 * kvHeads * headDim), kvHeads, headDim, tokensPerCrop, positions, 1e6, positions);
        using var dkv = Upload(kv); using var dk = Poisoned(kv.Length / 2); using var dv = Poisoned(kv.Length / 2);
        using var dpos = new DeviceBuffer<int>(context, crops);
        dpos.CopyFrom(positions);
        using var stream = new CudaStream(context);
        _ew.MiRope(stream, new RopeParams { X = dkv.Pointer, Keys = dk.Pointer, Values = dv.Pointer, Positions = dpos.Pointer, Tokens = tokens, Heads = kvHeads, HeadDim = headDim, TokensPerCrop = tokensPerCrop, Theta = 1e6f });
        stream.Synchronize();
        var keys = Judge("mi_rope_bf16 (keys)", $"[{kvHeads}, {tokens}, {headDim}]", Download(dk), visual.Keys.Data);
        var values = Judge("mi_rope_bf16 (values)", $"[{kvHeads}, {tokens}, {headDim}]", Download(dv), visual.Values.Data);
        return keys.Pass ? values : keys;
    }

    /// <summary>embedding_gather_bf16: tokens random ids (the first is vocab − 1, the last table row) from a [vocab, hidden] table.</summary>
    public ConformanceResult EmbeddingGather(int tokens, int hidden, int vocab, int seed)
    {
        var rng = new Random(seed);
        float[] table = RandomBf16(rng, vocab * hidden, 1f);
        int[] ids = Enumerable.Range(0, tokens).Select(t => t == 0 ? vocab - 1 : rng.Next(vocab)).ToArray();
        var expected = _cpu.Embedding(Weight.FromArray("table", table, vocab, hidden), ids);
        using var dt = Upload(table); using var dy = Poisoned(tokens * hidden);
        using var dids = new DeviceBuffer<int>(context, tokens);
        dids.CopyFrom(ids);
        using var stream = new CudaStream(context);
        _ew.EmbeddingGather(stream, new EmbeddingParams { Table = dt.Pointer, Ids = dids.Pointer, Y = dy.Pointer, Tokens = tokens, Hidden = hidden, Vocab = vocab });
        stream.Synchronize();
        return Judge("embedding_gather_bf16", $"[{tokens}, {hidden}] of {vocab}", Download(dy), expected.Data);
    }

    /// <summary>convert_f32_bf16 then convert_bf16_f32 on count values in [−100, 100): bit-exact against <see cref="BFloat16"/>; MaxAbs and Nmse hold the count of wrong elements.</summary>
    public ConformanceResult ConvertRoundTrip(int count, int seed)
    {
        var rng = new Random(seed);
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(rng.NextDouble() * 200 - 100);
        using var df = new DeviceBuffer<float>(context, count);
        df.CopyFrom(x);
        using var db = Poisoned(count);
        using var back = new DeviceBuffer<float>(context, count);
        back.FillBytes(0xFF);
        using var stream = new CudaStream(context);
        _ew.F32ToBf16(stream, new ConvertParams { X = df.Pointer, Y = db.Pointer, Count = count });
        _ew.Bf16ToF32(stream, new ConvertParams { X = db.Pointer, Y = back.Pointer, Count = count });
        stream.Synchronize();
        var expectedBits = new ushort[count];
        BFloat16.FromSingle(x, expectedBits);
        int wrong = db.ToArray().Zip(expectedBits).Count(p => p.First != p.Second);
        var roundTrip = back.ToArray();
        for (int i = 0; i < count; i++) if (roundTrip[i] != BFloat16.ToSingle(expectedBits[i])) wrong++;
        return new ConformanceResult("convert_f32_bf16 + convert_bf16_f32", $"[{count}]", wrong, wrong, 0, wrong == 0);
    }

    /// <summary>cuBLAS bf16 GEMM (fp32 accumulation) against the CPU backend's Linear.</summary>
    public ConformanceResult CublasLinear(int rows, int inF, int outF, int seed)
    {
        var rng = new Random(seed);
        float[] x = RandomBf16(rng, rows * inF, 1f), w = RandomBf16(rng, outF * inF, 1f / MathF.Sqrt(inF));
        var expected = _cpu.Linear(new Tensor(x, rows, inF), Weight.FromArray("w", w, outF, inF));
        using var dx = Upload(x); using var dw = Upload(w); using var dy = Poisoned(rows * outF);
        using var stream = new CudaStream(context);
        using var blas = new Blas.CublasHandle(context, stream);
        blas.Linear(dx.Pointer, dw.Pointer, dy.Pointer, rows, inF, outF);
        stream.Synchronize();
        return Judge("cublasGemmEx bf16→fp32", $"[{rows}, {inF}]x[{outF}, {inF}]T", Download(dy), expected.Data);
    }

    /// <summary>cuBLASLt bf16 GEMM with the bias epilogue (the biased projections) against the CPU backend's Linear with bias.</summary>
    public ConformanceResult CublasLtLinearBias(int rows, int inF, int outF, int seed)
    {
        var rng = new Random(seed);
        float[] x = RandomBf16(rng, rows * inF, 1f), w = RandomBf16(rng, outF * inF, 1f / MathF.Sqrt(inF)), b = RandomBf16(rng, outF, 0.5f);
        var expected = _cpu.Linear(new Tensor(x, rows, inF), Weight.FromArray("w", w, outF, inF), Weight.FromArray("b", b, 1, outF));
        using var dx = Upload(x); using var dw = Upload(w); using var db = Upload(b); using var dy = Poisoned(rows * outF);
        using var stream = new CudaStream(context);
        using var lt = new Blas.CublasLtMatmul(context);
        lt.LinearBias(stream, dx.Pointer, dw.Pointer, db.Pointer, dy.Pointer, rows, inF, outF);
        stream.Synchronize();
        return Judge("cublasLtMatmul bf16 + bias", $"[{rows}, {inF}]x[{outF}, {inF}]T + b", Download(dy), expected.Data);
    }

    /// <summary>rms_norm_bf16 on [rows, hidden] (eps 1e-6), with its achieved bandwidth in <see cref="ConformanceResult.GbPerSecond"/>.</summary>
    public ConformanceResult RmsNorm(int rows, int hidden, int seed)
    {
        var rng = new Random(seed);
        float[] x = RandomBf16(rng, rows * hidden, 2f), w = RandomBf16(rng, hidden, 1f, 1f);
        var expected = _cpu.RmsNorm(new Tensor(x, rows, hidden), Weight.FromArray("w", w, 1, hidden), 1e-6f);
        using var dx = Upload(x); using var dw = Upload(w); using var dy = Poisoned(rows * hidden);
        using var stream = new CudaStream(context);
        var p = new NormParams { X = dx.Pointer, Weight = dw.Pointer, Y = dy.Pointer, Rows = rows, Hidden = hidden, Eps = 1e-6f };
        _norm.RmsNorm(stream, p);
        stream.Synchronize();
        double gbs = Bandwidth(stream, () => _norm.RmsNorm(stream, p), 2L * rows * hidden * 2);
        return Judge("rms_norm_bf16", $"[{rows}, {hidden}]", Download(dy), expected.Data, gbs);
    }

    /// <summary>layer_norm_bf16 on [rows, hidden] with weight and bias (eps 1e-6).</summary>
    public ConformanceResult LayerNorm(int rows, int hidden, int seed)
    {
        var rng = new Random(seed);
        float[] x = RandomBf16(rng, rows * hidden, 3f, 0.5f), w = RandomBf16(rng, hidden, 1f, 1f), b = RandomBf16(rng, hidden, 0.1f);
        var expected = _cpu.LayerNorm(new Tensor(x, rows, hidden), Weight.FromArray("w", w, 1, hidden), Weight.FromArray("b", b, 1, hidden), 1e-6f);
        using var dx = Upload(x); using var dw = Upload(w); using var db = Upload(b); using var dy = Poisoned(rows * hidden);
        using var stream = new CudaStream(context);
        _norm.LayerNorm(stream, new NormParams { X = dx.Pointer, Weight = dw.Pointer, Bias = db.Pointer, Y = dy.Pointer, Rows = rows, Hidden = hidden, Eps = 1e-6f });
        stream.Synchronize();
        return Judge("layer_norm_bf16", $"[{rows}, {hidden}]", Download(dy), expected.Data);
    }

    /// <summary>layer_norm_residual_bf16 on [rows, hidden] (eps 1e-6): judges both y and the rounded x + residual it writes back; returns the first failing of the two.</summary>
    public ConformanceResult LayerNormResidual(int rows, int hidden, int seed)
    {
        var rng = new Random(seed);
        float[] x = RandomBf16(rng, rows * hidden, 2f, 0.5f), res = RandomBf16(rng, rows * hidden, 2f), w = RandomBf16(rng, hidden, 1f, 1f), b = RandomBf16(rng, hidden, 0.1f);
        var sum = new float[x.Length];
        for (int i = 0; i < sum.Length; i++) sum[i] = BFloat16.ToSingle(BFloat16.FromSingle(x[i] + res[i])); // the kernel stores the rounded sum
        var expected = _cpu.LayerNorm(new Tensor(sum, rows, hidden), Weight.FromArray("w", w, 1, hidden), Weight.FromArray("b", b, 1, hidden), 1e-6f);
        using var dx = Upload(x); using var dr = Upload(res); using var dw = Upload(w); using var db = Upload(b); using var dy = Poisoned(rows * hidden);
        using var stream = new CudaStream(context);
        _norm.LayerNormResidual(stream, new NormParams { X = dx.Pointer, Residual = dr.Pointer, Weight = dw.Pointer, Bias = db.Pointer, Y = dy.Pointer, Rows = rows, Hidden = hidden, Eps = 1e-6f });
        stream.Synchronize();
        var y = Judge("layer_norm_residual_bf16", $"[{rows}, {hidden}]", Download(dy), expected.Data);
        var r = Judge("layer_norm_residual_bf16 (residual out)", $"[{rows}, {hidden}]", Download(dr), sum);
        return y.Pass ? r : y;
    }

    /// <summary>swiglu_bf16 on a fused [rows, 2·intermediate] gate/up input, with its achieved bandwidth.</summary>
    public ConformanceResult SwiGlu(int rows, int intermediate, int seed)
    {
        var rng = new Random(seed);
        float[] gu = RandomBf16(rng, rows * 2 * intermediate, 3f);
        var expected = new float[rows * intermediate];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < intermediate; i++)
            {
                float g = gu[r * 2 * intermediate + i], u = gu[r * 2 * intermediate + intermediate + i];
                expected[r * intermediate + i] = g / (1f + MathF.Exp(-g)) * u;
            }
        using var dx = Upload(gu); using var dy = Poisoned(rows * intermediate);
        using var stream = new CudaStream(context);
        var p = new ActivationParams { X = dx.Pointer, Y = dy.Pointer, Rows = rows, Cols = intermediate };
        _ew.SwiGlu(stream, p);
        stream.Synchronize();
        double gbs = Bandwidth(stream, () => _ew.SwiGlu(stream, p), 3L * rows * intermediate * 2);
        return Judge("swiglu_bf16", $"[{rows}, {intermediate}]", Download(dy), expected, gbs);
    }

    /// <summary>gelu_tanh_bf16 on [rows, cols] against <see cref="CpuBackend"/>'s tanh GELU.</summary>
    public ConformanceResult GeluTanh(int rows, int cols, int seed) =>
        Unary("gelu_tanh_bf16", rows, cols, seed, _cpu.GeluTanhInPlace, (stream, p) => _ew.GeluTanh(stream, p));

    /// <summary>An elementwise kernel x → y on [rows, cols] of inputs in ±4 against its in-place CPU twin.</summary>
    private ConformanceResult Unary(string kernel, int rows, int cols, int seed, Action<Tensor> cpu, Action<CudaStream, ActivationParams> gpu)
    {
        var rng = new Random(seed);
        float[] x = RandomBf16(rng, rows * cols, 4f);
        var expected = new Tensor((float[])x.Clone(), rows, cols);
        cpu(expected);
        using var dx = Upload(x); using var dy = Poisoned(rows * cols);
        using var stream = new CudaStream(context);
        gpu(stream, new ActivationParams { X = dx.Pointer, Y = dy.Pointer, Rows = rows, Cols = cols });
        stream.Synchronize();
        return Judge(kernel, $"[{rows}, {cols}]", Download(dy), expected.Data);
    }

    /// <summary>rope_bf16 in place on [tokens, heads·headDim] at scattered positions (θ = 1e6).</summary>
    public ConformanceResult Rope(int tokens, int heads, int headDim, int seed)
    {
        var rng = new Random(seed);
        float[] x = RandomBf16(rng, tokens * heads * headDim, 2f);
        int[] positions = Enumerable.Range(0, tokens).Select(t => t * 37 + 5).ToArray();
        var expected = new Tensor((float[])x.Clone(), tokens, heads * headDim);
        _cpu.RopeInPlace(expected, positions, heads, headDim, 1e6);
        using var dx = Upload(x);
        using var dpos = new DeviceBuffer<int>(context, tokens);
        dpos.CopyFrom(positions);
        using var stream = new CudaStream(context);
        _ew.Rope(stream, new RopeParams { X = dx.Pointer, Positions = dpos.Pointer, Tokens = tokens, Heads = heads, HeadDim = headDim, Theta = 1e6f });
        stream.Synchronize();
        return Judge("rope_bf16", $"[{tokens}, {heads}x{headDim}]", Download(dx), expected.Data);
    }

    /// <summary>
    /// kv_write_bf16 with queries, on the decoder layer's layout: one [tokens, q | k | v] buffer (a stacked projection's
    /// output, every row stride the stacked width). The queries are rotated in place against the CPU's RoPE and bit for
    /// bit against rope_bf16 on the same rows (a difference fails whatever its size); the keys land rotated (CPU RoPE)
    /// and the values as they were in their scattered slots, a skipped token writes nothing, and K and V stay as they
    /// were in the buffer.
    /// </summary>
    public ConformanceResult KvWriteRotatesQueries(int tokens, int heads, int kvHeads, int headDim, int seed)
    {
        var rng = new Random(seed);
        int qw = heads * headDim, kvw = kvHeads * headDim, stride = qw + 2 * kvw, blockSize = 4, skipped = 3;
        float[] qkv = RandomBf16(rng, tokens * stride, 2f);
        int[] positions = Enumerable.Range(0, tokens).Select(t => t * 37 + 5).ToArray();
        int[] slots = Enumerable.Range(0, tokens).Select(t => t == skipped ? -1 : (tokens - 1 - t) * 2).ToArray(); // scattered
        float[] Columns(int first, int width)
        {
            var a = new float[tokens * width];
            for (int t = 0; t < tokens; t++) Array.Copy(qkv, t * stride + first, a, t * width, width);
            return a;
        }
        var expectQ = new Tensor(Columns(0, qw), tokens, qw);
        _cpu.RopeInPlace(expectQ, positions, heads, headDim, 1e6);
        var expectK = new Tensor(Columns(qw, kvw), tokens, kvw);
        _cpu.RopeInPlace(expectK, positions, kvHeads, headDim, 1e6);
        float[] v = Columns(qw + kvw, kvw);
        using var dqkv = Upload(qkv);
        using var dRope = Upload(Columns(0, qw));
        int cacheRows = 2 * tokens * blockSize;
        using var kCache = Poisoned(cacheRows * kvw);
        using var vCache = Poisoned(cacheRows * kvw);
        using var dpos = new DeviceBuffer<int>(context, tokens);
        dpos.CopyFrom(positions);
        using var dslots = new DeviceBuffer<int>(context, tokens);
        dslots.CopyFrom(slots);
        using var stream = new CudaStream(context);
        _attn.KvWrite(stream, new KvWriteParams
        {
            K = dqkv.Pointer + (ulong)qw * 2, V = dqkv.Pointer + (ulong)(qw + kvw) * 2, KCache = kCache.Pointer, VCache = vCache.Pointer,
            Slots = dslots.Pointer, Positions = dpos.Pointer, Q = dqkv.Pointer, QHeads = heads, QStride = stride,
            Tokens = tokens, KvHeads = kvHeads, HeadDim = headDim, KStride = stride, VStride = stride, Rope = 1, Theta = 1e6f,
        });
        _ew.Rope(stream, new RopeParams { X = dRope.Pointer, Positions = dpos.Pointer, Tokens = tokens, Heads = heads, HeadDim = headDim, Theta = 1e6f });
        stream.Synchronize();
        float[] got = Download(dqkv), byRope = Download(dRope), kc = Download(kCache), vc = Download(vCache);
        var gotQ = new float[tokens * qw];
        var gotK = new float[tokens * kvw];
        var gotV = new float[tokens * kvw];
        int differ = 0;
        static bool Same(float a, float b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b);
        for (int t = 0; t < tokens; t++)
        {
            Array.Copy(got, t * stride, gotQ, t * qw, qw);
            for (int c = qw; c < stride; c++) if (!Same(got[t * stride + c], qkv[t * stride + c])) differ++; // K and V untouched
            if (slots[t] < 0)
            {
                Array.Copy(expectK.Data, t * kvw, gotK, t * kvw, kvw); // nothing to read back: judged by the poison below
                Array.Copy(v, t * kvw, gotV, t * kvw, kvw);
                continue;
            }
            Array.Copy(kc, slots[t] * kvw, gotK, t * kvw, kvw);
            Array.Copy(vc, slots[t] * kvw, gotV, t * kvw, kvw);
        }
        for (int i = 0; i < gotQ.Length; i++) if (!Same(gotQ[i], byRope[i])) differ++;
        for (int i = 0; i < gotV.Length; i++) if (!Same(gotV[i], v[i])) differ++;
        // Slots no token names (the skipped token's included) keep their NaN poison.
        var used = slots.Where(x => x >= 0).ToHashSet();
        for (int row = 0; row < cacheRows; row++)
            if (!used.Contains(row) && (!float.IsNaN(kc[row * kvw]) || !float.IsNaN(vc[row * kvw]))) differ++;
        string shape = $"[{tokens}, {heads}x{headDim} | {kvHeads}x{headDim} | {kvHeads}x{headDim}], slot of token {skipped} skipped";
        var q = Judge("kv_write_bf16 (queries rotated)", shape, gotQ, expectQ.Data);
        var k = Judge("kv_write_bf16 (keys rotated into the cache)", shape, gotK, expectK.Data);
        var r = !q.Pass ? q : k;
        return differ == 0 ? r : r with { Shape = r.Shape + $"; {differ} elements differ from rope_bf16, the values, the untouched columns or the poison", Pass = false };
    }

    /// <summary>
    /// gemv_bf16: y = x·Wᵀ (+ bias) for a few rows against the exact product of the same bf16 operands; with swiglu, W is
    /// a stacked gate|up weight and y[r, i] = silu(g)·u of the bf16-rounded sums of rows i and i + n/2 (swiglu_bf16's
    /// arithmetic on what a GEMM would have written). Output rows of a stride wider than the outputs keep their poison
    /// past them (an odd n leaves the last CTA one row).
    /// </summary>
    public ConformanceResult Gemv(int rows, int inF, int outF, bool bias, bool swiglu, int seed)
    {
        var rng = new Random(seed);
        int outputs = swiglu ? outF / 2 : outF, yStride = (outputs + 7) / 8 * 8 + 8;
        float[] x = RandomBf16(rng, rows * inF, 2f), w = RandomBf16(rng, outF * inF, 0.05f), b = RandomBf16(rng, outF, 1f);
        var sums = new float[rows * outF];
        for (int r = 0; r < rows; r++)
            for (int n = 0; n < outF; n++)
            {
                double acc = bias ? b[n] : 0;
                for (int c = 0; c < inF; c++) acc += (double)x[r * inF + c] * w[n * inF + c];
                sums[r * outF + n] = (float)acc;
            }
        var expected = new float[rows * outputs];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < outputs; i++)
            {
                if (!swiglu) { expected[r * outputs + i] = sums[r * outF + i]; continue; }
                float g = BFloat16.ToSingle(BFloat16.FromSingle(sums[r * outF + i])), u = BFloat16.ToSingle(BFloat16.FromSingle(sums[r * outF + outputs + i]));
                expected[r * outputs + i] = g / (1f + MathF.Exp(-g)) * u;
            }
        using var dx = Upload(x); using var dw = Upload(w); using var db = Upload(b);
        using var dy = Poisoned(rows * yStride);
        using var stream = new CudaStream(context);
        _gemv.Gemv(stream, new GemvParams
        {
            X = dx.Pointer, W = dw.Pointer, Bias = bias ? db.Pointer : 0, Y = dy.Pointer, M = rows, N = outF, K = inF,
            XStride = inF, YStride = yStride, Swiglu = swiglu ? 1 : 0,
        });
        stream.Synchronize();
        float[] got = Download(dy), dense = new float[rows * outputs];
        int touched = 0;
        for (int r = 0; r < rows; r++)
        {
            Array.Copy(got, r * yStride, dense, r * outputs, outputs);
            for (int c = outputs; c < yStride; c++) if (!float.IsNaN(got[r * yStride + c])) touched++;
        }
        string shape = $"[{rows}, {inF}]·[{outF}, {inF}]ᵀ{(bias ? " + bias" : "")}{(swiglu ? " → SwiGLU of the gate|up halves" : "")}";
        var result = Judge("gemv_bf16", shape, dense, expected);
        return touched == 0 ? result : result with { Shape = shape + $"; {touched} elements past column {outputs} written", Pass = false };
    }

    /// <summary>
    /// gemv_bf16 beside cuBLASLt on the decoder layers' projections (1B and 7B: q|k|v with bias, o, gate|up with the SwiGLU
    /// — cuBLASLt's followed by a swiglu_bf16 launch — and down) and the 1B's LM head (padded to 151,856 rows, as the model
    /// holds it), at 1 and 8 rows, each replayed from a CUDA graph in this one run. The replays cycle through copies of the
    /// weight that together exceed the L2 cache several times (as a decode step's 24 layers do), so the figures are HBM's:
    /// µs, and weight bytes per second against the copy bandwidth.
    /// </summary>
    public IReadOnlyList<AttentionBenchRow> GemvBench(double? copyGbPerSecond)
    {
        var rows = new List<AttentionBenchRow>();
        var shapes = new (string Name, int InF, int OutF, bool Bias, bool Swiglu)[]
        {
            ("1B q|k|v", 896, 1152, true, false), ("1B o_proj", 896, 896, false, false), ("1B gate|up → SwiGLU", 896, 9728, false, true),
            ("1B down", 4864, 896, false, false), ("1B lm_head", 896, 151856, false, false),
            ("7B q|k|v", 3584, 4608, true, false), ("7B o_proj", 3584, 3584, false, false), ("7B gate|up → SwiGLU", 3584, 37888, false, true),
            ("7B down", 18944, 3584, false, false),
        };
        using var blas = new Owl3Native.Cuda.Blas.CublasLtMatmul(context);
        using var stream = new CudaStream(context);
        const int reps = 20;
        const long coldBytes = 192L << 20; // the weight copies a replay cycles through: several L2s
        foreach (var (name, inF, outF, hasBias, swiglu) in shapes)
        {
            double bytes = 2.0 * inF * outF;
            int copies = (int)Math.Clamp(coldBytes / (long)bytes + 1, 1, reps);
            var weights = new List<DeviceBuffer<ushort>>();
            try
            {
                for (int i = 0; i < copies; i++) weights.Add(DeviceData.RandomTiled(context, stream, (long)outF * inF, inF + outF + i, 0.05f));
                using var b = DeviceData.RandomTiled(context, stream, outF, 3);
                using var zeros = Upload(new float[outF]); // cuBLASLt's plans always add a bias
                using var x = DeviceData.RandomTiled(context, stream, 8L * inF, 5);
                using var gu = Poisoned(8 * outF);
                using var y = Poisoned(8 * outF);
                int outputs = swiglu ? outF / 2 : outF;
                foreach (int m in new[] { 1, 8 })
                {
                    string shape = $"{name}, {m} row{(m > 1 ? "s" : "")}: [{m}, {inF}]·[{outF}, {inF}]ᵀ{(hasBias ? " + bias" : "")}; {copies} weight copies cycled";
                    void Add(string kernel, float ms) => rows.Add(new AttentionBenchRow(kernel, shape, ms, null, bytes / (ms / 1000) / 1e9,
                        copyGbPerSecond is { } c ? 100 * bytes / (ms / 1000) / 1e9 / c : null));
                    int call = 0;
                    Add("gemv_bf16 (CUDA graph)", DeviceData.GraphTime(stream, () => _gemv.Gemv(stream, new GemvParams
                    {
                        X = x.Pointer, W = weights[call++ % copies].Pointer, Bias = hasBias ? b.Pointer : 0, Y = y.Pointer, M = m, N = outF, K = inF,
                        XStride = inF, YStride = outputs, Swiglu = swiglu ? 1 : 0,
                    }), reps));
                    call = 0;
                    Add(swiglu ? "cuBLASLt + swiglu_bf16 (CUDA graph)" : "cuBLASLt (CUDA graph)", DeviceData.GraphTime(stream, () =>
                    {
                        blas.LinearBias(stream, x.Pointer, weights[call++ % copies].Pointer, hasBias ? b.Pointer : zeros.Pointer, swiglu ? gu.Pointer : y.Pointer, m, inF, outF);
                        if (swiglu) _ew.SwiGlu(stream, new ActivationParams { X = gu.Pointer, Y = y.Pointer, Rows = m, Cols = outputs });
                    }, reps));
                }
            }
            finally
            {
                foreach (var w in weights) w.Dispose();
            }
        }
        return rows;
    }

    /// <summary>sample_argmax_f32 on [rows, vocab] fp32 logits, exact: the last id winning and a tie (lower id wins) are planted; MaxAbs and Nmse hold the count of wrong rows.</summary>
    public ConformanceResult Argmax(int rows, int vocab, int seed)
    {
        var rng = new Random(seed);
        var logits = new float[rows * vocab];
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 10 - 5);
        logits[vocab - 1] = 100; // row 0: the very last row of the vocabulary wins
        if (rows > 1) { logits[vocab + 7] = 50; logits[vocab + 9] = 50; } // row 1: a tie → the lower index
        var expected = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            int best = 0;
            for (int v = 1; v < vocab; v++) if (logits[r * vocab + v] > logits[r * vocab + best]) best = v;
            expected[r] = best;
        }
        using var dl = new DeviceBuffer<float>(context, logits.Length);
        dl.CopyFrom(logits);
        using var ids = new DeviceBuffer<int>(context, rows);
        ids.FillBytes(0xFF);
        using var stream = new CudaStream(context);
        _ew.Argmax(stream, new ArgmaxParams { Logits = dl.Pointer, Ids = ids.Pointer, Rows = rows, Vocab = vocab });
        stream.Synchronize();
        int wrong = ids.ToArray().Zip(expected).Count(p => p.First != p.Second);
        return new ConformanceResult("sample_argmax_f32", $"[{rows}, {vocab}]", wrong, wrong, 0, wrong == 0);
    }

    /// <summary>Device-to-device copy bandwidth (GB/s counting read + written bytes), the yardstick of memory-bound kernels.</summary>
    public double CopyBandwidth(long bytes = 256L << 20)
    {
        using var a = new DeviceBuffer<byte>(context, bytes);
        using var b = new DeviceBuffer<byte>(context, bytes);
        using var stream = new CudaStream(context);
        stream.Copy(b.Pointer, a.Pointer, bytes);
        float ms = stream.Time(() => { for (int i = 0; i < 20; i++) stream.Copy(b.Pointer, a.Pointer, bytes); });
        return 2.0 * bytes * 20 / (ms / 1000) / 1e9;
    }

    private static double Bandwidth(CudaStream stream, Action launch, long bytesPerLaunch)
    {
        float ms = stream.Time(() => { for (int i = 0; i < 50; i++) launch(); });
        return bytesPerLaunch * 50 / (ms / 1000) / 1e9;
    }

    private static ConformanceResult Judge(string kernel, string shape, float[] actual, float[] expected, double? gbs = null) =>
        DeviceData.Judge(kernel, shape, actual, expected, Bf16Nmse, gbs: gbs);

    private static float[] RandomBf16(Random rng, int n, float scale, float offset = 0f) => DeviceData.RandomBf16(rng, n, scale, offset);

    private DeviceBuffer<ushort> Upload(float[] values) => DeviceData.Upload(context, values);

    private DeviceBuffer<ushort> Poisoned(int n) => DeviceData.Poisoned(context, n);

    private static float[] Download(DeviceBuffer<ushort> buffer) => DeviceData.Download(buffer);
}
