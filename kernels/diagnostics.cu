// diagnostics.cu — kernels the GPU check uses to set up hostile timing; the engine never launches them.
//   spin_delay: lets the next kernel of the stream start at once (programmatic dependent launch), then one thread
//               waits `nanoseconds` on the global timer. A programmatic kernel launched after it starts and sits in
//               its pdl_wait() all that time — and so does whatever it lets start early: the window in which a wrong
//               "older than the previous kernel" read shows.
//
// budget: spin_delay registers<=32 smem<=0
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
