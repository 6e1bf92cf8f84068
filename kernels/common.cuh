// common.cuh — shared helpers of every Owl3Native kernel: a header-free bf16/fp16 shim (NVRTC finds no CUDA headers),
// warp and block reductions, 16-byte vector loads, and CUDA_KERNEL_ASSERT.
// Precision policy everywhere: bf16 in memory, fp32 in registers, fp32 accumulation.
#pragma once


// 16-bit storage types with the alignment of the real cuda_bf16.h / cuda_fp16.h types.
struct __align__(2) bf16 { unsigned short bits; };
struct __align__(4) bf16x2 { bf16 x, y; };
struct __align__(2) fp16 { unsigned short bits; };

// bf16 → f32 is exact: the bf16 bits are the top half of an f32.
__device__ __forceinline__ float bf16_to_f32(bf16 v) { return __uint_as_float(((unsigned int)v.bits) << 16); }

// f32 → bf16, round to nearest even (cvt.rn.bf16.f32 needs sm_80; the integer path is identical and works anywhere).
__device__ __forceinline__ bf16 f32_to_bf16(float f)
{
    unsigned int u = __float_as_uint(f);
    bf16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) { r.bits = (unsigned short)((u >> 16) | 0x40u); return r; } // NaN stays quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    r.bits = (unsigned short)(u >> 16);
    return r;
}

__device__ __forceinline__ float fp16_to_f32(fp16 v)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v.bits));
    return f;
}

__device__ __forceinline__ fp16 f32_to_fp16(float f)
{
    fp16 r;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r.bits) : "f"(f));
    return r;
}

// Eight bf16 = 16 bytes: the unit of every vectorised load/store.
struct __align__(16) bf16x8 { unsigned int w[4]; };

__device__ __forceinline__ void bf16x8_to_f32(const bf16x8& v, float (&out)[8])
{
#pragma unroll
    for (int i = 0; i < 4; ++i)
    {
        out[2 * i] = __uint_as_float(v.w[i] << 16);
        out[2 * i + 1] = __uint_as_float(v.w[i] & 0xffff0000u);
    }
}

__device__ __forceinline__ bf16x8 f32_to_bf16x8(const float (&in)[8])
{
    bf16x8 v;
#pragma unroll
    for (int i = 0; i < 4; ++i)
        v.w[i] = (unsigned int)f32_to_bf16(in[2 * i]).bits | ((unsigned int)f32_to_bf16(in[2 * i + 1]).bits << 16);
    return v;
}

#define CUDA_KERNEL_ASSERT(cond) do { if (!(cond)) { asm volatile("trap;"); } } while (0)

template <typename T>
__device__ __forceinline__ T warp_sum(T v)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

template <typename T>
__device__ __forceinline__ T warp_max(T v)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

// Sum over the block; every thread receives the result. `scratch` holds one float per warp (≤ 32 warps).
__device__ __forceinline__ float block_sum(float v, float* scratch)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads(); // scratch may still be read by a previous reduction
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(v);
}

// ---------------------------------------------------------------------------------------------------------------
// Attention helpers (attention_prefill.cu, attention_decode_paged.cu). Softmax runs in the exp2 domain: scores are
// q·k · (1/√D) · log2(e), so exp(x·scale − m) = exp2(s − m₂). A running state (m, l) per query row: m the largest score
// seen, l = Σ exp2(s − m); merging two states rescales both to the larger m. A row that has seen only masked keys
// keeps m = −inf and l = 0; exp2_from() treats such a max as 0 so no NaN is ever formed, and its output is 0.

#define OWL3_NEG_INF (-__int_as_float(0x7f800000))

// 2^x on the SFU (MUFU.EX2, ≈ 2 ulp; results below 2^-126 flush to 0, which a softmax weight can afford): exp2f()
// without fast-math adds a denormal fix-up around the same instruction.
__device__ __forceinline__ float fast_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// The exponent base for a running max that may still be −inf (nothing visible yet).
__device__ __forceinline__ float softmax_base(float m) { return m == OWL3_NEG_INF ? 0.0f : m; }

// Rescale factor of an old state with max m_old into a new max m_new (both possibly −inf).
__device__ __forceinline__ float softmax_rescale(float m_old, float m_new)
{
    return m_old == OWL3_NEG_INF ? 0.0f : exp2f(m_old - softmax_base(m_new));
}

// 16-bit packing of two floats into one bf16x2 register (low half = a), round to nearest even: one cvt on sm_80+
// (the P operand of every attention tile goes through here), the integer path elsewhere.
__device__ __forceinline__ unsigned int pack_bf16x2(float a, float b)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned int r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(b), "f"(a)); // first source → upper half
    return r;
#else
    return (unsigned int)f32_to_bf16(a).bits | ((unsigned int)f32_to_bf16(b).bits << 16);
#endif
}

// Tensor-core and async-copy primitives (sm_80+): D = A·B + D with A 16×16 bf16 (row), B 16×8 bf16 (col), fp32 D.
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const unsigned int (&a)[4], unsigned int b0, unsigned int b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ unsigned int smem_addr(const void* p) { return (unsigned int)__cvta_generic_to_shared(p); }

__device__ __forceinline__ void ldmatrix_x4(unsigned int (&r)[4], const void* p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(unsigned int (&r)[4], const void* p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)));
}

// Programmatic dependent launch (sm_90; no-ops below and for a kernel launched without it): a kernel launched with it
// may start while the previous kernel of the stream still runs. pdl_wait() blocks until that kernel has completed and
// its writes are visible — call it before reading anything it writes; data older than it may be read before.
// pdl_trigger() lets the next kernel of the stream start early (it will wait in its own pdl_wait()).
__device__ __forceinline__ void pdl_wait()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_trigger()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// 16-byte global → shared copy; bytes < 16 zero-fills the rest (0 = a zero row: masked keys never read memory).
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, int bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(smem_addr(smem)), "l"(gmem), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;" :: "n"(N)); }
