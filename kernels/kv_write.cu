// kv_write.cu — new keys/values of a step into their paged-cache slots (spec/MODEL.md §3.3), RoPE fused on the keys.
//   kv_write_bf16: k, v [tokens, kvHeads·D] (row strides k_stride/v_stride elements) → cache K/V
//                  [numBlocks, blockSize, kvHeads, D] at slot slots[t] = block·blockSize + offset (−1: skip the token).
//                  rope != 0 rotates the keys (rotate-half, angle fp32(positions[t]) · θ^(−2i/D), as rope.cu) on the
//                  way, so the step's keys are read once and written once.
// One thread per (token, head, pair i < D/2): it moves elements i and i + D/2 of K and V; grid-stride.
//
// budget: kv_write_bf16 registers<=40 smem<=0
#include "common.cuh"

struct KvWriteParams
{
    const bf16* k;
    const bf16* v;
    bf16* k_cache;
    bf16* v_cache;
    const int* slots;
    const int* positions;
    int tokens, kv_heads, head_dim, k_stride;
    int v_stride, rope;
    float theta;
    int pad;
};
static_assert(sizeof(KvWriteParams) == 80, "KvWriteParams layout is mirrored in C#");

extern "C" __global__ void kv_write_bf16(const KvWriteParams p)
{
    pdl_trigger(); // the attention that reads these slots waits for this kernel in its pdl_wait()
    pdl_wait();    // k, v come from the projection just before
    const int half = p.head_dim / 2;
    const long long pairs = (long long)p.tokens * p.kv_heads * half;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < pairs; k += (long long)gridDim.x * blockDim.x)
    {
        const int i = (int)(k % half);
        const int hd = (int)((k / half) % p.kv_heads);
        const int t = (int)(k / ((long long)half * p.kv_heads));
        const int slot = p.slots[t];
        if (slot < 0) continue;
        const bf16* kr = p.k + (long long)t * p.k_stride + hd * p.head_dim;
        const bf16* vr = p.v + (long long)t * p.v_stride + hd * p.head_dim;
        const long long dst = ((long long)slot * p.kv_heads + hd) * p.head_dim;
        bf16 k1 = kr[i], k2 = kr[i + half];
        if (p.rope)
        {
            const float inv = 1.0f / powf(p.theta, (float)(2 * i) / (float)p.head_dim);
            float sn, cs;
            sincosf((float)p.positions[t] * inv, &sn, &cs);
            const float x1 = bf16_to_f32(k1), x2 = bf16_to_f32(k2);
            k1 = f32_to_bf16(x1 * cs - x2 * sn);
            k2 = f32_to_bf16(x2 * cs + x1 * sn);
        }
        p.k_cache[dst + i] = k1;
        p.k_cache[dst + i + half] = k2;
        p.v_cache[dst + i] = vr[i];
        p.v_cache[dst + i + half] = vr[i + half];
    }
}
