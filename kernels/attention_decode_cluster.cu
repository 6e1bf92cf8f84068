// attention_decode_cluster.cu — the tensor-core decode (attention_decode_paged.cu's attention_decode_tc_d{DP}_bf16, same
// DecodeParams, same tiles, same numbers) with its split-K merge done inside a thread-block cluster (sm_90):
//
//   attention_decode_cluster_d{DP}_bf16   grid (kvHeads, seqs, splits), 128 threads, launched with cluster dims
//                                         (1, 1, splits): the splits of one (sequence, KV head) are one cluster,
//                                         2 ≤ splits ≤ 16 (above 8 a non-portable cluster size, which the host opts
//                                         into). Each CTA leaves its GQA group's merged (o, m, l) in its own shared
//                                         memory, one cluster barrier, then the cluster's CTAs share the group's
//                                         output elements, each reading every split's partials from the CTA holding
//                                         them (decode_combine_cluster in decode_tc.cuh: the fused combine's
//                                         arithmetic in its order), and write the bf16 output; a second barrier keeps
//                                         every CTA's shared memory alive until the last read. part_o, part_ml and
//                                         split_counters are not used. 2 stages at every DP; 3 at DP 64 and 128
//                                         (attention_decode_cluster_s3_d{DP}_bf16, as attention_decode_paged.cu's).
//
// Why: at batch 1 a decode step is a chain of latencies, not a stream of bytes (H200, 2026-11-26: 8.4 µs for 2 MiB of
// K/V at 1k keys, 6 % of the copy bandwidth). Two links of that chain are the partials' round trip through global
// memory and the combine launch (or, fused, the ticket and the last CTA's serial merge); here both become one cluster
// barrier and reads of a neighbour's shared memory. Whether that wins is a device measurement (the GPU check's decode
// rows, "cluster combine"); the engine's planner does not use it until one says so.
//
// arch: sm_90 nvrtc>=11.8
// budget: attention_decode_cluster_d16_bf16 registers<=128 smem<=2048
// budget: attention_decode_cluster_d32_bf16 registers<=128 smem<=2048
// budget: attention_decode_cluster_d48_bf16 registers<=128 smem<=2048
// budget: attention_decode_cluster_d64_bf16 registers<=128 smem<=2048
// budget: attention_decode_cluster_d80_bf16 registers<=160 smem<=2048
// budget: attention_decode_cluster_d96_bf16 registers<=160 smem<=2048
// budget: attention_decode_cluster_d128_bf16 registers<=200 smem<=2048
// budget: attention_decode_cluster_d160_bf16 registers<=232 smem<=2048
// budget: attention_decode_cluster_d192_bf16 registers<=255 smem<=2048
// budget: attention_decode_cluster_d256_bf16 registers<=255 smem<=2048
// budget: attention_decode_cluster_s3_d64_bf16 registers<=128 smem<=3072
// budget: attention_decode_cluster_s3_d128_bf16 registers<=200 smem<=3072
#include "decode_tc.cuh"

#define OWL3_DECODE_CLUSTER(DP) \
    extern "C" __global__ void __launch_bounds__(128) attention_decode_cluster_d##DP##_bf16(const DecodeParams p) { decode_tc<DP, true, 2>(p); }
#define OWL3_DECODE_CLUSTER_S3(DP) \
    extern "C" __global__ void __launch_bounds__(128) attention_decode_cluster_s3_d##DP##_bf16(const DecodeParams p) { decode_tc<DP, true, 3>(p); }

OWL3_DECODE_DIMS(OWL3_DECODE_CLUSTER)
OWL3_DECODE_STAGE_DIMS(OWL3_DECODE_CLUSTER_S3)
