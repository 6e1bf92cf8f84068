// attention.cuh — what the prefill kernels share: the launch contract of attention_prefill.cu (FlashAttention-2 on
// mma.sync, every architecture) and attention_prefill_sm90.cu (warpgroup MMA, sm_90a). Both read the same params, the
// same CTA list and produce the same result; the host picks the kernel (AttentionKernels).
#pragma once

#define INT_MAX_ 0x7fffffff

struct PrefillParams
{
    const bf16* q;
    bf16* o;
    const bf16* k;                         // paged cache or dense rows
    const bf16* v;
    const int* block_tables;               // [seqs, max_blocks] or null (dense)
    const int* seq_q_start;                // [seqs + 1]
    const int* seq_k_start;                // [seqs] dense mode: first key row
    const int* seq_pos;                    // [seqs] absolute position of the first query row (cached length)
    const int* tiles;                      // [tiles, 2]: sequence, first row within the sequence
    const int* vis_lens;                   // [rows] visible visual keys (null = none)
    const unsigned long long* vis_k;       // [seqs] device addresses of [kvHeads, vis_tokens, D] (null array = none)
    const unsigned long long* vis_v;
    const int* vis_tokens;                 // [seqs]
    int heads, kv_heads, head_dim, block_size;
    int max_blocks, text_mode;             // text_mode: 0 none, 1 causal, 2 every key of the sequence
    int q_stride, o_stride, kv_stride;
    float scale_log2;                      // log2(e) / sqrt(D)
};
static_assert(sizeof(PrefillParams) == 144, "PrefillParams layout is mirrored in C#");
