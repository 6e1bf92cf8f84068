// hyper.cu — the gated mix of 240728/241014 hyper layers (spec/MODEL.md §4.2 step 4): the cross-attention output
// enters the self-attention context through a sigmoid gate, only on rows that see at least one image.
//   hyper_gate_mix_bf16: context[t, i] ← c + σ(g)·(x − c) = (1 − σ(g))·c + σ(g)·x   where visible[t] > 0,
//                        c = context[t, i], x = cross[t, i], g = gate[t or 0, i] + bias[i % bias_period] (bias optional).
//   240728 (dynamic): gate = the gate_proj Linear of the context per head ([tokens, heads·D] pre-sigmoid, without its
//                     bias), bias = gate_proj.bias [D] with bias_period = D (one Linear shared by all heads).
//   241014 (static):  gate = the `gate` parameter [hidden] (gate_rows = 1), no bias.
// One thread per 8 elements (16-byte loads), grid-stride. bf16 in memory, fp32 math; cols a multiple of 8.
//
// budget: hyper_gate_mix_bf16 registers<=48 smem<=0
#include "common.cuh"

struct GateMixParams
{
    bf16* context;          // [rows, cols] in place
    const bf16* cross;      // [rows, cols]
    const bf16* gate;       // [gate_rows, cols] pre-sigmoid; gate_rows is rows or 1
    const bf16* bias;       // [bias_period] or null
    const int* visible;     // [rows] visible crops (0: the row is left alone)
    long long rows;
    int cols, gate_rows;
    int bias_period, pad;
};
static_assert(sizeof(GateMixParams) == 64, "GateMixParams layout is mirrored in C#");

extern "C" __global__ void hyper_gate_mix_bf16(const GateMixParams p)
{
    const int chunks = p.cols / 8;
    const long long total = p.rows * chunks;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < total; k += (long long)gridDim.x * blockDim.x)
    {
        const long long t = k / chunks;
        if (p.visible[t] == 0) continue;
        const int c0 = (int)(k % chunks) * 8;
        const long long off = t * p.cols + c0;
        const long long goff = (p.gate_rows == 1 ? 0 : t) * p.cols + c0;
        float c[8], x[8], g[8];
        bf16x8_to_f32(*reinterpret_cast<const bf16x8*>(p.context + off), c);
        bf16x8_to_f32(*reinterpret_cast<const bf16x8*>(p.cross + off), x);
        bf16x8_to_f32(*reinterpret_cast<const bf16x8*>(p.gate + goff), g);
#pragma unroll
        for (int e = 0; e < 8; ++e)
        {
            float z = g[e];
            if (p.bias != nullptr) z += bf16_to_f32(p.bias[(c0 + e) % p.bias_period]);
            const float s = 1.0f / (1.0f + expf(-z));
            c[e] = (1.0f - s) * c[e] + s * x[e];
        }
        *reinterpret_cast<bf16x8*>(p.context + off) = f32_to_bf16x8(c);
    }
}
