// kv_write.cu — new keys/values of a step into their paged-cache slots (spec/MODEL.md §3.3), RoPE fused on the keys
// and, when given, on the step's queries.
//   kv_write_bf16: k, v [tokens, kvHeads·D] (row strides k_stride/v_stride elements) → cache K/V
//                  [numBlocks, blockSize, kvHeads, D] at slot slots[t] = block·blockSize + offset (−1: skip the token).
//                  rope != 0 rotates the keys (rotate-half, angle fp32(positions[t]) · θ^(−2i/D), as rope.cu) on the
//                  way, so the step's keys are read once and written once. q non-null (rope != 0): the queries
//                  [tokens, qHeads·D] (row stride q_stride) are rotated in place in the same launch — rope_bf16's
//                  arithmetic, so the same bits — which saves a decoder layer one launch.
// One thread per (token, head, pair i < D/2): it moves elements i and i + D/2 of K and V, or rotates them in Q (the
// query pairs follow the key pairs in the index space); grid-stride.
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
    bf16* q;                               // [tokens, q_heads·D] rotated in place (null = none; needs rope)
    int tokens, kv_heads, head_dim, k_stride;
    int v_stride, rope, q_heads, q_stride;
    float theta;
    int pad;
};
static_assert(sizeof(KvWriteParams) == 96, "KvWriteParams layout is mirrored in C#");

// rope.cu's rotate(): the rotate-half angle of pair i at position pos, fp32 sin/cos.
__device__ __forceinline__ void kv_rotate(float pos, int i, int head_dim, float theta, float& sn, float& cs)
{
    const float inv = 1.0f / powf(theta, (float)(2 * i) / (float)head_dim);
    sincosf(pos * inv, &sn, &cs);
}

extern "C" __global__ void kv_write_bf16(const KvWriteParams p)
{
    pdl_trigger(); // the attention that reads these slots waits for this kernel in its pdl_wait()
    pdl_wait();    // k, v come from the projection just before
    const int half = p.head_dim / 2;
    const long long pairs = (long long)p.tokens * p.kv_heads * half;
    const long long q_pairs = p.q != nullptr && p.rope ? (long long)p.tokens * p.q_heads * half : 0;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < pairs + q_pairs; k += (long long)gridDim.x * blockDim.x)
    {
        if (k >= pairs)
        {
            const long long kq = k - pairs;
            const int i = (int)(kq % half);
            const int h = (int)((kq / half) % p.q_heads);
            const int t = (int)(kq / ((long long)half * p.q_heads));
            bf16* qr = p.q + (long long)t * p.q_stride + h * p.head_dim;
            float sn, cs;
            kv_rotate((float)p.positions[t], i, p.head_dim, p.theta, sn, cs);
            const float x1 = bf16_to_f32(qr[i]), x2 = bf16_to_f32(qr[i + half]);
            qr[i] = f32_to_bf16(x1 * cs - x2 * sn);
            qr[i + half] = f32_to_bf16(x2 * cs + x1 * sn);
            continue;
        }
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
            float sn, cs;
            kv_rotate((float)p.positions[t], i, p.head_dim, p.theta, sn, cs);
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
