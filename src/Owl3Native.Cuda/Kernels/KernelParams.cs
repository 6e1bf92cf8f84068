using System.Runtime.InteropServices;

namespace Owl3Native.Cuda.Kernels;

// C# mirrors of the kernels' params structs, passed by value to cuLaunchKernel. Same field order and names
// (PascalCase here); device pointers are 64-bit addresses. Layouts are checked against the .cu declarations by
// tests/Owl3Native.Cuda.Tests (offsets recomputed from the C struct, size against the .cu static_assert).

/// <summary>kernels/norm.cu: RMSNorm, residual RMSNorm, LayerNorm.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct NormParams
{
    public ulong X, Residual, Weight, Bias, Y;
    public int Rows, Hidden;
    public float Eps;
    public int Pad;
}

/// <summary>kernels/activation.cu: SwiGLU, GELU tanh/erf, bias add.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ActivationParams
{
    public ulong X, Bias, Y;
    public long Rows;
    public int Cols, Pad;
}

/// <summary>kernels/rope.cu: RoPE and MI-RoPE.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct RopeParams
{
    public ulong X, Keys, Values, Positions;
    public int Tokens, Heads, HeadDim, TokensPerCrop;
    public float Theta;
    public int Pad;
}

/// <summary>kernels/embedding.cu: token gather.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct EmbeddingParams
{
    public ulong Table, Ids, Y;
    public int Tokens, Hidden, Vocab, Pad;
}

/// <summary>kernels/embedding.cu: fp32 ↔ bf16.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ConvertParams
{
    public ulong X, Y;
    public long Count;
}

/// <summary>kernels/sampling.cu: greedy argmax.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ArgmaxParams
{
    public ulong Logits, Ids;
    public int Rows, Vocab;
}

/// <summary>kernels/sampling.cu: seeded temperature / top-k / top-p sampling (per-row settings arrays).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SampleParams
{
    public ulong Logits, Weights, PrevTokens, PrevOffsets, PrevScratch, Temperature, TopK, TopP, Penalty, Seed, Stream, Step, Ids;
    public int Rows, Vocab;
}

/// <summary>kernels/attention_decode_paged.cu: one query token per sequence against visual + paged text keys.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DecodeParams
{
    public ulong Q, O, KCache, VCache, BlockTables, TextLens, VisLens, VisK, VisV, VisTokens, PartO, PartMl;
    public int Seqs, Heads, KvHeads, HeadDim;
    public int BlockSize, MaxBlocks, Splits, SplitKeys;
    public int QStride, OStride;
    public float ScaleLog2;
    public int Pad;
}

/// <summary>kernels/attention_prefill.cu: FlashAttention-2-style attention over packed variable-length sequences.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct PrefillParams
{
    public ulong Q, O, K, V, BlockTables, SeqQStart, SeqKStart, SeqPos, Tiles, VisLens, VisK, VisV, VisTokens;
    public int Heads, KvHeads, HeadDim, BlockSize;
    public int MaxBlocks, TextMode;
    public int QStride, OStride, KvStride;
    public float ScaleLog2;
}

/// <summary>kernels/kv_write.cu: a step's keys (RoPE fused) and values into their cache slots.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvWriteParams
{
    public ulong K, V, KCache, VCache, Slots, Positions;
    public int Tokens, KvHeads, HeadDim, KStride;
    public int VStride, Rope;
    public float Theta;
    public int Pad;
}

/// <summary>kernels/hyper.cu: the sigmoid-gated mix of cross-attention into the context (240728 / 241014).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GateMixParams
{
    public ulong Context, Cross, Gate, Bias, Visible;
    public long Rows;
    public int Cols, GateRows;
    public int BiasPeriod, Pad;
}
