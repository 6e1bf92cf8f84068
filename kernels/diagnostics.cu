// diagnostics.cu — kernels the GPU check uses to set up hostile timing; the engine never launches them.
//   spin_delay: lets the next kernel of the stream start at once (programmatic dependent launch), then one thread
//               waits `nanoseconds` on the global timer. A programmatic kernel launched after it starts and sits in
//               its pdl_wait() all that time — and so does whatever it lets start early: the window in which a wrong
//               "older than the previous kernel" read shows.
//   stream_read: the floor of a decode step — one kernel that reads two buffers (a step's K and V) once and does
//               nothing else. CTA c reads 16-byte chunks [c·per_cta, (c+1)·per_cta) of both, eight loads in flight a
//               thread, and each thread writes the xor of its words (so nothing is optimised away). Launched with a
//               decode plan's CTA count and timed in the same CUDA graph form, it gives the time below which no
//               single-kernel reader of those bytes can go on this card: the latency floor of batch-1 decode.
//
// budget: spin_delay registers<=32 smem<=0
// budget: stream_read registers<=64 smem<=0
#include "common.cuh"

struct DelayParams
{
    long long nanoseconds;
};
static_assert(sizeof(DelayParams) == 8, "DelayParams layout is mirrored in C#");

extern "C" __global__ void spin_delay(const DelayParams p)
{
    pdl_trigger();
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now)); } while ((long long)(now - start) < p.nanoseconds);
}

struct ReadParams
{
    const uint4* a;
    const uint4* b;
    unsigned int* out;                     // [ctas · 128] one word a thread
    long long chunks;                      // 16-byte chunks in each of a and b
    long long per_cta;                     // chunks of each buffer a CTA reads
};
static_assert(sizeof(ReadParams) == 40, "ReadParams layout is mirrored in C#");

#define STREAM_READ_INFLIGHT 8

extern "C" __global__ void __launch_bounds__(128) stream_read(const ReadParams p)
{
    const long long begin = (long long)blockIdx.x * p.per_cta;
    const long long end = min(p.chunks, begin + p.per_cta);
    unsigned int x = 0u;
    for (int buf = 0; buf < 2; ++buf)
    {
        const uint4* src = buf == 0 ? p.a : p.b;
        long long i = begin + threadIdx.x;
        for (; i + 128 * (STREAM_READ_INFLIGHT - 1) < end; i += 128 * STREAM_READ_INFLIGHT)
        {
            uint4 v[STREAM_READ_INFLIGHT]; // every load of the pass issued before any is used
#pragma unroll
            for (int u = 0; u < STREAM_READ_INFLIGHT; ++u) v[u] = __ldcs(src + i + u * 128);
#pragma unroll
            for (int u = 0; u < STREAM_READ_INFLIGHT; ++u) x ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
        }
        for (; i < end; i += 128)
        {
            const uint4 v = __ldcs(src + i);
            x ^= v.x ^ v.y ^ v.z ^ v.w;
        }
    }
    p.out[(long long)blockIdx.x * 128 + threadIdx.x] = x;
}
