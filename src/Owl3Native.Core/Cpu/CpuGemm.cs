using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.Cpu;

/// <summary>Reads 8 weights as fp32: from bf16 (widened in registers) or from fp32.</summary>
internal unsafe interface IWeightLoader
{
    static abstract Vector256<float> Load8(void* row, int k);
    static abstract float Load1(void* row, int k);
    static abstract int ElementSize { get; }
}

internal unsafe struct Bf16Loader : IWeightLoader
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(void* row, int k)
    {
        var bits = Vector128.Load((ushort*)row + k);
        if (Avx2.IsSupported)
            return Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(bits), 16).AsSingle(); // vpmovzxwd + vpslld
        var (lo, hi) = Vector128.Widen(bits);
        return Vector256.Create(Vector128.ShiftLeft(lo, 16), Vector128.ShiftLeft(hi, 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(void* row, int k) => BFloat16.ToSingle(((ushort*)row)[k]);

    public static int ElementSize => 2;
}

internal unsafe struct F32Loader : IWeightLoader
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(void* row, int k) => Vector256.Load((float*)row + k);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(void* row, int k) => ((float*)row)[k];

    public static int ElementSize => 4;
}

/// <summary>
/// y[t, o] = Σ_k x[t, k] · W[o, k] for a block of output rows, fp32 accumulation. Weights are streamed once per pair of
/// tokens and widened in registers (no fp32 copy of the weights); 4 output rows × 2 tokens = 8 accumulators.
/// Decode (one token) is a weight-bandwidth-bound GEMV through the same micro-kernel.
/// </summary>
internal static unsafe class CpuGemm
{
    private const int RowTile = 4;

    /// <summary>Up to this many tokens, the row-sequential AVX-512 kernel beats widening panels.</summary>
    public const int SmallBatch = 12;

    /// <summary>
    /// Output rows [rowStart, rowEnd) for every token; y is `[tokens, ldy]` and receives columns rowStart.. at yOffset.
    /// Weight rows are <paramref name="wStride"/> elements apart (0: k) — the first k of a longer row.
    /// </summary>
    public static void Block<TW>(float[] x, int tokens, int k, void* w, int rowStart, int rowEnd, float[] y, int ldy, int yOffset, int wStride = 0)
        where TW : unmanaged, IWeightLoader
    {
        fixed (float* px = x, py = y)
        {
            long rowBytes = (long)(wStride > 0 ? wStride : k) * TW.ElementSize;
            if (tokens == 1 && typeof(TW) == typeof(Bf16Loader) && Avx512F.IsSupported)
            {
                // Decode: rows one after another = one sequential stream through the block (rows are contiguous).
                for (int r = rowStart; r < rowEnd; r++)
                    py[yOffset + r - rowStart] = DotBf16Avx512(px, (ushort*)((byte*)w + r * rowBytes), k);
                return;
            }
            if (tokens <= SmallBatch && typeof(TW) == typeof(Bf16Loader) && Avx512F.IsSupported)
            {
                // Batched decode: still one sequential pass over the rows; each row (in L1 after its first use) is dotted
                // with up to 4 tokens at a time, so DRAM traffic stays one read of the weights per step.
                for (int r = rowStart; r < rowEnd; r++)
                {
                    var wr = (ushort*)((byte*)w + r * rowBytes);
                    for (int t = 0; t < tokens; t += 4)
                        Dot4Bf16Avx512(px + (long)t * k, k, Math.Min(4, tokens - t), wr, py + (long)t * ldy + yOffset + r - rowStart, ldy);
                }
                return;
            }
            int o = rowStart;
            for (; o + RowTile <= rowEnd; o += RowTile)
            {
                byte* w0 = (byte*)w + o * rowBytes;
                int t = 0;
                for (; t + 2 <= tokens; t += 2)
                    Tile4x2<TW>(px + (long)t * k, px + (long)(t + 1) * k, k, w0, rowBytes, py + (long)t * ldy + yOffset + o - rowStart, py + (long)(t + 1) * ldy + yOffset + o - rowStart);
                if (t < tokens)
                {
                    if (typeof(TW) == typeof(Bf16Loader) && Avx512F.IsSupported)
                        Tile4x1Bf16Avx512(px + (long)t * k, k, w0, rowBytes, py + (long)t * ldy + yOffset + o - rowStart);
                    else
                        Tile4x1<TW>(px + (long)t * k, k, w0, rowBytes, py + (long)t * ldy + yOffset + o - rowStart);
                }
            }
            for (; o < rowEnd; o++)
            {
                void* wr = (byte*)w + o * rowBytes;
                for (int t = 0; t < tokens; t++)
                    py[(long)t * ldy + yOffset + o - rowStart] = Dot<TW>(px + (long)t * k, wr, k);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x2<TW>(float* x0, float* x1, int k, byte* w, long rowBytes, float* y0, float* y1) where TW : unmanaged, IWeightLoader
    {
        void* r0 = w, r1 = w + rowBytes, r2 = w + 2 * rowBytes, r3 = w + 3 * rowBytes;
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
        int i = 0;
        for (; i + 8 <= k; i += 8)
        {
            var xa = Vector256.Load(x0 + i);
            var xb = Vector256.Load(x1 + i);
            var w0 = TW.Load8(r0, i);
            a00 = Fma(w0, xa, a00); a01 = Fma(w0, xb, a01);
            var w1 = TW.Load8(r1, i);
            a10 = Fma(w1, xa, a10); a11 = Fma(w1, xb, a11);
            var w2 = TW.Load8(r2, i);
            a20 = Fma(w2, xa, a20); a21 = Fma(w2, xb, a21);
            var w3 = TW.Load8(r3, i);
            a30 = Fma(w3, xa, a30); a31 = Fma(w3, xb, a31);
        }
        float s00 = Vector256.Sum(a00), s01 = Vector256.Sum(a01), s10 = Vector256.Sum(a10), s11 = Vector256.Sum(a11);
        float s20 = Vector256.Sum(a20), s21 = Vector256.Sum(a21), s30 = Vector256.Sum(a30), s31 = Vector256.Sum(a31);
        for (; i < k; i++)
        {
            float xa = x0[i], xb = x1[i];
            float v0 = TW.Load1(r0, i), v1 = TW.Load1(r1, i), v2 = TW.Load1(r2, i), v3 = TW.Load1(r3, i);
            s00 += v0 * xa; s01 += v0 * xb; s10 += v1 * xa; s11 += v1 * xb;
            s20 += v2 * xa; s21 += v2 * xb; s30 += v3 * xa; s31 += v3 * xb;
        }
        y0[0] = s00; y0[1] = s10; y0[2] = s20; y0[3] = s30;
        y1[0] = s01; y1[1] = s11; y1[2] = s21; y1[3] = s31;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1<TW>(float* x0, int k, byte* w, long rowBytes, float* y0) where TW : unmanaged, IWeightLoader
    {
        void* r0 = w, r1 = w + rowBytes, r2 = w + 2 * rowBytes, r3 = w + 3 * rowBytes;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 8 <= k; i += 8)
        {
            var xa = Vector256.Load(x0 + i);
            a0 = Fma(TW.Load8(r0, i), xa, a0);
            a1 = Fma(TW.Load8(r1, i), xa, a1);
            a2 = Fma(TW.Load8(r2, i), xa, a2);
            a3 = Fma(TW.Load8(r3, i), xa, a3);
        }
        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        for (; i < k; i++)
        {
            float xa = x0[i];
            s0 += TW.Load1(r0, i) * xa; s1 += TW.Load1(r1, i) * xa; s2 += TW.Load1(r2, i) * xa; s3 += TW.Load1(r3, i) * xa;
        }
        y0[0] = s0; y0[1] = s1; y0[2] = s2; y0[3] = s3;
    }

    /// <summary>Decode GEMV on AVX-512: 16 bf16 per load (vpmovzxwd + vpslld to fp32), 4 rows, one token.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1Bf16Avx512(float* x0, int k, byte* w, long rowBytes, float* y0)
    {
        ushort* r0 = (ushort*)w, r1 = (ushort*)(w + rowBytes), r2 = (ushort*)(w + 2 * rowBytes), r3 = (ushort*)(w + 3 * rowBytes);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            var xa = Vector512.Load(x0 + i);
            a0 = Avx512F.FusedMultiplyAdd(Widen16(r0 + i), xa, a0);
            a1 = Avx512F.FusedMultiplyAdd(Widen16(r1 + i), xa, a1);
            a2 = Avx512F.FusedMultiplyAdd(Widen16(r2 + i), xa, a2);
            a3 = Avx512F.FusedMultiplyAdd(Widen16(r3 + i), xa, a3);
        }
        float s0 = Vector512.Sum(a0), s1 = Vector512.Sum(a1), s2 = Vector512.Sum(a2), s3 = Vector512.Sum(a3);
        for (; i < k; i++)
        {
            float xa = x0[i];
            s0 += BFloat16.ToSingle(r0[i]) * xa; s1 += BFloat16.ToSingle(r1[i]) * xa;
            s2 += BFloat16.ToSingle(r2[i]) * xa; s3 += BFloat16.ToSingle(r3[i]) * xa;
        }
        y0[0] = s0; y0[1] = s1; y0[2] = s2; y0[3] = s3;
    }

    /// <summary>One bf16 row · x with four independent accumulators (64 elements per iteration).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotBf16Avx512(float* x, ushort* w, int k)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 64 <= k; i += 64)
        {
            a0 = Avx512F.FusedMultiplyAdd(Widen16(w + i), Vector512.Load(x + i), a0);
            a1 = Avx512F.FusedMultiplyAdd(Widen16(w + i + 16), Vector512.Load(x + i + 16), a1);
            a2 = Avx512F.FusedMultiplyAdd(Widen16(w + i + 32), Vector512.Load(x + i + 32), a2);
            a3 = Avx512F.FusedMultiplyAdd(Widen16(w + i + 48), Vector512.Load(x + i + 48), a3);
        }
        for (; i + 16 <= k; i += 16) a0 = Avx512F.FusedMultiplyAdd(Widen16(w + i), Vector512.Load(x + i), a0);
        float s = Vector512.Sum((a0 + a1) + (a2 + a3));
        for (; i < k; i++) s += BFloat16.ToSingle(w[i]) * x[i];
        return s;
    }

    /// <summary>One bf16 row dotted with n ≤ 4 token rows (x rows ldx = k apart), results strided by ldy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4Bf16Avx512(float* x, int k, int n, ushort* w, float* y, int ldy)
    {
        float* x0 = x, x1 = n > 1 ? x + k : x, x2 = n > 2 ? x + 2L * k : x, x3 = n > 3 ? x + 3L * k : x;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            var wv = Widen16(w + i);
            a0 = Avx512F.FusedMultiplyAdd(wv, Vector512.Load(x0 + i), a0);
            a1 = Avx512F.FusedMultiplyAdd(wv, Vector512.Load(x1 + i), a1);
            a2 = Avx512F.FusedMultiplyAdd(wv, Vector512.Load(x2 + i), a2);
            a3 = Avx512F.FusedMultiplyAdd(wv, Vector512.Load(x3 + i), a3);
        }
        float s0 = Vector512.Sum(a0), s1 = Vector512.Sum(a1), s2 = Vector512.Sum(a2), s3 = Vector512.Sum(a3);
        for (; i < k; i++)
        {
            float wi = BFloat16.ToSingle(w[i]);
            s0 += wi * x0[i]; s1 += wi * x1[i]; s2 += wi * x2[i]; s3 += wi * x3[i];
        }
        y[0] = s0;
        if (n > 1) y[ldy] = s1;
        if (n > 2) y[2L * ldy] = s2;
        if (n > 3) y[3L * ldy] = s3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen16(ushort* p) =>
        Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load(p)), 16).AsSingle();

    private static float Dot<TW>(float* x, void* w, int k) where TW : unmanaged, IWeightLoader
    {
        Vector256<float> a = default;
        int i = 0;
        for (; i + 8 <= k; i += 8) a = Fma(TW.Load8(w, i), Vector256.Load(x + i), a);
        float s = Vector256.Sum(a);
        for (; i < k; i++) s += TW.Load1(w, i) * x[i];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c) : a * b + c;
}
