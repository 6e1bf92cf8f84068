// activation.cu — SwiGLU on the fused gate/up GEMM output, GELU (tanh and erf), bias add (spec/MODEL.md §3.5, §2.1, §2.2).
//   swiglu:    y[r, i] = silu(gu[r, i]) · gu[r, intermediate + i]     (gu = [gate | up] per row)
//   gelu_tanh: y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))         (SigLIP MLP)
//   gelu_erf:  y = 0.5·x·(1 + erf(x/√2))                              (241101 projector)
//   bias_add:  y[r, c] = x[r, c] + b[c]
// Parallelisation: grid-stride over 8-element (16-byte) chunks; each thread owns whole chunks.
// Shapes: gu [rows, 2·intermediate], y [rows, intermediate]; elementwise x, y [rows, cols]; b [cols]. cols % 8 == 0.
// Precision: bf16 in, fp32 math (erff/tanhf, no fast-math), bf16 out.
//
// budget: swiglu_bf16 registers<=40 smem<=0
// budget: gelu_tanh_bf16 registers<=40 smem<=0
// budget: gelu_erf_bf16 registers<=40 smem<=0
// budget: bias_add_bf16 registers<=40 smem<=0
#include "common.cuh"

struct ActivationParams
{
    const bf16* x;      // swiglu: gu [rows, 2·cols]; others: [rows, cols]
    const bf16* bias;   // bias_add only: [cols]
    bf16* y;            // [rows, cols]
    long long rows;
    int cols;           // swiglu: intermediate
    int pad;
};
static_assert(sizeof(ActivationParams) == 40, "ActivationParams layout is mirrored in C#");

enum class Act { SwiGlu, GeluTanh, GeluErf, BiasAdd };

template <Act A>
__device__ __forceinline__ float apply(float v, float other)
{
    if (A == Act::SwiGlu) return v / (1.0f + expf(-v)) * other;
    if (A == Act::GeluTanh) return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    if (A == Act::GeluErf) return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    return v + other;
}

template <Act A>
__device__ void activation(const ActivationParams& p)
{
    const int chunksPerRow = p.cols / 8;
    const long long chunks = p.rows * chunksPerRow;
    for (long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x; c < chunks; c += (long long)gridDim.x * blockDim.x)
    {
        const long long row = c / chunksPerRow;
        const int col = (int)(c % chunksPerRow) * 8;
        float v[8], o[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        if (A == Act::SwiGlu)
        {
            const bf16* gu = p.x + row * 2 * p.cols;
            bf16x8_to_f32(*reinterpret_cast<const bf16x8*>(gu + col), v);
            bf16x8_to_f32(*reinterpret_cast<const bf16x8*>(gu + p.cols + col), o);
        }
        else
        {
            bf16x8_to_f32(*reinterpret_cast<const bf16x8*>(p.x + row * p.cols + col), v);
            if (A == Act::BiasAdd) bf16x8_to_f32(*reinterpret_cast<const bf16x8*>(p.bias + col), o);
        }
#pragma unroll
        for (int i = 0; i < 8; ++i) v[i] = apply<A>(v[i], o[i]);
        *reinterpret_cast<bf16x8*>(p.y + row * p.cols + col) = f32_to_bf16x8(v);
    }
}

extern "C" __global__ void swiglu_bf16(const ActivationParams p) { activation<Act::SwiGlu>(p); }
extern "C" __global__ void gelu_tanh_bf16(const ActivationParams p) { activation<Act::GeluTanh>(p); }
extern "C" __global__ void gelu_erf_bf16(const ActivationParams p) { activation<Act::GeluErf>(p); }
extern "C" __global__ void bias_add_bf16(const ActivationParams p) { activation<Act::BiasAdd>(p); }
