// decode_combine.cuh — the split-K merge of attention_decode_paged.cu: one (sequence, head) row by a CTA (the combine
// launch), or a whole GQA group's rows at once (the tensor-core decode's fused combine; decode_tc.cuh holds the cluster
// form, which reads the partials from distributed shared memory).
#pragma once
#include "decode.cuh"

// Merges the splits of (sequence s, head h) into the bf16 output, by 128 threads. The splits' weights exp2(m_z − m)
// are computed once by the threads in parallel and kept in shared memory (w_s, ≥ splits floats); then warp w sums
// splits w, w + 4, … for every dim (a lane reads four consecutive dims, 16 bytes), the four warps' sums meet in
// shared memory (acc_s: 4 × DECODE_MAX_DIM floats, 16-byte aligned; scratch: 4 floats). Partials are read through L2
// (ld.global.cg): in the fused form other CTAs of this launch wrote them, and this SM's L1 may hold an older line.
// Ends with a barrier, so the shared buffers may be reused at once. splits ≤ DECODE_MAX_SPLITS.
__device__ __forceinline__ void decode_combine_row(const DecodeParams& p, int s, int h, float* w_s, float* scratch, float* acc_s)
{
    const int D = p.head_dim;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const long long row = (long long)s * p.heads + h;
    const float* ml = p.part_ml + row * p.splits * 2;
    float m = OWL3_NEG_INF;
    for (int z = threadIdx.x; z < p.splits; z += blockDim.x) m = fmaxf(m, __ldcg(ml + 2 * z));
    m = warp_max(m);
    __syncthreads(); // scratch may still be read by the previous row
    if (lane == 0) scratch[warp] = m;
    __syncthreads();
    m = fmaxf(fmaxf(scratch[0], scratch[1]), fmaxf(scratch[2], scratch[3]));
    float l = 0.0f;
    for (int z = threadIdx.x; z < p.splits; z += blockDim.x)
    {
        const float w = softmax_rescale(__ldcg(ml + 2 * z), m);
        w_s[z] = w;
        l += __ldcg(ml + 2 * z + 1) * w;
    }
    l = block_sum(l, scratch); // its barriers also publish w_s
    const float* po = p.part_o + row * p.splits * D;
    for (int d = 4 * lane; d < D; d += 128)
    {
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
#pragma unroll 4
        for (int z = warp; z < p.splits; z += DECODE_WARPS)
        {
            const float4 v = __ldcg(reinterpret_cast<const float4*>(po + (long long)z * D + d));
            const float w = w_s[z];
            a0 += v.x * w; a1 += v.y * w; a2 += v.z * w; a3 += v.w * w;
        }
        *reinterpret_cast<float4*>(&acc_s[warp * DECODE_MAX_DIM + d]) = make_float4(a0, a1, a2, a3);
    }
    __syncthreads();
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x)
    {
        const float o = ((acc_s[d] + acc_s[DECODE_MAX_DIM + d]) + acc_s[2 * DECODE_MAX_DIM + d]) + acc_s[3 * DECODE_MAX_DIM + d];
        p.o[(long long)s * p.o_stride + h * D + d] = f32_to_bf16(o * inv);
    }
    __syncthreads(); // w_s, scratch and acc_s are free again
}

// Merges the splits of `group` heads h0 … of sequence s at once, by 128 threads (the fused combine's form: one CTA does
// a whole GQA group, so the rows go in parallel rather than one after another — H200, session 3: merging a group of 7
// row by row made the fused launch 1.4–2.3× slower than two launches, ~12 µs of serial barriers and L2 round trips).
// Warp w finds the maximum and the weighted sum l of rows w, w + 4, … (m_s, l_s: group floats each; a row's (m, l)
// pairs read once, all in flight); then every
// thread takes (row, 4 dims) items and sums the splits' partials weighted by exp2(m_z − m), recomputed per item from
// part_ml (no per-split buffer: any group × splits fits). Partials are read through L2 (ld.global.cg): other CTAs of
// this launch wrote them. Sums run over the splits in order, so the result is deterministic.
__device__ __forceinline__ void decode_combine_group(const DecodeParams& p, int s, int h0, int group, float* m_s, float* l_s)
{
    const int D = p.head_dim, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int r = warp; r < group; r += DECODE_WARPS)
    {
        // (m, l) of the row's splits in one 8-byte load each, all of a lane's in flight at once (≤ 8 a lane).
        const float2* ml = reinterpret_cast<const float2*>(p.part_ml + ((long long)s * p.heads + h0 + r) * p.splits * 2);
        float2 v[DECODE_MAX_SPLITS / 32];
        float m = OWL3_NEG_INF;
#pragma unroll
        for (int k = 0; k < DECODE_MAX_SPLITS / 32; ++k)
        {
            const int z = lane + 32 * k;
            v[k] = z < p.splits ? __ldcg(ml + z) : make_float2(OWL3_NEG_INF, 0.0f);
        }
#pragma unroll
        for (int k = 0; k < DECODE_MAX_SPLITS / 32; ++k) m = fmaxf(m, v[k].x);
        m = warp_max(m);
        float l = 0.0f;
#pragma unroll
        for (int k = 0; k < DECODE_MAX_SPLITS / 32; ++k)
            if (lane + 32 * k < p.splits) l += v[k].y * softmax_rescale(v[k].x, m);
        l = warp_sum(l);
        if (lane == 0) { m_s[r] = m; l_s[r] = l; }
    }
    __syncthreads();
    const int quads = D / 4;
    for (int item = threadIdx.x; item < group * quads; item += blockDim.x)
    {
        const int r = item / quads, d = 4 * (item % quads);
        const long long row = (long long)s * p.heads + h0 + r;
        const float* ml = p.part_ml + row * p.splits * 2;
        const float* po = p.part_o + row * p.splits * D + d;
        const float m = m_s[r];
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
#pragma unroll 8
        for (int z = 0; z < p.splits; ++z) // unrolled: 16 independent L2 loads in flight a thread
        {
            const float w = softmax_rescale(__ldcg(ml + 2 * z), m);
            const float4 v = __ldcg(reinterpret_cast<const float4*>(po + (long long)z * D));
            a0 += v.x * w; a1 += v.y * w; a2 += v.z * w; a3 += v.w * w;
        }
        const float inv = l_s[r] > 0.0f ? 1.0f / l_s[r] : 0.0f;
        bf16* out = p.o + (long long)s * p.o_stride + (h0 + r) * D + d;
        out[0] = f32_to_bf16(a0 * inv); out[1] = f32_to_bf16(a1 * inv);
        out[2] = f32_to_bf16(a2 * inv); out[3] = f32_to_bf16(a3 * inv);
    }
}
