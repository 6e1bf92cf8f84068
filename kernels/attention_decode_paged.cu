// attention_decode_paged.cu — one query token per sequence against its paged K/V (flash-decoding), with
// mPLUG-Owl3's visual keys in front (spec/MODEL.md §4): the keys of sequence s are the virtual list
//     [ visual 0 .. vis_lens[s) ; text 0 .. text_lens[s) ]
// in one softmax. 241101 fused hyper layers pass both; 240728/241014 cross-attention passes text_lens = 0 (a
// sequence with no visible image then gets zeros, as the CPU twin); plain layers pass no visual pointers.
//
//   attention_decode_paged_bf16   grid (kvHeads, seqs, splits), 128 threads. All query heads of one KV head (the GQA
//                                 group, ≤ 8) are served from one read of each K/V row. Split z covers virtual keys
//                                 [z·split_keys, (z+1)·split_keys). A key row is read by D/8 lanes (rounded up to a
//                                 power of two) with one 16-byte load each; lanes of a row reduce the dot by shuffles.
//                                 Each row-slot keeps its own online-softmax state; slots merge by shuffles, warps
//                                 through shared memory. splits == 1 writes bf16 output; otherwise fp32 partials.
//   attention_decode_tc_d{DP}_bf16 the same contract on tensor cores: the GQA group's query heads are the rows of one
//                                 m16 tile (≤ 16 heads; padding rows are zero), K/V stream through shared memory in
//                                 a ring of STAGES tiles of 64 keys (cp.async; STAGES − 1 in flight while one is
//                                 computed), each warp takes 16 keys of a tile (S = Q·Kᵀ and P·V by mma.sync m16n8k16,
//                                 fp32 accumulation) with its own online softmax; warps merge through shared memory.
//                                 Dynamic shared memory STAGES·2·64·(DP+8)·2 B. Row addresses (block-table reads) are
//                                 resolved STAGES tiles ahead into shared memory, so no table read stands between a
//                                 tile's cp.async issue and its data. 2 stages at every DP; 3 stages at DP 64 and 128
//                                 (attention_decode_tc_s3_d{DP}_bf16, an experiment until a device has timed it).
//   attention_decode_combine_bf16 grid (heads, seqs), 128 threads: merges the splits' (m, l, o) into the bf16 output
//                                 (split weights computed once, warps sum interleaved splits, ≤ 256 splits). With
//                                 split_counters the tensor-core kernel does this itself: the last split CTA of each
//                                 (sequence, KV head) to finish — a ticket counter, reset by that CTA — merges the
//                                 group's heads (one launch instead of two; the counters must start zeroed).
//
// Layouts (bf16 unless said): q, o [seqs, heads·D] (row strides q_stride/o_stride elements); K/V cache
// [numBlocks, blockSize, kvHeads, D]; block_tables int32 [seqs, max_blocks]; visual K/V of sequence s at the device
// address vis_k[s]/vis_v[s] (0 = none), [kvHeads, vis_tokens[s], D]; partials fp32 part_o [seqs, heads, splits, D],
// part_ml [seqs, heads, splits, 2]. D a multiple of 8, ≤ 256; heads / kvHeads ≤ 8 (CUDA cores) or ≤ 16 (tensor cores);
// q_stride even (the tensor-core kernel reads Q fragments as 32-bit words).
//
// budget: attention_decode_paged_bf16 registers<=168 smem<=26000
// budget: attention_decode_combine_bf16 registers<=64 smem<=5152
// budget: attention_decode_tc_d16_bf16 registers<=128 smem<=2048
// budget: attention_decode_tc_d32_bf16 registers<=128 smem<=2048
// budget: attention_decode_tc_d48_bf16 registers<=128 smem<=2048
// budget: attention_decode_tc_d64_bf16 registers<=128 smem<=2048
// budget: attention_decode_tc_d80_bf16 registers<=160 smem<=2048
// budget: attention_decode_tc_d96_bf16 registers<=160 smem<=2048
// budget: attention_decode_tc_d128_bf16 registers<=200 smem<=2048
// budget: attention_decode_tc_d160_bf16 registers<=232 smem<=2048
// budget: attention_decode_tc_d192_bf16 registers<=255 smem<=2048
// budget: attention_decode_tc_d256_bf16 registers<=255 smem<=2048
// budget: attention_decode_tc_s3_d64_bf16 registers<=128 smem<=3072
// budget: attention_decode_tc_s3_d128_bf16 registers<=200 smem<=3072
#include "decode.cuh" // DecodeParams, the DECODE_* sizes, decode_seq
#include "decode_tc.cuh" // decode_tc<DP, CLUSTER, STAGES>, the split merges

// Address of virtual key j's row for KV head kvh (visual rows first, then the paged text rows).
__device__ __forceinline__ const bf16* decode_row(const DecodeParams& p, const bf16* cache, const bf16* vis, int s, int kvh,
                                                  int vis_len, int vis_tokens, int j)
{
    if (j < vis_len) return vis + ((long long)kvh * vis_tokens + j) * p.head_dim;
    const int t = j - vis_len;
    const int block = p.block_tables[(long long)s * p.max_blocks + t / p.block_size];
    return cache + (((long long)block * p.block_size + t % p.block_size) * p.kv_heads + kvh) * p.head_dim;
}

extern "C" __global__ void __launch_bounds__(128) attention_decode_paged_bf16(const DecodeParams p)
{
    __shared__ float q_s[DECODE_MAX_GROUP * DECODE_MAX_DIM];                 // pre-scaled queries of the group
    __shared__ float acc_s[DECODE_WARPS][DECODE_MAX_GROUP * DECODE_MAX_DIM / 2]; // half the dims per pass
    __shared__ float m_s[DECODE_WARPS][DECODE_MAX_GROUP], l_s[DECODE_WARPS][DECODE_MAX_GROUP];

    const int kvh = blockIdx.x, s = blockIdx.y, z = blockIdx.z;
    const int D = p.head_dim, group = p.heads / p.kv_heads;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    pdl_trigger();
    pdl_wait(); // the second implementation keeps it simple: nothing before the previous kernel is done

    const DecodeSeq sq = decode_seq(p, s);
    const int vis_len = sq.vis_len, vis_tokens = sq.vis_tokens;
    const int total = vis_len + sq.text_len;
    const int begin = z * p.split_keys, end = min(total, begin + p.split_keys);
    const bf16* vis_k = sq.vis_k;
    const bf16* vis_v = sq.vis_v;

    for (int i = threadIdx.x; i < group * D; i += blockDim.x)
    {
        const int g = i / D, d = i % D;
        q_s[g * DECODE_MAX_DIM + d] = bf16_to_f32(p.q[(long long)s * p.q_stride + (kvh * group + g) * D + d]) * p.scale_log2;
    }
    __syncthreads();

    // Lanes per key row: D/8 rounded up to a power of two; slots = rows a warp reads at once.
    int lpk = 1;
    while (lpk * 8 < D) lpk <<= 1;
    const int slots = 32 / lpk, slot = lane / lpk, sl = lane % lpk;
    const bool has_dims = sl * 8 < D;

    float m[DECODE_MAX_GROUP], l[DECODE_MAX_GROUP], acc[DECODE_MAX_GROUP][8];
#pragma unroll
    for (int g = 0; g < DECODE_MAX_GROUP; ++g)
    {
        m[g] = OWL3_NEG_INF;
        l[g] = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[g][e] = 0.0f;
    }

    // Each pass a slot reads DECODE_UNROLL rows (keys j, j + step, ...) with all loads in flight before any math.
    const int step = DECODE_WARPS * slots;
    for (int j0 = begin + warp * slots + slot; j0 - slot < end; j0 += DECODE_UNROLL * step)
    {
        bf16x8 kraw[DECODE_UNROLL], vraw[DECODE_UNROLL];
#pragma unroll
        for (int u = 0; u < DECODE_UNROLL; ++u)
        {
            const int j = j0 + u * step;
            if (j < end && has_dims)
            {
                kraw[u] = *reinterpret_cast<const bf16x8*>(decode_row(p, p.k_cache, vis_k, s, kvh, vis_len, vis_tokens, j) + sl * 8);
                vraw[u] = *reinterpret_cast<const bf16x8*>(decode_row(p, p.v_cache, vis_v, s, kvh, vis_len, vis_tokens, j) + sl * 8);
            }
            else
            {
#pragma unroll
                for (int w = 0; w < 4; ++w) kraw[u].w[w] = vraw[u].w[w] = 0u; // every lane joins the shuffles
            }
        }
#pragma unroll
        for (int u = 0; u < DECODE_UNROLL; ++u)
        {
            const int j = j0 + u * step;
            if (j - slot >= end) break; // warp-uniform: no row of this pass for any slot
            float kf[8], vf[8];
            bf16x8_to_f32(kraw[u], kf);
            bf16x8_to_f32(vraw[u], vf);
#pragma unroll
            for (int g = 0; g < DECODE_MAX_GROUP; ++g)
            {
                if (g >= group) break;
                float dot = 0.0f;
                if (has_dims)
                {
                    const float4 q0 = *reinterpret_cast<const float4*>(&q_s[g * DECODE_MAX_DIM + sl * 8]);
                    const float4 q1 = *reinterpret_cast<const float4*>(&q_s[g * DECODE_MAX_DIM + sl * 8 + 4]);
                    dot = q0.x * kf[0] + q0.y * kf[1] + q0.z * kf[2] + q0.w * kf[3] + q1.x * kf[4] + q1.y * kf[5] + q1.z * kf[6] + q1.w * kf[7];
                }
                for (int off = lpk >> 1; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
                if (j < end)
                {
                    const float m_new = fmaxf(m[g], dot);
                    const float corr = softmax_rescale(m[g], m_new);
                    const float pr = exp2f(dot - m_new);
                    l[g] = l[g] * corr + pr;
#pragma unroll
                    for (int e = 0; e < 8; ++e) acc[g][e] = acc[g][e] * corr + pr * vf[e];
                    m[g] = m_new;
                }
            }
        }
    }

    // Merge the warp's slots (lanes with the same sl), then the warps through shared memory.
#pragma unroll
    for (int g = 0; g < DECODE_MAX_GROUP; ++g)
    {
        if (g >= group) break;
        float mw = m[g];
        for (int off = lpk; off < 32; off <<= 1) mw = fmaxf(mw, __shfl_xor_sync(0xffffffffu, mw, off));
        const float c = softmax_rescale(m[g], mw);
        float lw = l[g] * c;
        for (int off = lpk; off < 32; off <<= 1) lw += __shfl_xor_sync(0xffffffffu, lw, off);
#pragma unroll
        for (int e = 0; e < 8; ++e)
        {
            float a = acc[g][e] * c;
            for (int off = lpk; off < 32; off <<= 1) a += __shfl_xor_sync(0xffffffffu, a, off);
            acc[g][e] = a;
        }
        m[g] = mw;
        l[g] = lw;
        if (lane == 0) { m_s[warp][g] = mw; l_s[warp][g] = lw; }
    }
    __syncthreads();

    const long long row_o = (long long)s * p.heads + kvh * group; // first head of the group, as (seq, head) index
    // Two passes over half the dims each keep acc_s at 16 KiB per warp set.
    for (int half = 0; half < 2; ++half)
    {
        const int d_lo = half * (DECODE_MAX_DIM / 2);
        if (slot == 0 && has_dims && sl * 8 >= d_lo && sl * 8 < d_lo + DECODE_MAX_DIM / 2)
        {
#pragma unroll
            for (int g = 0; g < DECODE_MAX_GROUP; ++g)
            {
                if (g >= group) break;
#pragma unroll
                for (int e = 0; e < 8; ++e) acc_s[warp][g * (DECODE_MAX_DIM / 2) + sl * 8 - d_lo + e] = acc[g][e];
            }
        }
        __syncthreads();
        for (int i = threadIdx.x; i < group * (DECODE_MAX_DIM / 2); i += blockDim.x)
        {
            const int g = i / (DECODE_MAX_DIM / 2), d = d_lo + i % (DECODE_MAX_DIM / 2);
            if (d >= D) continue;
            float mf = OWL3_NEG_INF;
            for (int w = 0; w < DECODE_WARPS; ++w) mf = fmaxf(mf, m_s[w][g]);
            float lf = 0.0f, of = 0.0f;
            for (int w = 0; w < DECODE_WARPS; ++w)
            {
                const float c = softmax_rescale(m_s[w][g], mf);
                lf += l_s[w][g] * c;
                of += acc_s[w][i] * c;
            }
            if (p.splits == 1)
                p.o[(long long)s * p.o_stride + (kvh * group + g) * D + d] = f32_to_bf16(lf > 0.0f ? of / lf : 0.0f);
            else
            {
                const long long part = ((row_o + g) * p.splits + z);
                p.part_o[part * D + d] = of;
                if (d == 0) { p.part_ml[part * 2] = mf; p.part_ml[part * 2 + 1] = lf; }
            }
        }
        __syncthreads();
    }
}

// The separate combine launch: one CTA per (head, sequence).
extern "C" __global__ void __launch_bounds__(128) attention_decode_combine_bf16(const DecodeParams p)
{
    __shared__ float w_s[DECODE_MAX_SPLITS];
    __shared__ float scratch[DECODE_WARPS];
    __shared__ __align__(16) float acc_s[DECODE_WARPS * DECODE_MAX_DIM];
    pdl_trigger();
    pdl_wait(); // the partials come from the decode launch just before
    decode_combine_row(p, blockIdx.y, blockIdx.x, w_s, scratch, acc_s);
}

#define OWL3_DECODE_TC(DP) \
    extern "C" __global__ void __launch_bounds__(128) attention_decode_tc_d##DP##_bf16(const DecodeParams p) { decode_tc<DP, false, 2>(p); }
#define OWL3_DECODE_TC_S3(DP) \
    extern "C" __global__ void __launch_bounds__(128) attention_decode_tc_s3_d##DP##_bf16(const DecodeParams p) { decode_tc<DP, false, 3>(p); }

OWL3_DECODE_DIMS(OWL3_DECODE_TC)
OWL3_DECODE_STAGE_DIMS(OWL3_DECODE_TC_S3)
