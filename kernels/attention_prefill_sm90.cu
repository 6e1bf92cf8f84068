// attention_prefill_sm90.cu — the contract of attention_prefill.cu (PrefillParams, the CTA list, the results) on
// Hopper's warpgroup MMA (wgmma, sm_90a) with FlashAttention-3's warp specialisation (cp.async in place of TMA).
//
// One CTA = 2 consumer warpgroups × 64 query rows of one head (128 rows; one CTA per multiprocessor); K and V stream
// through shared memory in tiles of 128 keys, three stages deep, handed over by mbarriers (the schedules: below).
// Per tile and warpgroup: S = Q·Kᵀ as eight wgmma m64n128k16 with Q and K from shared memory (descriptors), the online
// softmax of attention_prefill.cu on S's registers (the same row-limit masks, only in partially visible tiles), then
// O += P·V as eight wgmma m64n128k16 with P from registers (bf16, FlashAttention's rule) and V from shared memory read
// transposed. Tiles are stored in the 128-byte swizzle wgmma's descriptors name (mode 1): a tile of R rows × 128
// columns is two blocks of R rows × 128 bytes (columns 0–63, 64–127), the 16-byte chunk c of row r at chunk c ^ (r & 7)
// of its row, every block 1024-byte aligned. The loaders write that layout; Q and K are read K-major (rows of 128
// bytes, the k-step's 32 bytes selected by the start address), V MN-major (leading byte offset = one block, stride
// byte offset = 8 rows).
//
// Head dims 128 (the 2B/7B text models; any D ≤ 128 that rounds up to it) and 64 (the 1B model: O is m64n64, every
// tile one swizzle block wide); other head dims use attention_prefill.cu.
// The producer schedule (ws3p) is the d128 and d64 default on sm_90 where NVRTC ≥ 12 runs (AttentionKernels.
// PrefillArchDefaults). H200, causal, 8 × 4k / 4 × 8k / 2 × 16k tokens (bench/results/gpu/2026-11-26-h200-s3c6 and
// -s3c10): d128 414 / 452 / 463 TFLOP/s, 1.31–1.43× the mma.sync kernel, 1.07–1.18× the decoupled schedule without a
// producer, 1.20–1.26× PyTorch's FlashAttention-2 in the same call; d64 289 / 318 / 334, 1.25–1.34× and 1.00–1.08×.
// Compiled only with NVRTC ≥ 12 for sm_90a (CI's NVRTC 11.8 checks the C++ by a PTX-only compile; ptxas' budget check
// runs on the device, in the GPU bundle).
//
// arch: sm_90a nvrtc>=12.0
// budget: attention_prefill_wgmma_ws3_d128_bf16 registers<=255 smem<=256
// budget: attention_prefill_wgmma_ws3p_d128_bf16 registers<=168 smem<=256
// budget: attention_prefill_wgmma_ws3p_d64_bf16 registers<=168 smem<=256
#include "common.cuh"
#include "attention.cuh"

#define WG_ROWS 64  // query rows per warpgroup (wgmma's M)
#define WG_BC 128   // keys per K/V tile (the S GEMM's N)

// Byte offset of element (r, c) in a tile of ROWS rows × 64 or 128 bf16 columns in the 128-byte swizzle (see the top).
template <int ROWS>
__device__ __forceinline__ unsigned int sw128_offset(int r, int c)
{
    return (unsigned int)((c >> 6) * (ROWS * 128) + r * 128 + ((((c & 63) >> 3) ^ (r & 7)) << 4) + (c & 7) * 2);
}

// Shared-memory matrix descriptor: start address, leading / stride byte offsets (16-byte units), 128-byte swizzle.
__device__ __forceinline__ unsigned long long wgmma_desc(unsigned int smem_address, unsigned int leading_bytes, unsigned int stride_bytes)
{
    return (unsigned long long)((smem_address & 0x3FFFFu) >> 4)
         | ((unsigned long long)((leading_bytes & 0x3FFFFu) >> 4) << 16)
         | ((unsigned long long)((stride_bytes & 0x3FFFFu) >> 4) << 32)
         | (1ull << 62);
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" :: "n"(N) : "memory"); }
// Shared memory written by cp.async (the generic proxy) is read next by wgmma (the async proxy).
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// Keeps the compiler from moving reads or writes of wgmma's registers across the asynchronous window (issue → wait).
template <int N>
__device__ __forceinline__ void fence_regs(float (&r)[N])
{
#pragma unroll
    for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i]) :: "memory");
}
__device__ __forceinline__ void fence_regs(unsigned int (&r)[4])
{
#pragma unroll
    for (int i = 0; i < 4; ++i) asm volatile("" : "+r"(r[i]) :: "memory");
}

// The 64 fp32 accumulators of an m64n128 result: the operand list "{%0, …, %63}" and its constraints.
#define WG_ACC64 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define WG_ACC64_OPERANDS \
    "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
    "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
    "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
    "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
    "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
    "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
    "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
    "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])

// D (+)= A·B, m64n128k16: A = 64 rows × 16 (K-major) and B = 128 columns × 16 (K-major: Kᵀ), both through descriptors.
__device__ __forceinline__ void wgmma_m64n128k16_ss(float (&d)[64], unsigned long long desc_a, unsigned long long desc_b, int accumulate)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 " WG_ACC64 ", %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : WG_ACC64_OPERANDS
                 : "l"(desc_a), "l"(desc_b), "r"(accumulate));
}

// D += A·B, m64n128k16: A = 64 rows × 16 from registers (the mma.sync A-fragment layout per warp), B = 16 rows × 128
// columns stored MN-major (rows of V: the transposed form, imm-trans-b = 1) through a descriptor.
__device__ __forceinline__ void wgmma_m64n128k16_rs_tb(float (&d)[64], const unsigned int (&a)[4], unsigned long long desc_b)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 " WG_ACC64 ", {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
                 : WG_ACC64_OPERANDS
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1));
}


// The 32 fp32 accumulators of an m64n64 result.
#define WG_ACC32 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define WG_ACC32_OPERANDS \
    "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
    "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
    "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
    "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])

// D += A·B, m64n64k16: the head-dim-64 form of wgmma_m64n128k16_rs_tb (V's 64 columns are one swizzle block).
__device__ __forceinline__ void wgmma_m64n64k16_rs_tb(float (&d)[32], const unsigned int (&a)[4], unsigned long long desc_b)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " WG_ACC32 ", {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
                 : WG_ACC32_OPERANDS
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1));
}

// mbarrier primitives (decoupled variant): init, a thread's arrival, the arrival of a thread's pending cp.async copies
// (.noinc: counted in the init count), and a spin on a phase's parity.
__device__ __forceinline__ void mbar_init(unsigned long long* bar, int count)
{
    asm volatile("mbarrier.init.shared.b64 [%0], %1;" :: "r"(smem_addr(bar)), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(unsigned long long* bar)
{
    asm volatile("mbarrier.arrive.shared.b64 _, [%0];" :: "r"(smem_addr(bar)) : "memory");
}
__device__ __forceinline__ void mbar_arrive_cp_async(unsigned long long* bar)
{
    asm volatile("cp.async.mbarrier.arrive.noinc.shared.b64 [%0];" :: "r"(smem_addr(bar)) : "memory");
}
__device__ __forceinline__ void mbar_wait(unsigned long long* bar, int parity)
{
    unsigned int done = 0;
    while (!done)
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done) : "r"(smem_addr(bar)), "r"(parity) : "memory");
    __syncwarp(); // lanes may leave the spin at different iterations; the .aligned wgmma instructions that follow want them together
}

// Accumulator element i of a warpgroup's m64nN result, for lane (g = lane / 4, c4 = lane % 4) of warp w in the group:
// row 16·w + g + 8·((i / 2) % 2), column 8·(i / 4) + 2·c4 + i % 2 (the mma.sync C layout, one n8 block per four).
//
// Two schedules share everything else, both over 3 stages of K/V with a "full" and an "empty" mbarrier each (a stage's
// full barrier completes when its copies have landed — cp.async.mbarrier.arrive —, its empty one when both consumer
// warpgroups are done reading it); no CTA barrier in the loop, so one warpgroup may run up to a tile ahead of the other
// (its softmax beside the other's tensor-core work):
//   decoupled (ws3, 256 threads): warpgroup w loads keys 64·w … of every tile and its own 64 Q rows; tile i + 2 is
//     issued at the end of iteration i, into the stage of tile i − 1.
//   producer (ws3p, 384 threads; the default): FlashAttention-3's warp specialisation with cp.async for TMA — a third
//     warpgroup loads every tile (and Q), waiting on the empty mbarriers; the two consumer warpgroups only wait on the
//     full ones, compute and release. Nsight on the decoupled kernel (H200, s3c5) had shown the loads' address
//     arithmetic and cp.async issue sharing the consumers' issue slots (42 % busy, tensor pipe 46 %); the producer
//     measured 1.07–1.18× the decoupled schedule (s3c6, s3c7).
// Tried on the H200 and removed (the code is in commit 4cb8873; figures in bench/results/gpu/
// 2026-11-26-h200-attention-s3.md): both warpgroups in lockstep over 2 stages with CTA barriers (0.95–1.03× the
// mma.sync kernel); FlashAttention-3's intra-warpgroup overlap — S(i) and O += P(i − 1)·V(i − 1) issued together, tile
// i's softmax beside the P·V wgmma — without a producer (0.94–0.98×), with one and setmaxnreg 56 / 224 (0.89–0.91× the
// producer schedule), and with ping-pong between the consumer warpgroups through named barriers on top (0.81–0.86×);
// and ping-pong alone on the producer schedule, each consumer issuing P(i − 1)·V(i − 1) and S(i) as one block (commit
// c19645f: 0.70× the producer schedule, s3c11 — with both GEMMs' accumulators live, 166 registers and 256 B of spills
// at the 168 that 384 threads allow).
template <bool PRODUCER, int DP>
__device__ __forceinline__ void prefill_wgmma(const PrefillParams& p)
{
    constexpr int CONSUMERS = 256, THREADS = PRODUCER ? 384 : 256, WARPS = 8, BR = 2 * WG_ROWS, BC = WG_BC, STAGES = 3;
    static_assert(DP == 64 || DP == 128, "head dims 64 and 128 (one or two 64-column swizzle blocks)");
    constexpr int Q_BYTES = BR * DP * 2, KV_BYTES = BC * DP * 2; // one tile; K and V of a stage are adjacent
    extern __shared__ __align__(16) unsigned char smem_raw[]; // 16, not 1024: an aligned extern pads the static part to 1 KiB
    // The swizzle is a function of the address: align the tiles to 1024 bytes (the host adds that slack).
    const unsigned int raw_addr = smem_addr(smem_raw);
    unsigned char* smem = smem_raw + (((raw_addr + 1023u) & ~1023u) - raw_addr);
    const unsigned int q_addr = smem_addr(smem);
    auto k_addr = [&](int x) { return q_addr + Q_BYTES + (unsigned int)(2 * x) * KV_BYTES; };
    auto v_addr = [&](int x) { return q_addr + Q_BYTES + (unsigned int)(2 * x + 1) * KV_BYTES; };

    struct Cta { int s, q0, row0, rows, pos0, q_len, kvh, k_start, vis_max, text_max; };
    __shared__ Cta C;
    __shared__ int warp_min_s[WARPS][2];
    __shared__ unsigned long long full_bar[STAGES], empty_bar[STAGES];
    const int h = blockIdx.x;
    const int D = p.head_dim;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wg = warp >> 2;
    const int g = lane >> 2, c4 = lane & 3;
    if (threadIdx.x == 0)
    {
        const int s = p.tiles[2 * blockIdx.y], q0 = p.tiles[2 * blockIdx.y + 1];
        const int row0 = p.seq_q_start[s], q_len = p.seq_q_start[s + 1] - row0;
        C = Cta{s, q0, row0, min(BR, q_len - q0), p.seq_pos[s], q_len, h / (p.heads / p.kv_heads),
                p.block_tables == nullptr ? p.seq_k_start[s] : 0, 0, 0};
        for (int x = 0; x < STAGES; ++x) { mbar_init(&full_bar[x], PRODUCER ? 128 : CONSUMERS); mbar_init(&empty_bar[x], CONSUMERS); }
    }
    __syncthreads();

    auto row_limit = [&](int r, bool visual) -> int {
        if (r >= C.rows) return 0;
        if (visual) return p.vis_lens[C.row0 + C.q0 + r];
        return p.text_mode == 0 ? 0 : p.text_mode == 1 ? C.pos0 + C.q0 + r + 1 : C.pos0 + C.q_len;
    };
    const bool has_vis = p.vis_lens != nullptr && p.vis_k != nullptr && p.vis_k[C.s] != 0ull;
    int cta_vis = 0, cta_text = 0;
    for (int r = threadIdx.x; r < BR; r += THREADS)
    {
        if (has_vis) cta_vis = max(cta_vis, row_limit(r, true));
        cta_text = max(cta_text, row_limit(r, false));
    }
    // This thread's rows: 16·warp + g and + 8 (warp w of warpgroup wg holds rows 64·wg + 16·(w % 4): 16·warp).
    const int r_lo = warp * 16 + g, r_hi = r_lo + 8;
    int warp_vis = min(has_vis ? row_limit(r_lo, true) : 0, has_vis ? row_limit(r_hi, true) : 0);
    int warp_text = min(row_limit(r_lo, false), row_limit(r_hi, false));
#pragma unroll
    for (int o = 4; o < 32; o <<= 1)
    {
        warp_vis = min(warp_vis, __shfl_xor_sync(0xffffffffu, warp_vis, o));
        warp_text = min(warp_text, __shfl_xor_sync(0xffffffffu, warp_text, o));
    }
    if (lane == 0 && warp < WARPS) { warp_min_s[warp][0] = warp_vis; warp_min_s[warp][1] = warp_text; }
    atomicMax(&C.vis_max, cta_vis);
    atomicMax(&C.text_max, cta_text);
    __syncthreads();
    const int vis_tiles = (C.vis_max + BC - 1) / BC, n_tiles = vis_tiles + (C.text_max + BC - 1) / BC;

    // The loaders: `tid` of `n` threads copy rows [rb, rb + rows) of a tile. A thread keeps one 16-byte column chunk
    // and walks rows n / 16 apart, so its swizzled chunk (c ^ (r & 7)) is the same for every row it writes. Masked
    // chunks read nothing and are zero-filled.
    // Decoupled: each warpgroup half of every tile; producer: the third warpgroup (threads 256–383) whole tiles.
    const int ld_tid = threadIdx.x & 127, ld_n = 128;
    const int kv_rb = PRODUCER ? 0 : wg * (BC / 2), kv_rows = PRODUCER ? BC : BC / 2;
    auto load_kv = [&](int x, int i) {
        constexpr int CHUNKS = DP / 8;
        const int step = ld_n / CHUNKS;
        const int s = C.s, kvh = C.kvh;
        const bool visual = i < vis_tiles;
        const int j0 = visual ? i * BC : (i - vis_tiles) * BC;
        const int valid = min(BC, (visual ? C.vis_max : C.text_max) - j0);
        const bf16* k_base = visual ? (const bf16*)p.vis_k[s] : p.k;
        const bf16* v_base = visual ? (const bf16*)p.vis_v[s] : p.v;
        const int col = (ld_tid % CHUNKS) * 8, r0 = kv_rb + ld_tid / CHUNKS;
        const bool col_ok = col < D;
        const unsigned int kd = k_addr(x), vd = v_addr(x);
        const bool even = visual || p.block_tables == nullptr;
        const long long stride = visual ? D : p.kv_stride;
        const long long first = visual ? ((long long)kvh * p.vis_tokens[s] + j0) * D + col
                                       : ((long long)C.k_start + j0) * p.kv_stride + kvh * D + col;
#pragma unroll 2
        for (int xr = 0; xr < kv_rows / step; ++xr)
        {
            const int r = r0 + xr * step, j = j0 + r;
            const bool ok = col_ok && r < valid;
            long long off = 0;
            if (ok)
            {
                if (even) off = first + r * stride;
                else
                {
                    const int block = p.block_tables[(long long)s * p.max_blocks + j / p.block_size];
                    off = (((long long)block * p.block_size + j % p.block_size) * p.kv_heads + kvh) * D + col;
                }
            }
            const unsigned int at = sw128_offset<BC>(r, col);
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(kd + at), "l"(ok ? k_base + off : p.k), "r"(ok ? 16 : 0));
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(vd + at), "l"(ok ? v_base + off : p.v), "r"(ok ? 16 : 0));
        }
    };

    // Q (rows past the sequence and columns past D are zero): all of it (producer), or the warpgroup's own rows.
    if (!PRODUCER || wg == 2)
    {
        constexpr int CHUNKS = DP / 8;
        const int q_rb = PRODUCER ? 0 : wg * WG_ROWS, q_rows = PRODUCER ? BR : WG_ROWS;
        const long long q_row0 = C.row0 + C.q0;
        for (int c = ld_tid; c < q_rows * CHUNKS; c += ld_n)
        {
            const int r = q_rb + c / CHUNKS, col = (c % CHUNKS) * 8;
            const bool ok = r < C.rows && col < D;
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;"
                         :: "r"(q_addr + sw128_offset<BR>(r, col)), "l"(ok ? p.q + (q_row0 + r) * p.q_stride + h * D + col : p.q), "r"(ok ? 16 : 0));
        }
    }
    if (PRODUCER)
    {
        // The producer warpgroup: every tile, into the stage of tile j − STAGES once both consumer warpgroups have
        // released it (Q rides with tile 0); then it leaves (no CTA barrier follows in the consumers).
        if (wg == 2)
        {
            for (int j = 0; j < n_tiles; ++j)
            {
                if (j >= STAGES) mbar_wait(&empty_bar[j % STAGES], (j / STAGES - 1) & 1);
                load_kv(j % STAGES, j);
                mbar_arrive_cp_async(&full_bar[j % STAGES]);
            }
            asm volatile("cp.async.wait_all;" ::: "memory"); // its copies land before it exits
            return;
        }
    }
    else
    {
        // Tiles 0 … STAGES − 2 (Q rides with tile 0: an arrival covers all of the thread's earlier copies).
        for (int j = 0; j < STAGES - 1 && j < n_tiles; ++j)
        {
            load_kv(j, j);
            mbar_arrive_cp_async(&full_bar[j]);
        }
        if (n_tiles == 0) asm volatile("cp.async.wait_all;" ::: "memory"); // no barrier tracks Q then (nothing is committed)
    }

    float o_acc[DP / 2];
#pragma unroll
    for (int i = 0; i < DP / 2; ++i) o_acc[i] = 0.0f;
    float m_run[2] = {OWL3_NEG_INF, OWL3_NEG_INF}, l_run[2] = {0.0f, 0.0f};
    // This warpgroup's 64 rows of Q: block b (columns 64·b …) of the Q tile, rows from 64·wg (1024-byte aligned).
    const unsigned int q_wg = q_addr + (unsigned int)wg * WG_ROWS * 128;

    // The steps of a tile.
    // Tile i's K and V have landed in its stage (its full mbarrier; cp.async wrote them: make them visible to the async
    // proxy).
    auto wait_full = [&](int i) {
        mbar_wait(&full_bar[i % STAGES], (i / STAGES) & 1);
        fence_proxy_async();
    };
    // S = Q · K(x)ᵀ (issued, not waited for): k-step ks reads columns 16·ks … of block ks / 4, 32 bytes further per step
    // inside the block.
    auto issue_s = [&](float (&s_acc)[64], int x) {
#pragma unroll
        for (int ks = 0; ks < DP / 16; ++ks)
        {
            const unsigned int off = (unsigned int)(ks & 3) * 32u;
            const unsigned long long da = wgmma_desc(q_wg + (unsigned int)(ks >> 2) * BR * 128 + off, 16, 1024);
            const unsigned long long db = wgmma_desc(k_addr(x) + (unsigned int)(ks >> 2) * BC * 128 + off, 16, 1024);
            wgmma_m64n128k16_ss(s_acc, da, db, ks > 0 ? 1 : 0);
        }
        wgmma_commit();
    };
    // O += P · V(x) (issued, not waited for): k-step kk = keys 16·kk …; V's k-step starts 16 rows (2048 bytes) further,
    // its two column blocks one block (BC rows × 128 bytes) apart.
    auto issue_pv = [&](const unsigned int (&pa)[BC / 16][4], int x) {
#pragma unroll
        for (int kk = 0; kk < BC / 16; ++kk)
        {
            const unsigned long long db = wgmma_desc(v_addr(x) + (unsigned int)kk * 16 * 128, BC * 128, 1024);
            if constexpr (DP == 128) wgmma_m64n128k16_rs_tb(o_acc, pa[kk], db);
            else wgmma_m64n64k16_rs_tb(o_acc, pa[kk], db);
        }
        wgmma_commit();
    };
    // Mask, scale, online softmax of tile i's S (attention_prefill.cu's, for one row block of 16 per warp and 128
    // keys): updates m_run and l_run, returns O's correction factors in corr, and P (bf16, FlashAttention's rule) in
    // pa: P's A fragment for k-step kk is S's n8 blocks 2·kk and 2·kk + 1.
    auto softmax = [&](float (&s_acc)[64], int i, float (&corr)[2], unsigned int (&pa)[BC / 16][4]) {
        const bool visual = i < vis_tiles;
        const int key0 = visual ? i * BC : (i - vis_tiles) * BC;
        const bool full = key0 + BC <= warp_min_s[warp][visual ? 0 : 1];
        if (!full)
        {
            const int lim0 = row_limit(r_lo, visual), lim1 = row_limit(r_hi, visual);
#pragma unroll
            for (int e = 0; e < 64; ++e)
                if (key0 + 8 * (e >> 2) + 2 * c4 + (e & 1) >= (((e >> 1) & 1) ? lim1 : lim0)) s_acc[e] = OWL3_NEG_INF;
        }
        float mx[2][2] = {{s_acc[0], s_acc[1]}, {s_acc[2], s_acc[3]}};
#pragma unroll
        for (int t = 1; t < BC / 8; ++t)
        {
            mx[0][0] = fmaxf(mx[0][0], s_acc[4 * t + 0]); mx[0][1] = fmaxf(mx[0][1], s_acc[4 * t + 1]);
            mx[1][0] = fmaxf(mx[1][0], s_acc[4 * t + 2]); mx[1][1] = fmaxf(mx[1][1], s_acc[4 * t + 3]);
        }
        float m_new[2] = {fmaxf(m_run[0], fmaxf(mx[0][0], mx[0][1])), fmaxf(m_run[1], fmaxf(mx[1][0], mx[1][1]))};
        float base[2];
#pragma unroll
        for (int ri = 0; ri < 2; ++ri)
        {
            m_new[ri] = fmaxf(m_new[ri], __shfl_xor_sync(0xffffffffu, m_new[ri], 1));
            m_new[ri] = fmaxf(m_new[ri], __shfl_xor_sync(0xffffffffu, m_new[ri], 2));
            corr[ri] = m_run[ri] == OWL3_NEG_INF ? 0.0f : fast_exp2((m_run[ri] - m_new[ri]) * p.scale_log2);
            m_run[ri] = m_new[ri];
            base[ri] = softmax_base(m_new[ri]) * p.scale_log2;
        }
        float sm[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
#pragma unroll
        for (int t = 0; t < BC / 8; ++t)
        {
#pragma unroll
            for (int e = 0; e < 4; ++e)
                s_acc[4 * t + e] = fast_exp2(fmaf(s_acc[4 * t + e], p.scale_log2, -base[e >> 1]));
            sm[0][t & 1] += s_acc[4 * t + 0] + s_acc[4 * t + 1];
            sm[1][t & 1] += s_acc[4 * t + 2] + s_acc[4 * t + 3];
        }
#pragma unroll
        for (int ri = 0; ri < 2; ++ri)
        {
            float row_sum = sm[ri][0] + sm[ri][1];
            row_sum += __shfl_xor_sync(0xffffffffu, row_sum, 1);
            row_sum += __shfl_xor_sync(0xffffffffu, row_sum, 2);
            l_run[ri] = l_run[ri] * corr[ri] + row_sum;
        }
#pragma unroll
        for (int kk = 0; kk < BC / 16; ++kk)
        {
            pa[kk][0] = pack_bf16x2(s_acc[8 * kk + 0], s_acc[8 * kk + 1]);
            pa[kk][1] = pack_bf16x2(s_acc[8 * kk + 2], s_acc[8 * kk + 3]);
            pa[kk][2] = pack_bf16x2(s_acc[8 * kk + 4], s_acc[8 * kk + 5]);
            pa[kk][3] = pack_bf16x2(s_acc[8 * kk + 6], s_acc[8 * kk + 7]);
        }
    };
    auto rescale_o = [&](const float (&corr)[2]) {
        if (__any_sync(0xffffffffu, corr[0] != 1.0f || corr[1] != 1.0f))
        {
#pragma unroll
            for (int t = 0; t < DP / 8; ++t)
            {
                o_acc[4 * t + 0] *= corr[0]; o_acc[4 * t + 1] *= corr[0];
                o_acc[4 * t + 2] *= corr[1]; o_acc[4 * t + 3] *= corr[1];
            }
        }
    };
    // Registers written by ordinary instructions and read (or written) by a wgmma are pinned on the right side of the
    // fence / wait (PTX: wgmma.fence separates them from the wgmma; the compiler must not move them into the window).
    auto pin = [&](unsigned int (&pa)[BC / 16][4]) {
        fence_regs(o_acc);
#pragma unroll
        for (int kk = 0; kk < BC / 16; ++kk) fence_regs(pa[kk]);
    };
    // Decoupled: this thread is done with tile r's stage.
    auto release = [&](int r) { mbar_arrive(&empty_bar[r % STAGES]); };
    // Decoupled: tile j goes into the stage of tile j − STAGES once both warpgroups have released that tile.
    auto load_tile = [&](int j) {
        if (j < n_tiles)
        {
            if (j >= STAGES) mbar_wait(&empty_bar[j % STAGES], (j / STAGES - 1) & 1);
            load_kv(j % STAGES, j);
            mbar_arrive_cp_async(&full_bar[j % STAGES]);
        }
    };

    for (int i = 0; i < n_tiles; ++i)
    {
        const int x = i % STAGES;
        wait_full(i);
        float s_acc[64], corr[2];
        unsigned int pa[BC / 16][4];
        wgmma_fence();
        issue_s(s_acc, x);
        wgmma_wait<0>();
        fence_regs(s_acc);
        softmax(s_acc, i, corr, pa);
        rescale_o(corr);
        pin(pa);
        wgmma_fence();
        issue_pv(pa, x);
        wgmma_wait<0>();
        pin(pa);
        release(i);
        // Decoupled: tile i + 2 goes into the stage of tile i − 1. Issued here, at the end of the iteration, a
        // warpgroup may finish tile i while the other is still on tile i − 1 (at the top it would wait for the other's
        // tile i − 1 before starting tile i: lockstep again).
        if (!PRODUCER) load_tile(i + STAGES - 1);
    }

    // O / l → bf16; rows that saw nothing (l = 0) write zeros.
#pragma unroll
    for (int ri = 0; ri < 2; ++ri)
    {
        const int r = ri ? r_hi : r_lo;
        if (r >= C.rows) continue;
        const float inv = l_run[ri] > 0.0f ? 1.0f / l_run[ri] : 0.0f;
        bf16* out = p.o + (long long)(C.row0 + C.q0 + r) * p.o_stride + h * D;
#pragma unroll
        for (int t = 0; t < DP / 8; ++t)
        {
            const int col = t * 8 + 2 * c4;
            if (col < D)
                *reinterpret_cast<unsigned int*>(out + col) = pack_bf16x2(o_acc[4 * t + 2 * ri] * inv, o_acc[4 * t + 2 * ri + 1] * inv);
        }
    }
}

extern "C" __global__ void __launch_bounds__(256, 1) attention_prefill_wgmma_ws3_d128_bf16(const PrefillParams p) { prefill_wgmma<false, 128>(p); }
extern "C" __global__ void __launch_bounds__(384, 1) attention_prefill_wgmma_ws3p_d128_bf16(const PrefillParams p) { prefill_wgmma<true, 128>(p); }
extern "C" __global__ void __launch_bounds__(384, 1) attention_prefill_wgmma_ws3p_d64_bf16(const PrefillParams p) { prefill_wgmma<true, 64>(p); }
