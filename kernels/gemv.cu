// gemv.cu — the projections of a decode step of few rows (batch ≤ 8) without a GEMM library: every weight row read once,
// straight from global memory, for all the step's rows at once.
//   gemv_bf16: y[r, n] = Σ_k x'[r, k] · W[n, k] (+ bias[n]), r < m ≤ 8, fp32 accumulation, bf16 out.
//              x' = x, or with swiglu the SwiGLU of a [gate | up] row — silu(gate[k]) · up[k] rounded to bf16, as
//              activation.cu's swiglu_bf16 writes it — so a layer's down projection needs no SwiGLU launch before it.
// A warp owns GEMV_ROWS consecutive output rows; its lanes walk k in 8-element (16-byte) chunks, GEMV_UNROLL chunks of
// each row in flight at once, and the warp sums its lanes by shuffles. 128 threads, n / (4 · GEMV_ROWS) CTAs.
// Shapes: W [n, k] row-major (a Linear's weight); x [m, x_stride] (swiglu: gate at column k', up at k' + k);
// y [m, y_stride]. k, x_stride, y_stride multiples of 8; 16-byte aligned bases. Opt-in in the engine (OWL3_GEMV=1)
// until a device run has timed it against cuBLASLt (the GPU check's gemv rows).
//
// budget: gemv_bf16 registers<=96 smem<=0
#include "common.cuh"

#define GEMV_MAX_M 8
#define GEMV_ROWS 2
#define GEMV_UNROLL 2

struct GemvParams
{
    const bf16* x;
    const bf16* w;
    const bf16* bias;                      // [n] or null
    bf16* y;
    int m, n, k, x_stride;
    int y_stride, swiglu;                  // swiglu != 0: x rows are [gate (k) | up (k)]
    int pad0, pad1;
};
static_assert(sizeof(GemvParams) == 64, "GemvParams layout is mirrored in C#");

// The input chunk of row r at element c (8 elements): x as it is, or swiglu_bf16's bf16 output of the [gate | up] row.
__device__ __forceinline__ void gemv_input(const GemvParams& p, int r, int c, float (&xf)[8])
{
    const bf16* row = p.x + (long long)r * p.x_stride;
    bf16x8_to_f32(*reinterpret_cast<const bf16x8*>(row + c), xf);
    if (p.swiglu)
    {
        float up[8];
        bf16x8_to_f32(*reinterpret_cast<const bf16x8*>(row + p.k + c), up);
#pragma unroll
        for (int e = 0; e < 8; ++e) xf[e] = bf16_to_f32(f32_to_bf16(xf[e] / (1.0f + expf(-xf[e])) * up[e]));
    }
}

extern "C" __global__ void __launch_bounds__(128) gemv_bf16(const GemvParams p)
{
    pdl_trigger();
    pdl_wait(); // x comes from the kernel just before
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int n0 = (blockIdx.x * 4 + warp) * GEMV_ROWS;
    if (n0 >= p.n) return; // warp-uniform: no barrier below
    const int chunks = p.k / 8;
    float acc[GEMV_MAX_M][GEMV_ROWS];
#pragma unroll
    for (int r = 0; r < GEMV_MAX_M; ++r)
#pragma unroll
        for (int j = 0; j < GEMV_ROWS; ++j) acc[r][j] = 0.0f;

    for (int c0 = lane; c0 < chunks; c0 += 32 * GEMV_UNROLL)
    {
        // Every weight chunk of this pass in flight before any is used.
        bf16x8 wv[GEMV_UNROLL][GEMV_ROWS];
#pragma unroll
        for (int u = 0; u < GEMV_UNROLL; ++u)
#pragma unroll
            for (int j = 0; j < GEMV_ROWS; ++j)
            {
                const int c = c0 + 32 * u;
                if (c < chunks && n0 + j < p.n)
                    wv[u][j] = *reinterpret_cast<const bf16x8*>(p.w + (long long)(n0 + j) * p.k + 8 * c);
                else
                    wv[u][j].w[0] = wv[u][j].w[1] = wv[u][j].w[2] = wv[u][j].w[3] = 0u;
            }
#pragma unroll
        for (int u = 0; u < GEMV_UNROLL; ++u)
        {
            const int c = c0 + 32 * u;
            if (c >= chunks) break;
            float wf[GEMV_ROWS][8];
#pragma unroll
            for (int j = 0; j < GEMV_ROWS; ++j) bf16x8_to_f32(wv[u][j], wf[j]);
#pragma unroll
            for (int r = 0; r < GEMV_MAX_M; ++r)
            {
                if (r >= p.m) break;
                float xf[8];
                gemv_input(p, r, 8 * c, xf);
#pragma unroll
                for (int j = 0; j < GEMV_ROWS; ++j)
#pragma unroll
                    for (int e = 0; e < 8; ++e) acc[r][j] = fmaf(xf[e], wf[j][e], acc[r][j]);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < GEMV_MAX_M; ++r)
    {
        if (r >= p.m) break;
#pragma unroll
        for (int j = 0; j < GEMV_ROWS; ++j)
        {
            const float v = warp_sum(acc[r][j]);
            if (lane == 0 && n0 + j < p.n)
                p.y[(long long)r * p.y_stride + n0 + j] = f32_to_bf16(v + (p.bias != nullptr ? bf16_to_f32(p.bias[n0 + j]) : 0.0f));
        }
    }
}
