// norm.cu — RMSNorm, fused residual-add + RMSNorm, LayerNorm (spec/MODEL.md §3.3, §2.1).
//   rms_norm:     y = x · rsqrt(mean(x²) + eps) · w
//   rms_norm_residual: r = x + residual (written back to residual), y = rms_norm(r)
//   layer_norm:   y = (x − mean) · rsqrt(var + eps) · w + b   (two-pass statistics in fp32)
//   layer_norm_residual: r = x + residual (written back to residual), y = layer_norm(r)   (SigLIP's pre-norm layers)
// Parallelisation: one block per row (`rows` blocks), each thread owns 8-element (16-byte) chunks of the row.
// Shapes: x, residual, y: [rows, hidden] bf16 row-major; w, b: [hidden] bf16. hidden % 8 == 0 (every real model).
// Precision: bf16 in, fp32 statistics and math, bf16 out (the fp32 CPU backend is the reference).
//
// budget: rms_norm_bf16 registers<=48 smem<=256
// budget: rms_norm_residual_bf16 registers<=64 smem<=256
// budget: layer_norm_bf16 registers<=64 smem<=256
// budget: layer_norm_residual_bf16 registers<=64 smem<=256
#include "common.cuh"

struct NormParams
{
    const bf16* x;        // [rows, hidden]
    bf16* residual;       // [rows, hidden]; the *_residual kernels only (in: residual, out: x + residual)
    const bf16* weight;   // [hidden]
    const bf16* bias;     // [hidden]; layer_norm only
    bf16* y;              // [rows, hidden]
    int rows;
    int hidden;
    float eps;
    int pad;
};
static_assert(sizeof(NormParams) == 56, "NormParams layout is mirrored in C#");

// Chunk c of a row as fp32: x, or — with a residual — x + residual, rounded to bf16 and written back to the residual
// (the statistics are of the rounded sum, which is what the next layer reads).
template <bool AddResidual>
__device__ __forceinline__ void load_chunk(const bf16x8* x, bf16x8* res, int c, float (&v)[8])
{
    bf16x8_to_f32(x[c], v);
    if (!AddResidual) return;
    float r[8];
    bf16x8_to_f32(res[c], r);
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] += r[i];
    res[c] = f32_to_bf16x8(v);
    bf16x8_to_f32(res[c], v);
}

template <bool AddResidual>
__device__ void rms_norm_row(const NormParams& p)
{
    __shared__ float scratch[32];
    const int row = blockIdx.x;
    const bf16x8* x = reinterpret_cast<const bf16x8*>(p.x + (size_t)row * p.hidden);
    bf16x8* res = reinterpret_cast<bf16x8*>(p.residual + (size_t)row * p.hidden);
    const bf16x8* w = reinterpret_cast<const bf16x8*>(p.weight);
    bf16x8* y = reinterpret_cast<bf16x8*>(p.y + (size_t)row * p.hidden);
    const int chunks = p.hidden / 8;

    float sumsq = 0.0f;
    for (int c = threadIdx.x; c < chunks; c += blockDim.x)
    {
        float v[8];
        load_chunk<AddResidual>(x, res, c, v);
#pragma unroll
        for (int i = 0; i < 8; ++i) sumsq += v[i] * v[i];
    }
    const float scale = rsqrtf(block_sum(sumsq, scratch) / p.hidden + p.eps);
    for (int c = threadIdx.x; c < chunks; c += blockDim.x)
    {
        float v[8], g[8];
        bf16x8_to_f32(AddResidual ? res[c] : x[c], v);
        bf16x8_to_f32(w[c], g);
#pragma unroll
        for (int i = 0; i < 8; ++i) v[i] = v[i] * scale * g[i];
        y[c] = f32_to_bf16x8(v);
    }
}

template <bool AddResidual>
__device__ void layer_norm_row(const NormParams& p)
{
    __shared__ float scratch[32];
    const int row = blockIdx.x;
    const bf16x8* x = reinterpret_cast<const bf16x8*>(p.x + (size_t)row * p.hidden);
    bf16x8* res = reinterpret_cast<bf16x8*>(p.residual + (size_t)row * p.hidden);
    const bf16x8* w = reinterpret_cast<const bf16x8*>(p.weight);
    const bf16x8* b = reinterpret_cast<const bf16x8*>(p.bias);
    bf16x8* y = reinterpret_cast<bf16x8*>(p.y + (size_t)row * p.hidden);
    const int chunks = p.hidden / 8;
    // With a residual, the statistics are of the rounded sum (what the residual stream holds), read back from `res`.
    const bf16x8* in = AddResidual ? res : x;
    float sum = 0.0f;
    for (int c = threadIdx.x; c < chunks; c += blockDim.x)
    {
        float v[8];
        load_chunk<AddResidual>(x, res, c, v);
#pragma unroll
        for (int i = 0; i < 8; ++i) sum += v[i];
    }
    const float mean = block_sum(sum, scratch) / p.hidden; // block_sum synchronises: every chunk of `res` is written
    float sq = 0.0f;
    for (int c = threadIdx.x; c < chunks; c += blockDim.x)
    {
        float v[8];
        bf16x8_to_f32(in[c], v);
#pragma unroll
        for (int i = 0; i < 8; ++i) sq += (v[i] - mean) * (v[i] - mean);
    }
    const float inv = rsqrtf(block_sum(sq, scratch) / p.hidden + p.eps);
    for (int c = threadIdx.x; c < chunks; c += blockDim.x)
    {
        float v[8], g[8], bb[8];
        bf16x8_to_f32(in[c], v);
        bf16x8_to_f32(w[c], g);
        bf16x8_to_f32(b[c], bb);
#pragma unroll
        for (int i = 0; i < 8; ++i) v[i] = (v[i] - mean) * inv * g[i] + bb[i];
        y[c] = f32_to_bf16x8(v);
    }
}

extern "C" __global__ void rms_norm_bf16(const NormParams p) { rms_norm_row<false>(p); }
extern "C" __global__ void rms_norm_residual_bf16(const NormParams p) { rms_norm_row<true>(p); }
extern "C" __global__ void layer_norm_bf16(const NormParams p) { layer_norm_row<false>(p); }
extern "C" __global__ void layer_norm_residual_bf16(const NormParams p) { layer_norm_row<true>(p); }
