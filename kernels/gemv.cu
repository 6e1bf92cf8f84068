// gemv.cu — the projections of a decode step of few rows (batch ≤ 8) without a GEMM library: every weight row read once,
// straight from global memory, for all the step's rows at once.
//   gemv_bf16: y[r, o] = Σ_k x[r, k] · W[o, k] (+ bias[o]), r < m ≤ 8, fp32 accumulation, bf16 out.
//              swiglu != 0: W is a stacked [gate (n/2 rows) | up (n/2 rows)] weight and y has n/2 columns:
//              y[r, i] = silu(g) · u with g, u the bf16-rounded sums of rows i and i + n/2 — swiglu_bf16's arithmetic on
//              the values a GEMM would have written — so a layer's SwiGLU launch disappears.
// A CTA (128 threads) owns two weight rows (2b and 2b + 1; with swiglu, gate row b and up row b + n/2). Its threads walk
// k in 8-element (16-byte) chunks, GEMV_UNROLL chunks of both rows in flight a thread; the warps sum by shuffles, then
// through shared memory in warp order. Grid: ceil(n / 2) CTAs (n / 2 with swiglu) — at the 1B's n = 896 that is 448
// CTAs, enough loads in flight to keep HBM busy, where a warp a row pair would leave most of the chip idle.
// Shapes: W [n, k] row-major (a Linear's weight); x [m, x_stride]; y [m, y_stride]. k and x_stride multiples of 8,
// 16-byte aligned bases. Opt-in in the engine (OWL3_GEMV=1) until a device run has timed it against cuBLASLt (the GPU
// check's gemv rows).
//
// budget: gemv_bf16 registers<=96 smem<=256
#include "common.cuh"

#define GEMV_MAX_M 8
#define GEMV_UNROLL 2

struct GemvParams
{
    const bf16* x;
    const bf16* w;
    const bf16* bias;                      // [n] or null
    bf16* y;
    int m, n, k, x_stride;
    int y_stride, swiglu;                  // swiglu != 0: W = [gate | up], y[r, i] = silu(gate_i) · up_i
    int pad0, pad1;
};
static_assert(sizeof(GemvParams) == 64, "GemvParams layout is mirrored in C#");

extern "C" __global__ void __launch_bounds__(128) gemv_bf16(const GemvParams p)
{
    __shared__ float part_s[4][GEMV_MAX_M][2];
    pdl_trigger();
    pdl_wait(); // x comes from the kernel just before
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int half = p.n / 2;
    const int row0 = p.swiglu ? (int)blockIdx.x : 2 * (int)blockIdx.x;
    const int row1 = p.swiglu ? (int)blockIdx.x + half : 2 * (int)blockIdx.x + 1;
    const bool has1 = row1 < p.n; // without swiglu an odd n leaves the last CTA one row
    const int chunks = p.k / 8;
    const bf16* w0 = p.w + (long long)row0 * p.k;
    const bf16* w1 = p.w + (long long)(has1 ? row1 : row0) * p.k;
    float acc[GEMV_MAX_M][2];
#pragma unroll
    for (int r = 0; r < GEMV_MAX_M; ++r) acc[r][0] = acc[r][1] = 0.0f;

    for (int c0 = threadIdx.x; c0 < chunks; c0 += 128 * GEMV_UNROLL)
    {
        // Every weight chunk of this pass in flight before any is used.
        bf16x8 wv[GEMV_UNROLL][2];
#pragma unroll
        for (int u = 0; u < GEMV_UNROLL; ++u)
        {
            const int c = c0 + 128 * u;
            if (c < chunks)
            {
                wv[u][0] = *reinterpret_cast<const bf16x8*>(w0 + 8 * c);
                wv[u][1] = *reinterpret_cast<const bf16x8*>(w1 + 8 * c);
            }
        }
#pragma unroll
        for (int u = 0; u < GEMV_UNROLL; ++u)
        {
            const int c = c0 + 128 * u;
            if (c >= chunks) break;
            float wf0[8], wf1[8];
            bf16x8_to_f32(wv[u][0], wf0);
            bf16x8_to_f32(wv[u][1], wf1);
#pragma unroll
            for (int r = 0; r < GEMV_MAX_M; ++r)
            {
                if (r >= p.m) break;
                float xf[8];
                bf16x8_to_f32(*reinterpret_cast<const bf16x8*>(p.x + (long long)r * p.x_stride + 8 * c), xf);
#pragma unroll
                for (int e = 0; e < 8; ++e)
                {
                    acc[r][0] = fmaf(xf[e], wf0[e], acc[r][0]);
                    acc[r][1] = fmaf(xf[e], wf1[e], acc[r][1]);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < GEMV_MAX_M; ++r)
    {
        if (r >= p.m) break;
        const float v0 = warp_sum(acc[r][0]), v1 = warp_sum(acc[r][1]);
        if (lane == 0) { part_s[warp][r][0] = v0; part_s[warp][r][1] = v1; }
    }
    __syncthreads();
    if ((int)threadIdx.x >= p.m) return;
    const int r = threadIdx.x;
    float v0 = ((part_s[0][r][0] + part_s[1][r][0]) + part_s[2][r][0]) + part_s[3][r][0];
    float v1 = ((part_s[0][r][1] + part_s[1][r][1]) + part_s[2][r][1]) + part_s[3][r][1];
    if (p.bias != nullptr)
    {
        v0 += bf16_to_f32(p.bias[row0]);
        if (has1) v1 += bf16_to_f32(p.bias[row1]);
    }
    bf16* out = p.y + (long long)r * p.y_stride;
    if (p.swiglu)
    {
        const float g = bf16_to_f32(f32_to_bf16(v0)), u = bf16_to_f32(f32_to_bf16(v1));
        out[blockIdx.x] = f32_to_bf16(g / (1.0f + expf(-g)) * u);
    }
    else
    {
        out[row0] = f32_to_bf16(v0);
        if (has1) out[row1] = f32_to_bf16(v1);
    }
}
