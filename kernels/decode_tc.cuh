// decode_tc.cuh — the tensor-core decode (attention_decode_tc[_s3]_d{DP}_bf16 in attention_decode_paged.cu) and its
// cluster form (attention_decode_cluster[_s3]_d{DP}_bf16 in attention_decode_cluster.cu, sm_90): one template,
// decode_tc<DP, CLUSTER, STAGES>.
// The contract of both is DecodeParams (decode.cuh); the file comments of the two .cu files say what each writes.
#pragma once
#include "decode.cuh"
#include "decode_combine.cuh"

// ---------------------------------------------------------------------------------------------------------------
// Tensor-core decode. Tile = 64 virtual keys; warp w owns keys 16w .. 16w + 15 of every tile.
#define DECODE_TC_KEYS 64

// The padded head dims each form is instantiated for (X-macros over AttentionKernels.PrefillDims and DecodeStageDims).
#define OWL3_DECODE_DIMS(X) X(16) X(32) X(48) X(64) X(80) X(96) X(128) X(160) X(192) X(256)
#define OWL3_DECODE_STAGE_DIMS(X) X(64) X(128)

// Row addresses of one tile: thread r < 64 resolves virtual key j0 + r (visual slab or block-table entry) once for its
// K and its V row; null past the split's end. The kernel resolves tile i + STAGES while tile i is computed, so the
// block-table read never stands between a tile's cp.async issue and its data.
template <bool EARLY_TABLE>
__device__ __forceinline__ void decode_tc_rows(const DecodeParams& p, int j0, int end, int s, int kvh, const DecodeSeq& q,
                                               const bf16*& kr, const bf16*& vr)
{
    const int j = j0 + (int)threadIdx.x;
    const int t = j - q.vis_len;
    int block = 0;
    // EARLY_TABLE (the first tiles, at the head of the CTA's chain): the table entry is read before the split's end is
    // known to cover j — the lengths arrive beside it, not before it. Only this sequence's own row of the table is
    // touched, and an entry past its blocks is never used.
    if (EARLY_TABLE && p.block_tables != nullptr && t >= 0 && t / p.block_size < p.max_blocks)
        block = p.block_tables[(long long)s * p.max_blocks + t / p.block_size];
    kr = nullptr;
    vr = nullptr;
    if (j >= end) return;
    if (j < q.vis_len)
    {
        const long long off = ((long long)kvh * q.vis_tokens + j) * p.head_dim;
        kr = q.vis_k + off;
        vr = q.vis_v + off;
    }
    else
    {
        if (!EARLY_TABLE) block = p.block_tables[(long long)s * p.max_blocks + t / p.block_size];
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

// Thread-block clusters (sm_90; the cluster form only — elsewhere these trap): this CTA's rank in its cluster, the address
// of the same shared variable in the CTA of another rank, loads through that address (distributed shared memory), and
// the cluster-wide barrier (arrive releases, wait acquires by default: the shared-memory writes of every CTA before it are
// visible to every CTA of the cluster after it).
__device__ __forceinline__ unsigned int cluster_rank()
{
    unsigned int r = 0u;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
#else
    asm volatile("trap;");
#endif
    return r;
}

__device__ __forceinline__ unsigned int cluster_map(unsigned int smem, unsigned int rank)
{
    unsigned int r = 0u;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(r) : "r"(smem), "r"(rank));
#else
    asm volatile("trap;");
#endif
    return r;
}

__device__ __forceinline__ float2 cluster_ld2(unsigned int addr)
{
    float2 v = make_float2(0.0f, 0.0f);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("ld.shared::cluster.v2.f32 {%0, %1}, [%2];" : "=f"(v.x), "=f"(v.y) : "r"(addr) : "memory");
#else
    asm volatile("trap;");
#endif
    return v;
}

__device__ __forceinline__ float4 cluster_ld4(unsigned int addr)
{
    float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "r"(addr) : "memory");
#else
    asm volatile("trap;");
#endif
    return v;
}

__device__ __forceinline__ void cluster_sync()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("barrier.cluster.arrive.aligned;\n\tbarrier.cluster.wait.aligned;" ::: "memory");
#else
    asm volatile("trap;");
#endif
}

// The cluster form's split merge (decode_combine_group's arithmetic in its order, so the same bits from the same
// partials): split z's partials — o [16][DP] and (m, l) [16][2] floats at cl_o / cl_ml — are in the shared memory of
// the cluster's CTA of rank z (the cluster spans the launch's z dimension, so rank = split). Every CTA first finds each
// row's max and sum over the splits (warp w takes rows w, w + 4, …; lane z reads split z; ml_s: [16][2] of its own);
// then the cluster's CTAs share the (row, 4 dims) items, rank-major, each summing the splits in split order. Must be
// entered after a cluster barrier that follows every CTA's writes of its partials. splits ≤ 32.
template <int DP>
__device__ __forceinline__ void decode_combine_cluster(const DecodeParams& p, int s, int h0, int group, const float* cl_o, const float* cl_ml, float* ml_s)
{
    const int D = p.head_dim, n = p.splits, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const unsigned int o_base = smem_addr(cl_o), ml_base = smem_addr(cl_ml);
    for (int r = warp; r < group; r += DECODE_WARPS)
    {
        const float2 v = lane < n ? cluster_ld2(cluster_map(ml_base + 8u * r, lane)) : make_float2(OWL3_NEG_INF, 0.0f);
        const float m = warp_max(v.x);
        float l = 0.0f;
        if (lane < n) l += v.y * softmax_rescale(v.x, m);
        l = warp_sum(l);
        if (lane == 0) { ml_s[2 * r] = m; ml_s[2 * r + 1] = l; }
    }
    __syncthreads();
    const int quads = D / 4;
    for (int item = (int)cluster_rank() * 128 + (int)threadIdx.x; item < group * quads; item += n * 128)
    {
        const int r = item / quads, d = 4 * (item % quads);
        const float m = ml_s[2 * r];
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
#pragma unroll 8
        for (int z = 0; z < n; ++z) // unrolled: the remote loads of 8 splits in flight a thread
        {
            const float w = softmax_rescale(cluster_ld2(cluster_map(ml_base + 8u * r, z)).x, m);
            const float4 v = cluster_ld4(cluster_map(o_base + 4u * (r * DP + d), z));
            a0 += v.x * w; a1 += v.y * w; a2 += v.z * w; a3 += v.w * w;
        }
        const float inv = ml_s[2 * r + 1] > 0.0f ? 1.0f / ml_s[2 * r + 1] : 0.0f;
        bf16* out = p.o + (long long)s * p.o_stride + (h0 + r) * D + d;
        out[0] = f32_to_bf16(a0 * inv); out[1] = f32_to_bf16(a1 * inv);
        out[2] = f32_to_bf16(a2 * inv); out[3] = f32_to_bf16(a3 * inv);
    }
}

template <int DP, bool CLUSTER, int STAGES>
__device__ __forceinline__ void decode_tc(const DecodeParams& p)
{
    static_assert(STAGES >= 2, "a tile computes while the next loads");
    constexpr int LD = DP + 8, KS = DP / 16, DT = DP / 8, TILE = DECODE_TC_KEYS * LD;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16* kv_s = reinterpret_cast<bf16*>(smem_raw); // [STAGES][K | V][64][LD]
    __shared__ const bf16* rows_k_s[STAGES][DECODE_TC_KEYS];  // row addresses of the next tiles (slot = tile % STAGES)
    __shared__ const bf16* rows_v_s[STAGES][DECODE_TC_KEYS];

    const int kvh = blockIdx.x, s = blockIdx.y, z = blockIdx.z;
    const int D = p.head_dim, group = p.heads / p.kv_heads;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, c4 = lane & 3;
    pdl_trigger();

    const DecodeSeq q = decode_seq(p, s);
    const int total = q.vis_len + q.text_len;
    const int begin = z * p.split_keys, end = min(total, begin + p.split_keys);
    const int n_tiles = end > begin ? (end - begin + DECODE_TC_KEYS - 1) / DECODE_TC_KEYS : 0;

    // Row addresses of tiles 0 … STAGES − 1, then tiles 0 … STAGES − 2 in flight; tile i + STAGES − 1 loads while
    // tile i is computed.
    if (threadIdx.x < DECODE_TC_KEYS)
        for (int x = 0; x < STAGES; ++x)
        {
            const bf16 *kr, *vr;
            decode_tc_rows<true>(p, begin + x * DECODE_TC_KEYS, end, s, kvh, q, kr, vr);
            rows_k_s[x][threadIdx.x] = kr;
            rows_v_s[x][threadIdx.x] = vr;
        }
    __syncthreads();
    // Under a programmatic launch earlier kernels (the step's K/V write, which also rotates Q) may still run. The lengths,
    // the whole block tables (the newest key's entry too: its row address was resolved above) and the visual K/V must
    // be older than all of them (the host writes them before the step), and so is every cached key but the newest
    // text key. A tile is issued before the wait when it cannot hold that key (the pipeline fills under the previous
    // kernel's tail); Q, and the tile holding the newest key (at most one: the split's last), only after it.
    bool early[STAGES - 1];
#pragma unroll
    for (int x = 0; x < STAGES - 1; ++x)
    {
        early[x] = x < n_tiles && (q.text_len == 0 || min(end, begin + (x + 1) * DECODE_TC_KEYS) < total);
        if (early[x]) decode_tc_load<DP>(p, kv_s + x * 2 * TILE, kv_s + x * 2 * TILE + TILE, rows_k_s[x], rows_v_s[x]);
    }
    pdl_wait();
#pragma unroll
    for (int x = 0; x < STAGES - 1; ++x)
        if (x < n_tiles && !early[x]) decode_tc_load<DP>(p, kv_s + x * 2 * TILE, kv_s + x * 2 * TILE + TILE, rows_k_s[x], rows_v_s[x]);
    // The prologue's tiles are one commit group (issued together, they land together), then STAGES − 2 empty groups:
    // the loop's wait<STAGES − 1> then finds tile i's group complete at iteration i, the prologue's at iteration 0.
    cp_async_commit();
#pragma unroll
    for (int e = 0; e < STAGES - 2; ++e) cp_async_commit();

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
        const int stage = i % STAGES;
        // Tile i + STAGES's row addresses: the block-table reads fly while this tile is computed.
        const bool resolve = threadIdx.x < DECODE_TC_KEYS && i + STAGES < n_tiles;
        const bf16 *next_k = nullptr, *next_v = nullptr;
        if (resolve) decode_tc_rows<false>(p, begin + (i + STAGES) * DECODE_TC_KEYS, end, s, kvh, q, next_k, next_v);
        // Tile i + STAGES − 1 into the stage tile i − 1 left (the previous iteration's last barrier freed it).
        const int ahead = i + STAGES - 1, ahead_stage = ahead % STAGES;
        if (ahead < n_tiles)
            decode_tc_load<DP>(p, kv_s + ahead_stage * 2 * TILE, kv_s + ahead_stage * 2 * TILE + TILE, rows_k_s[ahead_stage], rows_v_s[ahead_stage]);
        cp_async_commit();
        cp_async_wait<STAGES - 1>(); // every group up to tile i's has landed
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
        if (resolve) { rows_k_s[stage][threadIdx.x] = next_k; rows_v_s[stage][threadIdx.x] = next_v; } // slot of tile i, now i + STAGES
        __syncthreads(); // the stage is refilled next iteration
    }
    cp_async_wait<0>();
    __syncthreads();

    // Merge the four warps' states through shared memory (reusing the tiles): rows 0..15, dims 0..DP.
    float* o_s = reinterpret_cast<float*>(smem_raw);            // [4][16][DP]
    float* ml_s = o_s + 4 * 16 * DP;                             // [4][16][2]
    float* cl_o = ml_s + 4 * 16 * 2;                             // cluster form: this split's [16][DP] and [16][2]
    float* cl_ml = cl_o + 16 * DP;
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
        if constexpr (CLUSTER)
        {
            cl_o[r * DP + d] = of;
            if (d == 0) { cl_ml[r * 2] = mf; cl_ml[r * 2 + 1] = lf; }
        }
        else if (p.splits == 1)
            p.o[(long long)s * p.o_stride + h * D + d] = f32_to_bf16(lf > 0.0f ? of / lf : 0.0f);
        else
        {
            const long long part = ((long long)s * p.heads + h) * p.splits + z;
            p.part_o[part * D + d] = of;
            if (d == 0) { p.part_ml[part * 2] = mf; p.part_ml[part * 2 + 1] = lf; }
        }
    }

    // Cluster form: the splits of (sequence, KV head) are one cluster and merge through distributed shared memory — no
    // partials in global memory, no second launch, no ticket.
    if constexpr (CLUSTER)
    {
        cluster_sync();
        decode_combine_cluster<DP>(p, s, kvh * group, group, cl_o, cl_ml, cl_ml + 16 * 2);
        cluster_sync(); // no CTA leaves while another still reads its shared memory
        return;
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

