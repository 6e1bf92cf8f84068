// embedding.cu — token embedding gather and fp32 ↔ bf16 conversion.
//   embedding_gather: y[t, :] = table[ids[t], :]   (an id outside [0, vocab) traps: the host validates first)
//   convert_f32_bf16 / convert_bf16_f32: elementwise, round to nearest even.
// Parallelisation: gather — one block per token, threads over 16-byte chunks; convert — grid-stride over elements.
// Shapes: table [vocab, hidden] bf16, ids int32 [tokens], y [tokens, hidden] bf16; hidden % 8 == 0.
//
// budget: embedding_gather_bf16 registers<=32 smem<=0
// budget: convert_f32_bf16 registers<=32 smem<=0
// budget: convert_bf16_f32 registers<=32 smem<=0
#include "common.cuh"

struct EmbeddingParams
{
    const bf16* table;   // [vocab, hidden]
    const int* ids;      // [tokens]
    bf16* y;             // [tokens, hidden]
    int tokens;
    int hidden;
    int vocab;
    int pad;
};
static_assert(sizeof(EmbeddingParams) == 40, "EmbeddingParams layout is mirrored in C#");

struct ConvertParams
{
    const void* x;
    void* y;
    long long count;
};
static_assert(sizeof(ConvertParams) == 24, "ConvertParams layout is mirrored in C#");

extern "C" __global__ void embedding_gather_bf16(const EmbeddingParams p)
{
    const int t = blockIdx.x;   // token
    const int id = p.ids[t];
    CUDA_KERNEL_ASSERT(id >= 0 && id < p.vocab);
    const bf16x8* src = reinterpret_cast<const bf16x8*>(p.table + (size_t)id * p.hidden);
    bf16x8* dst = reinterpret_cast<bf16x8*>(p.y + (size_t)t * p.hidden);
    for (int c = threadIdx.x; c < p.hidden / 8; c += blockDim.x) dst[c] = src[c];
}

extern "C" __global__ void convert_f32_bf16(const ConvertParams p)
{
    const float* x = static_cast<const float*>(p.x);
    bf16* y = static_cast<bf16*>(p.y);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.count; i += (long long)gridDim.x * blockDim.x)
        y[i] = f32_to_bf16(x[i]);
}

extern "C" __global__ void convert_bf16_f32(const ConvertParams p)
{
    const bf16* x = static_cast<const bf16*>(p.x);
    float* y = static_cast<float*>(p.y);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.count; i += (long long)gridDim.x * blockDim.x)
        y[i] = bf16_to_f32(x[i]);
}
