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
//                                 double-buffered tiles of 64 keys (cp.async), each warp takes 16 keys of a tile
//                                 (S = Q·Kᵀ and P·V by mma.sync m16n8k16, fp32 accumulation) with its own online
//                                 softmax; warps merge through shared memory. Dynamic shared memory 2·2·64·(DP+8)·2 B.
//                                 Row addresses (block-table reads) are resolved two tiles ahead into shared memory, so
//                                 no table read stands between a tile's cp.async issue and its data.
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
#include "common.cuh"

#define DECODE_WARPS 4
#define DECODE_MAX_GROUP 8
#define DECODE_MAX_DIM 256
#define DECODE_UNROLL 4
#define DECODE_MAX_SPLITS 256 // AttentionKernels.DecodeSplits never plans more

struct DecodeParams
{
    const bf16* q;
    bf16* o;
    const bf16* k_cache;
    const bf16* v_cache;
    const int* block_tables;
    const int* text_lens;                  // [seqs] text keys (the current token included); 0 = cross-attention
    const int* vis_lens;                   // [seqs] visible visual keys (null = none anywhere)
    const unsigned long long* vis_k;       // [seqs] device addresses (null array = none anywhere)
    const unsigned long long* vis_v;
    const int* vis_tokens;                 // [seqs] visual tokens per KV head (row count of that head's slab)
    float* part_o;
    float* part_ml;
    int* split_counters;                   // [seqs, kvHeads] zeroed; non-null: the tensor-core kernel's last split combines
    int seqs, heads, kv_heads, head_dim;
    int block_size, max_blocks, splits, split_keys;
    int q_stride, o_stride;
    float scale_log2;                      // log2(e) / sqrt(D)
    int pad;
};
static_assert(sizeof(DecodeParams) == 152, "DecodeParams layout is mirrored in C#");

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

    const int vis_len = p.vis_lens != nullptr && p.vis_k != nullptr && p.vis_k[s] != 0ull ? p.vis_lens[s] : 0;
    const int total = vis_len + p.text_lens[s];
    const int begin = z * p.split_keys, end = min(total, begin + p.split_keys);
    const bf16* vis_k = vis_len > 0 ? (const bf16*)p.vis_k[s] : nullptr;
    const bf16* vis_v = vis_len > 0 ? (const bf16*)p.vis_v[s] : nullptr;
    const int vis_tokens = vis_len > 0 ? p.vis_tokens[s] : 0;

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

#include "decode_combine.cuh" // the split merges (by row, by GQA group)

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

// ---------------------------------------------------------------------------------------------------------------
// Tensor-core decode. Tile = 64 virtual keys; warp w owns keys 16w .. 16w + 15 of every tile.
#define DECODE_TC_KEYS 64

// Row addresses of one tile: thread r < 64 resolves virtual key j0 + r (visual slab or block-table entry) once for its
// K and its V row; null past the split's end. The kernel resolves tile i + 2 while tile i is computed, so the
// block-table read never stands between a tile's cp.async issue and its data.
__device__ __forceinline__ void decode_tc_rows(const DecodeParams& p, int j0, int end, int s, int kvh, int vis_len, int vis_tokens,
                                               const bf16* vis_k, const bf16* vis_v, const bf16*& kr, const bf16*& vr)
{
    const int j = j0 + (int)threadIdx.x;
    kr = nullptr;
    vr = nullptr;
    if (j >= end) return;
    if (j < vis_len)
    {
        const long long off = ((long long)kvh * vis_tokens + j) * p.head_dim;
        kr = vis_k + off;
        vr = vis_v + off;
    }
    else
    {
        const int t = j - vis_len;
        const int block = p.block_tables[(long long)s * p.max_blocks + t / p.block_size];
        const long long off = (((long long)block * p.block_size + t % p.block_size) * p.kv_heads + kvh) * p.head_dim;
        kr = p.k_cache + off;
        vr = p.v_cache + off;
    }
}

// Issues one tile's K and V rows (16-byte chunks) from the resolved row addresses.
template <int DP>
__device__ __forceinline__ void decode_tc_load(const DecodeParams& p, bf16* k_dst, bf16* v_dst, const bf16* const* rows_k, const bf16* const* rows_v)
{
    constexpr int CHUNKS = DP / 8, LD = DP + 8;
#pragma unroll 4
    for (int c = threadIdx.x; c < DECODE_TC_KEYS * CHUNKS; c += 128)
    {
        const int r = c / CHUNKS, col = (c % CHUNKS) * 8;
        const bf16* kr = rows_k[r];
        const bool ok = kr != nullptr && col < p.head_dim;
        // Masked chunks read nothing; the cache base is a valid address for them (the host checks it).
        cp_async_16(k_dst + r * LD + col, ok ? kr + col : p.k_cache, ok ? 16 : 0);
        cp_async_16(v_dst + r * LD + col, ok ? rows_v[r] + col : p.v_cache, ok ? 16 : 0);
    }
}

template <int DP>
__device__ __forceinline__ void decode_tc(const DecodeParams& p)
{
    constexpr int LD = DP + 8, KS = DP / 16, DT = DP / 8, TILE = DECODE_TC_KEYS * LD;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16* kv_s = reinterpret_cast<bf16*>(smem_raw); // [2 stages][K | V][64][LD]
    __shared__ const bf16* rows_k_s[2][DECODE_TC_KEYS];  // row addresses of the next tiles (slot = tile & 1)
    __shared__ const bf16* rows_v_s[2][DECODE_TC_KEYS];

    const int kvh = blockIdx.x, s = blockIdx.y, z = blockIdx.z;
    const int D = p.head_dim, group = p.heads / p.kv_heads;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, c4 = lane & 3;
    pdl_trigger();

    const int vis_len = p.vis_lens != nullptr && p.vis_k != nullptr && p.vis_k[s] != 0ull ? p.vis_lens[s] : 0;
    const int total = vis_len + p.text_lens[s];
    const int begin = z * p.split_keys, end = min(total, begin + p.split_keys);
    const bf16* vis_k = vis_len > 0 ? (const bf16*)p.vis_k[s] : nullptr;
    const bf16* vis_v = vis_len > 0 ? (const bf16*)p.vis_v[s] : nullptr;
    const int vis_tokens = vis_len > 0 ? p.vis_tokens[s] : 0;
    const int n_tiles = end > begin ? (end - begin + DECODE_TC_KEYS - 1) / DECODE_TC_KEYS : 0;

    // Row addresses of tiles 0 and 1, then tile 0 in flight; tile i + 1 loads while tile i is computed.
    if (threadIdx.x < DECODE_TC_KEYS)
        for (int x = 0; x < 2; ++x)
        {
            const bf16 *kr, *vr;
            decode_tc_rows(p, begin + x * DECODE_TC_KEYS, end, s, kvh, vis_len, vis_tokens, vis_k, vis_v, kr, vr);
            rows_k_s[x][threadIdx.x] = kr;
            rows_v_s[x][threadIdx.x] = vr;
        }
    __syncthreads();
    // Under a programmatic launch earlier kernels (the step's K/V write, Q's projection) may still run. The lengths,
    // the whole block tables (the newest key's entry too: its row address was resolved above) and the visual K/V must
    // be older than all of them (the host writes them before the step), and so is every cached key but the newest
    // text key. Tile 0 is issued before the wait when it cannot hold that key (the pipeline fills under the previous
    // kernel's tail); Q, and a tile holding the newest key, only after it.
    const bool early = n_tiles > 0 && (p.text_lens[s] == 0 || min(end, begin + DECODE_TC_KEYS) < total);
    if (early) decode_tc_load<DP>(p, kv_s, kv_s + TILE, rows_k_s[0], rows_v_s[0]);
    pdl_wait();
    if (n_tiles > 0 && !early) decode_tc_load<DP>(p, kv_s, kv_s + TILE, rows_k_s[0], rows_v_s[0]);
    cp_async_commit();

    // Q fragments of the group (rows = heads of the group, zero past it), straight from global memory: row g / g + 8,
    // k columns 2·c4 (+1) and 2·c4 + 8 (+1) of every 16-wide k-step.
    unsigned int qa[KS][4];
    const bf16* qbase = p.q + (long long)s * p.q_stride + (long long)kvh * group * D;
#pragma unroll
    for (int ks = 0; ks < KS; ++ks)
#pragma unroll
        for (int e = 0; e < 4; ++e)
        {
            const int row = g + 8 * (e & 1), col = ks * 16 + 2 * c4 + 8 * (e >> 1);
            qa[ks][e] = row < group && col < D ? *reinterpret_cast<const unsigned int*>(qbase + row * D + col) : 0u;
        }

    float o_acc[DT][4];
#pragma unroll
    for (int t = 0; t < DT; ++t) o_acc[t][0] = o_acc[t][1] = o_acc[t][2] = o_acc[t][3] = 0.0f;
    float m_run[2] = {OWL3_NEG_INF, OWL3_NEG_INF}, l_run[2] = {0.0f, 0.0f};

    for (int i = 0; i < n_tiles; ++i)
    {
        const int stage = i & 1;
        // Tile i + 2's row addresses: the block-table reads fly while this tile is computed.
        const bool resolve = threadIdx.x < DECODE_TC_KEYS && i + 2 < n_tiles;
        const bf16 *next_k = nullptr, *next_v = nullptr;
        if (resolve) decode_tc_rows(p, begin + (i + 2) * DECODE_TC_KEYS, end, s, kvh, vis_len, vis_tokens, vis_k, vis_v, next_k, next_v);
        if (i + 1 < n_tiles)
            decode_tc_load<DP>(p, kv_s + (stage ^ 1) * 2 * TILE, kv_s + (stage ^ 1) * 2 * TILE + TILE, rows_k_s[stage ^ 1], rows_v_s[stage ^ 1]);
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();
        const bf16* k_s = kv_s + stage * 2 * TILE;
        const bf16* v_s = k_s + TILE;

        // S = Q · Kᵀ over this warp's 16 keys (two n-tiles).
        float s_acc[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll
        for (int ks = 0; ks < KS; ++ks)
        {
            unsigned int b[4];
            ldmatrix_x4(b, k_s + (warp * 16 + (lane & 7) + ((lane >> 4) << 3)) * LD + ks * 16 + ((lane >> 3) & 1) * 8);
            mma_bf16_16816(s_acc[0], qa[ks], b[0], b[1]);
            mma_bf16_16816(s_acc[1], qa[ks], b[2], b[3]);
        }
        const int key0 = begin + i * DECODE_TC_KEYS + warp * 16;
        float m_new[2] = {m_run[0], m_run[1]};
#pragma unroll
        for (int t = 0; t < 2; ++t)
#pragma unroll
            for (int e = 0; e < 4; ++e)
            {
                const float v = key0 + t * 8 + 2 * c4 + (e & 1) < end ? s_acc[t][e] * p.scale_log2 : OWL3_NEG_INF;
                s_acc[t][e] = v;
                m_new[e >> 1] = fmaxf(m_new[e >> 1], v);
            }
        float corr[2], row_sum[2] = {0.0f, 0.0f};
#pragma unroll
        for (int ri = 0; ri < 2; ++ri)
        {
            m_new[ri] = fmaxf(m_new[ri], __shfl_xor_sync(0xffffffffu, m_new[ri], 1));
            m_new[ri] = fmaxf(m_new[ri], __shfl_xor_sync(0xffffffffu, m_new[ri], 2));
            corr[ri] = softmax_rescale(m_run[ri], m_new[ri]);
            m_run[ri] = m_new[ri];
        }
#pragma unroll
        for (int t = 0; t < 2; ++t)
#pragma unroll
            for (int e = 0; e < 4; ++e)
            {
                const float pr = fast_exp2(s_acc[t][e] - softmax_base(m_run[e >> 1]));
                s_acc[t][e] = pr;
                row_sum[e >> 1] += pr;
            }
#pragma unroll
        for (int ri = 0; ri < 2; ++ri)
        {
            row_sum[ri] += __shfl_xor_sync(0xffffffffu, row_sum[ri], 1);
            row_sum[ri] += __shfl_xor_sync(0xffffffffu, row_sum[ri], 2);
            l_run[ri] = l_run[ri] * corr[ri] + row_sum[ri];
        }
        unsigned int a[4];
        a[0] = pack_bf16x2(s_acc[0][0], s_acc[0][1]);
        a[1] = pack_bf16x2(s_acc[0][2], s_acc[0][3]);
        a[2] = pack_bf16x2(s_acc[1][0], s_acc[1][1]);
        a[3] = pack_bf16x2(s_acc[1][2], s_acc[1][3]);
#pragma unroll
        for (int t = 0; t < DT; t += 2)
        {
            o_acc[t][0] *= corr[0]; o_acc[t][1] *= corr[0]; o_acc[t][2] *= corr[1]; o_acc[t][3] *= corr[1];
            o_acc[t + 1][0] *= corr[0]; o_acc[t + 1][1] *= corr[0]; o_acc[t + 1][2] *= corr[1]; o_acc[t + 1][3] *= corr[1];
            unsigned int b[4];
            ldmatrix_x4_trans(b, v_s + (warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LD + t * 8 + (lane >> 4) * 8);
            mma_bf16_16816(o_acc[t], a, b[0], b[1]);
            mma_bf16_16816(o_acc[t + 1], a, b[2], b[3]);
        }
        if (resolve) { rows_k_s[stage][threadIdx.x] = next_k; rows_v_s[stage][threadIdx.x] = next_v; } // slot of tile i, now i + 2
        __syncthreads(); // the stage is refilled next iteration
    }
    cp_async_wait<0>();
    __syncthreads();

    // Merge the four warps' states through shared memory (reusing the tiles): rows 0..15, dims 0..DP.
    float* o_s = reinterpret_cast<float*>(smem_raw);            // [4][16][DP]
    float* ml_s = o_s + 4 * 16 * DP;                             // [4][16][2]
#pragma unroll
    for (int t = 0; t < DT; ++t)
#pragma unroll
        for (int e = 0; e < 4; ++e)
            o_s[(warp * 16 + g + 8 * (e >> 1)) * DP + t * 8 + 2 * c4 + (e & 1)] = o_acc[t][e];
    if (c4 == 0)
    {
        ml_s[(warp * 16 + g) * 2] = m_run[0]; ml_s[(warp * 16 + g) * 2 + 1] = l_run[0];
        ml_s[(warp * 16 + g + 8) * 2] = m_run[1]; ml_s[(warp * 16 + g + 8) * 2 + 1] = l_run[1];
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < group * D; idx += 128)
    {
        const int r = idx / D, d = idx % D;
        float mf = OWL3_NEG_INF;
#pragma unroll
        for (int w = 0; w < 4; ++w) mf = fmaxf(mf, ml_s[(w * 16 + r) * 2]);
        float lf = 0.0f, of = 0.0f;
#pragma unroll
        for (int w = 0; w < 4; ++w)
        {
            const float c = softmax_rescale(ml_s[(w * 16 + r) * 2], mf);
            lf += ml_s[(w * 16 + r) * 2 + 1] * c;
            of += o_s[(w * 16 + r) * DP + d] * c;
        }
        const int h = kvh * group + r;
        if (p.splits == 1)
            p.o[(long long)s * p.o_stride + h * D + d] = f32_to_bf16(lf > 0.0f ? of / lf : 0.0f);
        else
        {
            const long long part = ((long long)s * p.heads + h) * p.splits + z;
            p.part_o[part * D + d] = of;
            if (d == 0) { p.part_ml[part * 2] = mf; p.part_ml[part * 2 + 1] = lf; }
        }
    }

    // Fused combine (split_counters set): the last split of (sequence, KV head) to finish merges the group's heads —
    // one launch instead of two. Each CTA publishes its partials (fence), takes a ticket; the last resets the counter
    // (the buffer stays zeroed for the next launch or graph replay) and combines with the tiles' shared memory.
    if (p.splits > 1 && p.split_counters != nullptr)
    {
        __threadfence();
        __syncthreads();
        if (threadIdx.x == 0)
        {
            int* counter = p.split_counters + (long long)s * p.kv_heads + kvh;
            const bool last = atomicAdd(counter, 1) == p.splits - 1;
            if (last) *counter = 0;
            rows_k_s[0][0] = last ? kv_s : nullptr; // the verdict, through a shared slot no longer used
        }
        __syncthreads();
        if (rows_k_s[0][0] == nullptr) return;
        __threadfence();
        float* m_s = reinterpret_cast<float*>(smem_raw);           // [group]
        decode_combine_group(p, s, kvh * group, group, m_s, m_s + group);
    }
}

#define OWL3_DECODE_TC(DP) \
    extern "C" __global__ void __launch_bounds__(128) attention_decode_tc_d##DP##_bf16(const DecodeParams p) { decode_tc<DP>(p); }

OWL3_DECODE_TC(16)
OWL3_DECODE_TC(32)
OWL3_DECODE_TC(48)
OWL3_DECODE_TC(64)
OWL3_DECODE_TC(80)
OWL3_DECODE_TC(96)
OWL3_DECODE_TC(128)
OWL3_DECODE_TC(160)
OWL3_DECODE_TC(192)
OWL3_DECODE_TC(256)

