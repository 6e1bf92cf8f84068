// rope.cu — rotate-half RoPE of text queries/keys and MI-RoPE of visual keys (spec/MODEL.md §3.4, §4.1).
//   rope:     x[t, h, i] / x[t, h, i + D/2] rotated by angle fp32(pos[t]) · inv_freq[i], in place.
//   mi_rope:  v_kv_proj output kv [imageTokens, kvHeads·2·D] (per head [K | V]) → keys [kvHeads, imageTokens, D]
//             rotated at the crop's marker position pos[u / tokensPerCrop], values [kvHeads, imageTokens, D] copied.
//   inv_freq[i] = 1 / θ^(2i/D) in fp32, as the reference builds it; fp32 sin/cos (no fast-math).
// Parallelisation: one thread per (row, head, i < D/2) pair of elements; grid-stride.
// Shapes as above, bf16; positions int32. headDim even (every config: 16…128, SigLIP not rotated).
//
// budget: rope_bf16 registers<=40 smem<=0
// budget: mi_rope_bf16 registers<=48 smem<=0
#include "common.cuh"

struct RopeParams
{
    bf16* x;                 // rope: [tokens, heads·D] in place; mi_rope: kv input [imageTokens, kvHeads·2·D]
    bf16* keys;              // mi_rope: [kvHeads, imageTokens, D]
    bf16* values;            // mi_rope: [kvHeads, imageTokens, D]
    const int* positions;    // rope: [tokens]; mi_rope: [crops]
    int tokens;              // rows of x (rope) or imageTokens (mi_rope)
    int heads;               // heads (rope) or kvHeads (mi_rope)
    int head_dim;
    int tokens_per_crop;     // mi_rope only
    float theta;
    int pad;
};
static_assert(sizeof(RopeParams) == 56, "RopeParams layout is mirrored in C#");

__device__ __forceinline__ void rotate(float x1, float x2, float pos, int i, int headDim, float theta, float& o1, float& o2)
{
    const float inv = 1.0f / powf(theta, (float)(2 * i) / (float)headDim);
    const float angle = pos * inv;
    float s, c;
    sincosf(angle, &s, &c);
    o1 = x1 * c - x2 * s;
    o2 = x2 * c + x1 * s;
}

extern "C" __global__ void rope_bf16(const RopeParams p)
{
    const int half = p.head_dim / 2;
    const long long pairs = (long long)p.tokens * p.heads * half;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < pairs; k += (long long)gridDim.x * blockDim.x)
    {
        const int i = (int)(k % half);                 // rotary pair index
        const long long th = k / half;                 // token·heads + head
        const int t = (int)(th / p.heads);
        bf16* head = p.x + th * p.head_dim;
        float o1, o2;
        rotate(bf16_to_f32(head[i]), bf16_to_f32(head[i + half]), (float)p.positions[t], i, p.head_dim, p.theta, o1, o2);
        head[i] = f32_to_bf16(o1);
        head[i + half] = f32_to_bf16(o2);
    }
}

extern "C" __global__ void mi_rope_bf16(const RopeParams p)
{
    const int half = p.head_dim / 2;
    const long long pairs = (long long)p.tokens * p.heads * half;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < pairs; k += (long long)gridDim.x * blockDim.x)
    {
        const int i = (int)(k % half);
        const long long ug = k / half;
        const int g = (int)(ug % p.heads);             // kv head
        const int u = (int)(ug / p.heads);             // image token
        const bf16* kv = p.x + ((long long)u * p.heads + g) * 2 * p.head_dim;   // head-major [K | V]
        bf16* key = p.keys + ((long long)g * p.tokens + u) * p.head_dim;
        bf16* value = p.values + ((long long)g * p.tokens + u) * p.head_dim;
        float o1, o2;
        rotate(bf16_to_f32(kv[i]), bf16_to_f32(kv[i + half]), (float)p.positions[u / p.tokens_per_crop], i, p.head_dim, p.theta, o1, o2);
        key[i] = f32_to_bf16(o1);
        key[i + half] = f32_to_bf16(o2);
        value[i] = kv[p.head_dim + i];
        value[i + half] = kv[p.head_dim + i + half];
    }
}
