using System.Runtime.InteropServices;

namespace Owl3Native.Cuda.Kernels;

// C# mirrors of the kernels' params structs, passed by value to cuLaunchKernel. Same field order and names
// (PascalCase here); device pointers are 64-bit addresses. Layouts are checked against the .cu declarations by
// tests/Owl3Native.Cuda.Tests (offsets recomputed from the C struct, size against the .cu static_assert).

/// <summary>kernels/norm.cu: RMSNorm, residual RMSNorm, LayerNorm.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NormParams
{
    /// <summary>Device address of the bf16 input, [rows, hidden].</summary>
    public ulong X;
    /// <summary>Device address of the bf16 residual, [rows, hidden]; rms_norm_residual only (in: residual, out: x + residual), else 0.</summary>
    public ulong Residual;
    /// <summary>Device address of the bf16 scale, [hidden].</summary>
    public ulong Weight;
    /// <summary>Device address of the bf16 bias, [hidden]; layer_norm only, else 0.</summary>
    public ulong Bias;
    /// <summary>Device address of the bf16 output, [rows, hidden].</summary>
    public ulong Y;
    /// <summary>Rows to normalise (tokens).</summary>
    public int Rows;
    /// <summary>Elements per row.</summary>
    public int Hidden;
    /// <summary>Added to the variance (or mean square) before the reciprocal square root.</summary>
    public float Eps;
    /// <summary>Padding to the C struct's size; leave 0.</summary>
    public int Pad;
}

/// <summary>kernels/activation.cu: SwiGLU, GELU tanh/erf, bias add.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ActivationParams
{
    /// <summary>Device address of the bf16 input: [rows, 2·cols] (gate | up) for swiglu, [rows, cols] for the others.</summary>
    public ulong X;
    /// <summary>Device address of the bf16 bias, [cols]; bias_add only, else 0.</summary>
    public ulong Bias;
    /// <summary>Device address of the bf16 output, [rows, cols].</summary>
    public ulong Y;
    /// <summary>Rows (tokens).</summary>
    public long Rows;
    /// <summary>Output columns; for swiglu the intermediate size.</summary>
    public int Cols;
    /// <summary>Padding to the C struct's size; leave 0.</summary>
    public int Pad;
}

/// <summary>kernels/gemv.cu: the projections of a decode step of at most 8 rows.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GemvParams
{
    /// <summary>Device address of the bf16 input rows, [m, XStride].</summary>
    public ulong X;
    /// <summary>Device address of the bf16 weight, [n, k] row-major.</summary>
    public ulong W;
    /// <summary>Device address of the bf16 bias, [n], or 0.</summary>
    public ulong Bias;
    /// <summary>Device address of the bf16 output, [m, YStride].</summary>
    public ulong Y;
    /// <summary>Input rows (1 … 8).</summary>
    public int M;
    /// <summary>Output features (weight rows).</summary>
    public int N;
    /// <summary>Input features (weight columns); a multiple of 8.</summary>
    public int K;
    /// <summary>Row stride of X, in elements; a multiple of 8.</summary>
    public int XStride;
    /// <summary>Row stride of Y, in elements.</summary>
    public int YStride;
    /// <summary>Nonzero: W stacks gate (N/2 rows) over up (N/2 rows) and y[r, i] = silu(gate_i)·up_i (swiglu_bf16's arithmetic on the bf16 sums), N/2 columns.</summary>
    public int Swiglu;
    /// <summary>Padding to the C struct's size; leave 0.</summary>
    public int Pad0;
    /// <summary>Padding to the C struct's size; leave 0.</summary>
    public int Pad1;
}

/// <summary>kernels/rope.cu: RoPE and MI-RoPE.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct RopeParams
{
    /// <summary>Device address of the bf16 input. rope: [tokens, heads·headDim], rotated in place; mi_rope: the v_kv_proj output [imageTokens, kvHeads·2·headDim] (per head [K | V]).</summary>
    public ulong X;
    /// <summary>mi_rope only: device address of the bf16 rotated keys out, [kvHeads, imageTokens, headDim].</summary>
    public ulong Keys;
    /// <summary>mi_rope only: device address of the bf16 values out (copied), [kvHeads, imageTokens, headDim].</summary>
    public ulong Values;
    /// <summary>Device address of int32 positions. rope: [tokens]; mi_rope: [crops], the marker position of each crop.</summary>
    public ulong Positions;
    /// <summary>Rows of X: tokens (rope) or imageTokens (mi_rope).</summary>
    public int Tokens;
    /// <summary>Heads per row: heads (rope) or kvHeads (mi_rope).</summary>
    public int Heads;
    /// <summary>Elements per head; even.</summary>
    public int HeadDim;
    /// <summary>mi_rope only: visual tokens per crop, mapping token u to crop u / TokensPerCrop.</summary>
    public int TokensPerCrop;
    /// <summary>RoPE base θ; inv_freq[i] = 1 / θ^(2i/headDim).</summary>
    public float Theta;
    /// <summary>Padding to the C struct's size; leave 0.</summary>
    public int Pad;
}

/// <summary>kernels/embedding.cu: token gather.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct EmbeddingParams
{
    /// <summary>Device address of the bf16 embedding table, [vocab, hidden].</summary>
    public ulong Table;
    /// <summary>Device address of the int32 token ids, [tokens].</summary>
    public ulong Ids;
    /// <summary>Device address of the bf16 output, [tokens, hidden].</summary>
    public ulong Y;
    /// <summary>Ids to gather.</summary>
    public int Tokens;
    /// <summary>Elements per embedding row.</summary>
    public int Hidden;
    /// <summary>Rows of Table; ids are expected in [0, vocab).</summary>
    public int Vocab;
    /// <summary>Padding to the C struct's size; leave 0.</summary>
    public int Pad;
}

/// <summary>kernels/embedding.cu: fp32 ↔ bf16.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ConvertParams
{
    /// <summary>Device address of the source elements (fp32 or bf16, by entry point).</summary>
    public ulong X;
    /// <summary>Device address of the destination elements (the other type).</summary>
    public ulong Y;
    /// <summary>Elements to convert.</summary>
    public long Count;
}

/// <summary>kernels/sampling.cu: greedy argmax.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ArgmaxParams
{
    /// <summary>Device address of the fp32 logits, [rows, vocab].</summary>
    public ulong Logits;
    /// <summary>Device address of the int32 result, [rows]: the argmax per row (ties go to the lowest id; NaN never wins).</summary>
    public ulong Ids;
    /// <summary>Rows (sequences) to reduce.</summary>
    public int Rows;
    /// <summary>Logits per row.</summary>
    public int Vocab;
}

/// <summary>kernels/sampling.cu: seeded temperature / top-k / top-p sampling (per-row settings arrays).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SampleParams
{
    /// <summary>Device address of the fp32 logits, [rows, vocab]; modified in place.</summary>
    public ulong Logits;
    /// <summary>Device address of a u64 scratch buffer, [rows, vocab] (fixed-point softmax weights).</summary>
    public ulong Weights;
    /// <summary>Device address of the int32 prompt and generated ids of every row, concatenated (for the repetition penalty).</summary>
    public ulong PrevTokens;
    /// <summary>Device address of the int32 offsets into PrevTokens, [rows + 1].</summary>
    public ulong PrevOffsets;
    /// <summary>Device address of an fp32 scratch buffer as long as PrevTokens (gathered penalised logits).</summary>
    public ulong PrevScratch;
    /// <summary>Device address of fp32 temperatures, [rows]; 0 = greedy.</summary>
    public ulong Temperature;
    /// <summary>Device address of int32 top-k limits, [rows]; 0 = off.</summary>
    public ulong TopK;
    /// <summary>Device address of fp32 top-p limits, [rows]; 1 = off.</summary>
    public ulong TopP;
    /// <summary>Device address of fp32 repetition penalties, [rows]; 1 = off.</summary>
    public ulong Penalty;
    /// <summary>Device address of u64 seeds, [rows]: the Philox key.</summary>
    public ulong Seed;
    /// <summary>Device address of u64 stream numbers, [rows]: the high counter words of the Philox draw.</summary>
    public ulong Stream;
    /// <summary>Device address of int32 steps, [rows]: counter word c0 of the draw, normally the index of the token being generated.</summary>
    public ulong Step;
    /// <summary>Device address of the int32 chosen tokens, [rows]; −1 when no token is left.</summary>
    public ulong Ids;
    /// <summary>Rows (sequences); one block each.</summary>
    public int Rows;
    /// <summary>Logits per row; at most 2^23.</summary>
    public int Vocab;
}

/// <summary>kernels/decode.cuh (attention_decode_paged.cu, attention_decode_cluster.cu): one query token per sequence against visual + paged text keys.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DecodeParams
{
    /// <summary>Device address of the bf16 queries, [seqs, heads·headDim] with row stride QStride.</summary>
    public ulong Q;
    /// <summary>Device address of the bf16 output, [seqs, heads·headDim] with row stride OStride.</summary>
    public ulong O;
    /// <summary>Device address of the bf16 paged key cache, [numBlocks, blockSize, kvHeads, headDim].</summary>
    public ulong KCache;
    /// <summary>Device address of the bf16 paged value cache, [numBlocks, blockSize, kvHeads, headDim].</summary>
    public ulong VCache;
    /// <summary>Device address of the int32 block tables, [seqs, maxBlocks].</summary>
    public ulong BlockTables;
    /// <summary>Device address of int32 text key counts, [seqs] (the current token included); 0 = cross-attention only.</summary>
    public ulong TextLens;
    /// <summary>Device address of int32 visible visual key counts, [seqs]; address 0 = no visual keys anywhere.</summary>
    public ulong VisLens;
    /// <summary>Device address of [seqs] u64 device addresses of each sequence's visual keys [kvHeads, visTokens, headDim] (an entry of 0: none); address 0 = none anywhere.</summary>
    public ulong VisK;
    /// <summary>Like VisK, for the visual values.</summary>
    public ulong VisV;
    /// <summary>Device address of int32 visual tokens per KV head, [seqs] (row count of that head's slab).</summary>
    public ulong VisTokens;
    /// <summary>Device address of fp32 split partial outputs, [seqs, heads, splits, headDim]; needed when Splits &gt; 1, else 0.</summary>
    public ulong PartO;
    /// <summary>Device address of fp32 split (max, sum) pairs, [seqs, heads, splits, 2]; needed when Splits &gt; 1, else 0.</summary>
    public ulong PartMl;
    /// <summary>
    /// Device address of zeroed int32 counters, [seqs, kvHeads], or 0. Set (with Splits &gt; 1), the tensor-core kernel
    /// merges the splits itself — the last split CTA of each (sequence, KV head) combines — and no combine launch
    /// follows; every launch leaves the counters zeroed again (reusable, also from a CUDA graph).
    /// </summary>
    public ulong SplitCounters;
    /// <summary>Sequences in the step (one query token each).</summary>
    public int Seqs;
    /// <summary>Query heads; heads / kvHeads ≤ 8 (CUDA cores) or ≤ 16 (tensor cores).</summary>
    public int Heads;
    /// <summary>Key/value heads.</summary>
    public int KvHeads;
    /// <summary>Elements per head: a multiple of 8, at most 256.</summary>
    public int HeadDim;
    /// <summary>Tokens per KV-cache block.</summary>
    public int BlockSize;
    /// <summary>Columns of BlockTables.</summary>
    public int MaxBlocks;
    /// <summary>Split-K partitions of the key list (≥ 1); 1 writes bf16 output directly.</summary>
    public int Splits;
    /// <summary>Virtual keys per split (≥ 1); split z covers keys [z·SplitKeys, (z+1)·SplitKeys).</summary>
    public int SplitKeys;
    /// <summary>Row stride of Q, in elements; even for the tensor-core kernel.</summary>
    public int QStride;
    /// <summary>Row stride of O, in elements.</summary>
    public int OStride;
    /// <summary>Softmax scale in the exp2 domain: log2(e) / sqrt(headDim).</summary>
    public float ScaleLog2;
    /// <summary>Padding to the C struct's size; leave 0.</summary>
    public int Pad;
}

/// <summary>kernels/attention_prefill.cu: FlashAttention-2-style attention over packed variable-length sequences.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct PrefillParams
{
    /// <summary>Device address of the bf16 queries, [rows, heads·headDim] with row stride QStride.</summary>
    public ulong Q;
    /// <summary>Device address of the bf16 output, [rows, heads·headDim] with row stride OStride.</summary>
    public ulong O;
    /// <summary>Device address of the bf16 keys: the paged cache [numBlocks, blockSize, kvHeads, headDim], or dense rows (row stride KvStride) when BlockTables is 0.</summary>
    public ulong K;
    /// <summary>Device address of the bf16 values, laid out as K.</summary>
    public ulong V;
    /// <summary>Device address of the int32 block tables, [seqs, maxBlocks]; 0 = dense keys.</summary>
    public ulong BlockTables;
    /// <summary>Device address of int32 query row starts, [seqs + 1]: sequence s owns rows [SeqQStart[s], SeqQStart[s+1]).</summary>
    public ulong SeqQStart;
    /// <summary>Device address of int32 first key rows, [seqs]; dense mode only.</summary>
    public ulong SeqKStart;
    /// <summary>Device address of int32 absolute positions of each sequence's first query row, [seqs] (its cached length).</summary>
    public ulong SeqPos;
    /// <summary>Device address of int32 (sequence, first row within the sequence) pairs, [tiles, 2]: one per CTA.</summary>
    public ulong Tiles;
    /// <summary>Device address of int32 visible visual key counts per query row, [rows]; 0 = none.</summary>
    public ulong VisLens;
    /// <summary>Device address of [seqs] u64 device addresses of each sequence's visual keys [kvHeads, visTokens, headDim]; 0 = none.</summary>
    public ulong VisK;
    /// <summary>Like VisK, for the visual values.</summary>
    public ulong VisV;
    /// <summary>Device address of int32 visual tokens per KV head, [seqs].</summary>
    public ulong VisTokens;
    /// <summary>Query heads.</summary>
    public int Heads;
    /// <summary>Key/value heads; query head h reads KV head h / (heads / kvHeads).</summary>
    public int KvHeads;
    /// <summary>Elements per head, at most 256 (rounded up to 16 in shared memory).</summary>
    public int HeadDim;
    /// <summary>Tokens per KV-cache block (paged mode).</summary>
    public int BlockSize;
    /// <summary>Columns of BlockTables.</summary>
    public int MaxBlocks;
    /// <summary>Text keys a row sees: 0 none (cross-attention), 1 causal, 2 every key of its sequence (SigLIP).</summary>
    public int TextMode;
    /// <summary>Row stride of Q, in elements.</summary>
    public int QStride;
    /// <summary>Row stride of O, in elements.</summary>
    public int OStride;
    /// <summary>Row stride of dense K/V, in elements.</summary>
    public int KvStride;
    /// <summary>Softmax scale in the exp2 domain: log2(e) / sqrt(headDim).</summary>
    public float ScaleLog2;
}

/// <summary>kernels/kv_write.cu: a step's keys (RoPE fused) and values into their cache slots.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvWriteParams
{
    /// <summary>Device address of the step's bf16 keys, [tokens, kvHeads·headDim] with row stride KStride.</summary>
    public ulong K;
    /// <summary>Device address of the step's bf16 values, [tokens, kvHeads·headDim] with row stride VStride.</summary>
    public ulong V;
    /// <summary>Device address of the bf16 key cache, [numBlocks, blockSize, kvHeads, headDim].</summary>
    public ulong KCache;
    /// <summary>Device address of the bf16 value cache, [numBlocks, blockSize, kvHeads, headDim].</summary>
    public ulong VCache;
    /// <summary>Device address of int32 cache slots, [tokens]: block·blockSize + offset; −1 skips the token.</summary>
    public ulong Slots;
    /// <summary>Device address of int32 positions, [tokens]; read only when Rope != 0.</summary>
    public ulong Positions;
    /// <summary>Device address of the step's bf16 queries, [tokens, QHeads·headDim] with row stride QStride, rotated in place (0 = none; needs Rope).</summary>
    public ulong Q;
    /// <summary>Tokens in the step.</summary>
    public int Tokens;
    /// <summary>Key/value heads.</summary>
    public int KvHeads;
    /// <summary>Elements per head; even.</summary>
    public int HeadDim;
    /// <summary>Row stride of K, in elements.</summary>
    public int KStride;
    /// <summary>Row stride of V, in elements.</summary>
    public int VStride;
    /// <summary>Nonzero: rotate the keys (rotate-half RoPE, as rope.cu) on the way into the cache.</summary>
    public int Rope;
    /// <summary>Query heads, when Q != 0.</summary>
    public int QHeads;
    /// <summary>Row stride of Q, in elements.</summary>
    public int QStride;
    /// <summary>RoPE base θ, when Rope != 0.</summary>
    public float Theta;
    /// <summary>Padding to the C struct's size; leave 0.</summary>
    public int Pad;
}

/// <summary>kernels/hyper.cu: the sigmoid-gated mix of cross-attention into the context (240728 / 241014).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GateMixParams
{
    /// <summary>Device address of the bf16 self-attention context, [rows, cols]; updated in place to c + σ(g)·(x − c).</summary>
    public ulong Context;
    /// <summary>Device address of the bf16 cross-attention output x, [rows, cols].</summary>
    public ulong Cross;
    /// <summary>Device address of the bf16 pre-sigmoid gate, [gateRows, cols].</summary>
    public ulong Gate;
    /// <summary>Device address of a bf16 gate bias, [biasPeriod], added as bias[i % biasPeriod]; 0 = none.</summary>
    public ulong Bias;
    /// <summary>Device address of int32 visible crop counts, [rows]; a row with 0 is left alone.</summary>
    public ulong Visible;
    /// <summary>Rows (tokens).</summary>
    public long Rows;
    /// <summary>Columns (heads·headDim); a multiple of 8.</summary>
    public int Cols;
    /// <summary>Rows of Gate: Rows (240728, dynamic gate) or 1 (241014, static gate).</summary>
    public int GateRows;
    /// <summary>Length of Bias (headDim for 240728); 0 without a bias.</summary>
    public int BiasPeriod;
    /// <summary>Padding to the C struct's size; leave 0.</summary>
    public int Pad;
}

/// <summary>kernels/diagnostics.cu: spin_delay's wait.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DelayParams
{
    /// <summary>Nanoseconds one thread waits on the global timer after letting the next kernel start.</summary>
    public long Nanoseconds;
}

/// <summary>kernels/diagnostics.cu: stream_read's buffers (the decode benchmark's read floor).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ReadParams
{
    /// <summary>First buffer (16-byte aligned).</summary>
    public ulong A;
    /// <summary>Second buffer, as long as the first.</summary>
    public ulong B;
    /// <summary>One uint per thread of the launch: [ctas · 128].</summary>
    public ulong Out;
    /// <summary>16-byte chunks in each buffer.</summary>
    public long Chunks;
    /// <summary>Chunks of each buffer one CTA reads.</summary>
    public long PerCta;
}
