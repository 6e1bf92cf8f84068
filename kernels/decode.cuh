// decode.cuh — the launch contract every decode attention kernel reads (attention_decode_paged.cu: CUDA cores, tensor
// cores, the split combine; attention_decode_cluster.cu: tensor cores with the splits merged inside a thread-block
// cluster), and the per-sequence facts each CTA loads first.
#pragma once
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

// What a decode CTA knows of its sequence before it reads a key: visible visual keys (0 without an image), text keys,
// the visual slabs and their row count.
struct DecodeSeq
{
    int vis_len, text_len, vis_tokens;
    const bf16* vis_k;
    const bf16* vis_v;
};

// The sequence's facts with every load issued at once: whether visual pointers exist is a kernel parameter, so no load
// waits for another (the first form read vis_lens[s] only once vis_k[s] had arrived — two dependent round trips at the
// head of every CTA's chain, which at batch 1 is most of a decode step).
__device__ __forceinline__ DecodeSeq decode_seq(const DecodeParams& p, int s)
{
    const bool any = p.vis_lens != nullptr && p.vis_k != nullptr && p.vis_v != nullptr;
    const unsigned long long vk = any ? p.vis_k[s] : 0ull, vv = any ? p.vis_v[s] : 0ull;
    const int vl = any ? p.vis_lens[s] : 0;
    const int vt = any && p.vis_tokens != nullptr ? p.vis_tokens[s] : 0;
    DecodeSeq q;
    q.text_len = p.text_lens[s];
    q.vis_len = vk != 0ull ? vl : 0;
    q.vis_k = q.vis_len > 0 ? reinterpret_cast<const bf16*>(vk) : nullptr;
    q.vis_v = q.vis_len > 0 ? reinterpret_cast<const bf16*>(vv) : nullptr;
    q.vis_tokens = q.vis_len > 0 ? vt : 0;
    return q;
}
