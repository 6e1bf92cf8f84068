// sampling.cu — token choice on the device, the twin of src/Owl3Native/Engine/Sampling/Sampler.cs.
//   sample_argmax: ids[r] = argmax_v logits[r, v]; ties → the lowest index (torch.argmax), NaN never wins.
//   sample:        HF order — NaN → −inf, repetition penalty (gathered then scattered, so repeats count once),
//                  temperature 0 → argmax; else x / T, top-k (x < k-th largest removed), fixed-point softmax weights
//                  w = floor(exp(x − max)·2^40) with the CPU's exact float32 operation sequence, top-p on the weights in
//                  ascending (logit, id) order, then the Philox-4x32-10 draw: key = seed, counter = (step, 0, lo, hi of
//                  stream), j = x0 >> 8, target = floor(j·W / 2^24), token = first id whose inclusive cumulative weight
//                  exceeds target. Every sum is an exact integer, so block reductions in any order give the CPU's token.
// Parallelisation: one block (1024 threads) per row; threads stride over the vocabulary; radix selects (top-k on
// 4×8-bit digits of ordered float bits, top-p on 8×8-bit digits of (ordered bits << 32 | id) with weight histograms)
// and a chunked block scan for the draw.
// Shapes: logits [rows, vocab] fp32 (modified in place), weights scratch [rows, vocab] u64, ids int32 [rows] (−1: no token
// left), previous tokens flattened with offsets [rows + 1], per-row settings arrays. vocab ≤ 2^23.
// Precision: IEEE float32 with explicit __fmaf_rn/__fmul_rn/__fadd_rn/__fdiv_rn (no contraction, no fast-math).
//
// budget: sample_argmax_f32 registers<=32 smem<=512
// budget: sample_f32 registers<=64 smem<=4096
#include "common.cuh"

struct ArgmaxParams
{
    const float* logits;   // [rows, vocab]
    int* ids;              // [rows]
    int rows;
    int vocab;
};
static_assert(sizeof(ArgmaxParams) == 24, "ArgmaxParams layout is mirrored in C#");

__device__ __forceinline__ void better(float& v, int& i, float ov, int oi)
{
    // Larger value wins; equal values → lower index; NaN (v != v) never wins.
    if (ov == ov && (v != v || ov > v || (ov == v && oi < i))) { v = ov; i = oi; }
}

extern "C" __global__ void sample_argmax_f32(const ArgmaxParams p)
{
    __shared__ float vals[32];
    __shared__ int idxs[32];
    const int row = blockIdx.x;
    const float* x = p.logits + (size_t)row * p.vocab;
    float v = __int_as_float(0x7fc00000); // NaN: loses to anything
    int i = 0x7fffffff;
    for (int k = threadIdx.x; k < p.vocab; k += blockDim.x) better(v, i, x[k], k);
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
        better(v, i, __shfl_xor_sync(0xffffffffu, v, offset), __shfl_xor_sync(0xffffffffu, i, offset));
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    if (lane == 0) { vals[warp] = v; idxs[warp] = i; }
    __syncthreads();
    if (warp == 0)
    {
        v = lane < warps ? vals[lane] : __int_as_float(0x7fc00000);
        i = lane < warps ? idxs[lane] : 0x7fffffff;
#pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1)
            better(v, i, __shfl_xor_sync(0xffffffffu, v, offset), __shfl_xor_sync(0xffffffffu, i, offset));
        if (lane == 0) p.ids[row] = i == 0x7fffffff ? 0 : i;
    }
}

struct SampleParams
{
    float* logits;                          // [rows, vocab], processed in place
    unsigned long long* weights;            // [rows, vocab] scratch
    const int* prev_tokens;                 // prompt + generated ids of every row, concatenated
    const int* prev_offsets;                // [rows + 1]
    float* prev_scratch;                    // like prev_tokens: gathered penalised values
    const float* temperature;               // [rows]; 0 = greedy
    const int* top_k;                       // [rows]; 0 = off
    const float* top_p;                     // [rows]; 1 = off
    const float* penalty;                   // [rows]; 1 = off
    const unsigned long long* seed;         // [rows]
    const unsigned long long* stream;       // [rows]
    const int* step;                        // [rows]
    int* ids;                               // [rows]
    int rows;
    int vocab;
};
static_assert(sizeof(SampleParams) == 112, "SampleParams layout is mirrored in C#");

#define SAMPLE_THREADS 1024

__device__ __forceinline__ unsigned int ordered_bits(float x)
{
    unsigned int bits = __float_as_uint(__fadd_rn(x, 0.0f)); // −0 → +0
    return bits ^ ((unsigned int)((int)bits >> 31) | 0x80000000u);
}

__device__ __forceinline__ float from_ordered_bits(unsigned int key)
{
    return __uint_as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
}

// floor(exp(d)·2^40) for d ≤ 0: Cephes expf as in FixedPointSoftmax.Weight, operation for operation.
__device__ __forceinline__ unsigned long long fixed_weight(float d)
{
    if (!(d >= -28.0f)) return 0ull;
    const float n = rintf(__fmul_rn(d, 1.44269504088896341f));
    float r = __fmaf_rn(n, -0.693359375f, d);
    r = __fmaf_rn(n, 2.12194440e-4f, r);
    float p = __fmaf_rn(1.9875691500e-4f, r, 1.3981999507e-3f);
    p = __fmaf_rn(p, r, 8.3334519073e-3f);
    p = __fmaf_rn(p, r, 4.1665795894e-2f);
    p = __fmaf_rn(p, r, 1.6666665459e-1f);
    p = __fmaf_rn(p, r, 5.0000001201e-1f);
    const float e = __fadd_rn(__fmaf_rn(p, __fmul_rn(r, r), r), 1.0f);
    const float scale = __int_as_float((127 + 40 + (int)n) << 23);
    return __float2ull_rz(__fmul_rn(e, scale));
}

// floor(f24 · total / 2^24) with a 128-bit product (Sampler.MulFraction24).
__device__ __forceinline__ unsigned long long mul_fraction24(unsigned long long f24, unsigned long long total)
{
    const unsigned long long hi = __umul64hi(f24, total), lo = f24 * total;
    return (hi << 40) | (lo >> 24);
}

// Philox-4x32-10, word 0 of the output (Random123 layout; Philox.Generate).
__device__ __forceinline__ unsigned int philox_x0(unsigned int c0, unsigned int c1, unsigned int c2, unsigned int c3, unsigned int k0, unsigned int k1)
{
#pragma unroll
    for (int round = 0; round < 10; ++round)
    {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        const unsigned int lo0 = 0xD2511F53u * c0, hi0 = __umulhi(0xD2511F53u, c0);
        const unsigned int lo1 = 0xCD9E8D57u * c2, hi1 = __umulhi(0xCD9E8D57u, c2);
        const unsigned int n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    }
    return c0;
}

__device__ float block_max_f32(float v, float* scratch)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < (SAMPLE_THREADS / 32) ? scratch[lane] : __int_as_float(0xff800000);
    return warp_max(v);
}

__device__ unsigned long long block_sum_u64(unsigned long long v, unsigned long long* scratch)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < (SAMPLE_THREADS / 32) ? scratch[lane] : 0ull;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS) sample_f32(const SampleParams p)
{
    __shared__ unsigned long long hist[256];
    __shared__ unsigned long long red[32];
    __shared__ float redf[32];
    __shared__ unsigned int shared_prefix;
    __shared__ int shared_k, shared_token;
    __shared__ unsigned long long shared_base;

    const int row = blockIdx.x, tid = threadIdx.x, vocab = p.vocab;
    float* x = p.logits + (size_t)row * vocab;
    unsigned long long* w = p.weights + (size_t)row * vocab;

    // 1. NaN → −inf; 2. repetition penalty, gathered before any write.
    for (int i = tid; i < vocab; i += SAMPLE_THREADS) if (x[i] != x[i]) x[i] = __int_as_float(0xff800000);
    __syncthreads();
    const float penalty = p.penalty[row];
    const int p0 = p.prev_offsets[row], p1 = p.prev_offsets[row + 1];
    if (penalty != 1.0f)
    {
        for (int j = p0 + tid; j < p1; j += SAMPLE_THREADS)
        {
            const float v = x[p.prev_tokens[j]];
            p.prev_scratch[j] = v < 0.0f ? __fmul_rn(v, penalty) : __fdiv_rn(v, penalty);
        }
        __syncthreads();
        for (int j = p0 + tid; j < p1; j += SAMPLE_THREADS) x[p.prev_tokens[j]] = p.prev_scratch[j];
        __syncthreads();
    }

    // 3. Greedy: the first index of the maximum.
    const float temperature = p.temperature[row];
    if (temperature == 0.0f)
    {
        float best = __int_as_float(0xff800000);
        int index = 0x7fffffff;
        for (int i = tid; i < vocab; i += SAMPLE_THREADS)
            if (x[i] > best || (x[i] == best && best != __int_as_float(0xff800000) && i < index)) { best = x[i]; index = i; }
        const float m = block_max_f32(best, redf);
        if (tid == 0) shared_token = 0x7fffffff;
        __syncthreads();
        if (best == m && m != __int_as_float(0xff800000)) atomicMin(&shared_token, index);
        __syncthreads();
        if (tid == 0) p.ids[row] = shared_token == 0x7fffffff ? -1 : shared_token;
        return;
    }

    // 4. Temperature (an IEEE division), then top-k: the k-th largest value by a count radix select.
    for (int i = tid; i < vocab; i += SAMPLE_THREADS) x[i] = __fdiv_rn(x[i], temperature);
    __syncthreads();
    const int top_k = p.top_k[row];
    if (top_k > 0 && top_k < vocab)
    {
        if (tid == 0) { shared_prefix = 0; shared_k = top_k; }
        for (int shift = 24; shift >= 0; shift -= 8)
        {
            for (int d = tid; d < 256; d += SAMPLE_THREADS) hist[d] = 0;
            __syncthreads();
            const unsigned int prefix = shared_prefix;
            for (int i = tid; i < vocab; i += SAMPLE_THREADS)
            {
                const unsigned int key = ordered_bits(x[i]);
                if (shift == 24 || (key >> (shift + 8)) == (prefix >> (shift + 8))) atomicAdd(&hist[(key >> shift) & 0xffu], 1ull);
            }
            __syncthreads();
            if (tid == 0)
            {
                int k = shared_k, digit = 255;
                for (; digit > 0 && (int)hist[digit] < k; --digit) k -= (int)hist[digit];
                shared_k = k;
                shared_prefix = prefix | ((unsigned int)digit << shift);
            }
            __syncthreads();
        }
        const float kth = from_ordered_bits(shared_prefix);
        for (int i = tid; i < vocab; i += SAMPLE_THREADS) if (x[i] < kth) x[i] = __int_as_float(0xff800000);
        __syncthreads();
    }

    // 5. Fixed-point softmax weights.
    float local = __int_as_float(0xff800000);
    for (int i = tid; i < vocab; i += SAMPLE_THREADS) local = fmaxf(local, x[i]);
    const float max = block_max_f32(local, redf);
    if (max == __int_as_float(0xff800000)) { if (tid == 0) p.ids[row] = -1; return; }
    unsigned long long sum = 0;
    for (int i = tid; i < vocab; i += SAMPLE_THREADS)
    {
        const unsigned long long wi = x[i] == max ? (1ull << 40) : fixed_weight(__fsub_rn(x[i], max));
        w[i] = wi;
        sum += wi;
    }
    unsigned long long total = block_sum_u64(sum, red);

    // 6. Top-p: remove, in ascending (logit, id) order, every token whose inclusive cumulative weight is ≤ threshold;
    //    the boundary key B (the first key past the threshold) is found digit by digit from weight histograms.
    const float top_p = p.top_p[row];
    if (top_p < 1.0f)
    {
        const unsigned long long threshold = mul_fraction24(__float2ull_rz(__fmul_rn(__fsub_rn(1.0f, top_p), 16777216.0f)), total);
        unsigned long long prefix64 = 0;
        bool all_removed = false;
        if (tid == 0) shared_base = 0;
        for (int shift = 56; shift >= 0; shift -= 8)
        {
            for (int d = tid; d < 256; d += SAMPLE_THREADS) hist[d] = 0;
            __syncthreads();
            for (int i = tid; i < vocab; i += SAMPLE_THREADS)
            {
                if (w[i] == 0) continue;
                const unsigned long long key = ((unsigned long long)ordered_bits(x[i]) << 32) | (unsigned int)i;
                if (shift == 56 || (key >> (shift + 8)) == (prefix64 >> (shift + 8))) atomicAdd(&hist[(key >> shift) & 0xffu], w[i]);
            }
            __syncthreads();
            if (tid == 0)
            {
                unsigned long long base = shared_base;
                int digit = -1;
                for (int d = 0; d < 256; ++d)
                {
                    if (hist[d] == 0) continue;
                    if (base + hist[d] <= threshold) base += hist[d];
                    else { digit = d; break; }
                }
                shared_base = base;
                shared_k = digit; // −1: everything matching the prefix fits under the threshold
            }
            __syncthreads();
            if (shared_k < 0) { all_removed = true; break; }
            prefix64 |= (unsigned long long)shared_k << shift;
            __syncthreads();
        }
        // B = prefix64; when everything fits (top_p below float resolution) only the largest token stays.
        unsigned long long boundary = prefix64;
        if (all_removed)
        {
            unsigned long long best = 0;
            for (int i = tid; i < vocab; i += SAMPLE_THREADS)
                if (w[i] != 0) { const unsigned long long key = ((unsigned long long)ordered_bits(x[i]) << 32) | (unsigned int)i; if (key > best) best = key; }
            if (tid == 0) shared_base = 0;
            __syncthreads();
            atomicMax(&shared_base, best);
            __syncthreads();
            boundary = shared_base;
        }
        sum = 0;
        for (int i = tid; i < vocab; i += SAMPLE_THREADS)
        {
            if (w[i] == 0) continue;
            const unsigned long long key = ((unsigned long long)ordered_bits(x[i]) << 32) | (unsigned int)i;
            if (key < boundary) { w[i] = 0; x[i] = __int_as_float(0xff800000); }
            else sum += w[i];
        }
        total = block_sum_u64(sum, red);
    }

    // 7. The draw: the first id (ascending) whose inclusive cumulative weight exceeds floor(j·W / 2^24).
    const unsigned long long seed = p.seed[row], stream = p.stream[row];
    const unsigned int j = philox_x0((unsigned int)p.step[row], 0u, (unsigned int)stream, (unsigned int)(stream >> 32),
                                     (unsigned int)seed, (unsigned int)(seed >> 32)) >> 8;
    const unsigned long long target = mul_fraction24(j, total);
    if (tid == 0) { shared_token = 0x7fffffff; shared_base = 0; }
    __syncthreads();
    for (int chunk = 0; chunk < vocab; chunk += SAMPLE_THREADS)
    {
        const int i = chunk + tid;
        const unsigned long long wi = i < vocab ? w[i] : 0ull;
        // Inclusive block scan of wi: warp scan, then the warp totals.
        unsigned long long v = wi;
        const int lane = tid & 31, warp = tid >> 5;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) { const unsigned long long n = __shfl_up_sync(0xffffffffu, v, o); if (lane >= o) v += n; }
        if (lane == 31) red[warp] = v;
        __syncthreads();
        if (warp == 0)
        {
            unsigned long long t = red[lane];
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) { const unsigned long long n = __shfl_up_sync(0xffffffffu, t, o); if (lane >= o) t += n; }
            red[lane] = t;
        }
        __syncthreads();
        const unsigned long long before = shared_base;
        const unsigned long long inclusive = before + v + (warp > 0 ? red[warp - 1] : 0ull);
        if (wi != 0 && inclusive > target) atomicMin(&shared_token, i);
        __syncthreads();
        if (tid == 0) shared_base = before + red[31];
        __syncthreads();
        if (shared_token != 0x7fffffff) break;
    }
    if (tid == 0) p.ids[row] = shared_token == 0x7fffffff ? -1 : shared_token;
}
