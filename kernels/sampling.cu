// sampling.cu — greedy token choice on the device.
//   sample_argmax: ids[r] = argmax_v logits[r, v]; ties → the lowest index (torch.argmax), NaN never wins.
// Parallelisation: one block per row; each thread scans a strided slice, then a warp/block (value, index) reduction.
// Shapes: logits [rows, vocab] fp32 (the lm_head output), ids int32 [rows]. Any vocab (151,851 rows and more).
// Seeded temperature / top-k / top-p sampling must reproduce the CPU sampler's fixed-point Philox draw exactly
// (src/Owl3Native/Engine/Sampling); that kernel is not written yet.
//
// budget: sample_argmax_f32 registers<=32 smem<=512
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
