using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.Backend;

/// <summary>
/// The op contract every backend implements (CPU now, CUDA later). Activations are fp32 <see cref="Tensor"/>s of
/// `[rows, features]`; weights are <see cref="Weight"/>s `[out, in]`. Ops allocate their outputs unless named
/// `…InPlace`. Shapes use the house vocabulary: tokens, heads, kvHeads, headDim, imageTokens.
/// </summary>
public interface IBackend
{
    /// <summary>Short name (`cpu`, `cuda`).</summary>
    string Name { get; }

    /// <summary>`table[ids[t]]` → `[tokens, hidden]`.</summary>
    Tensor Embedding(Weight table, ReadOnlySpan<int> ids);

    /// <summary>`x·wᵀ + b`: `[rows, in]` × `[out, in]` → `[rows, out]`.</summary>
    Tensor Linear(Tensor x, Weight w, Weight? bias = null);

    /// <summary>
    /// Several projections of the same input in one pass (q/k/v): one parallel sweep over all their rows, the separate
    /// mapped weights read in place (no concatenated copy). Returns one `[rows, out_i]` tensor per weight.
    /// </summary>
    Tensor[] LinearMany(Tensor x, IReadOnlyList<Weight> weights, IReadOnlyList<Weight?> biases);

    /// <summary>SwiGLU on the fly: `silu(x·gateᵀ) ⊙ (x·upᵀ)` → `[rows, intermediate]`, reading both weights in one pass.</summary>
    Tensor SwiGlu(Tensor x, Weight gate, Weight up);

    /// <summary>`x · rsqrt(mean(x²) + eps) · w` per row.</summary>
    Tensor RmsNorm(Tensor x, Weight w, float eps);

    /// <summary>`(x − mean) · rsqrt(var + eps) · w + b` per row.</summary>
    Tensor LayerNorm(Tensor x, Weight w, Weight b, float eps);

    /// <summary>`x += y` (same shape).</summary>
    void AddInPlace(Tensor x, Tensor y);

    /// <summary>`x[r] += table[r mod table.Rows]` (position embeddings of stacked crops).</summary>
    void AddRowsInPlace(Tensor x, Weight table);

    /// <summary>tanh-approximated GELU (SigLIP MLP).</summary>
    void GeluTanhInPlace(Tensor x);

    /// <summary>exact erf GELU (241101 projector).</summary>
    void GeluErfInPlace(Tensor x);

    /// <summary>logistic sigmoid.</summary>
    void SigmoidInPlace(Tensor x);

    /// <summary>
    /// Rotate-half RoPE of `[tokens, heads·headDim]` at per-row positions, fp32 tables: `inv_freq[i] = 1/θ^(2i/D)`,
    /// angle `= fp32(p)·inv_freq[i]` (spec/MODEL.md §3.4).
    /// </summary>
    void RopeInPlace(Tensor x, ReadOnlySpan<int> positions, int heads, int headDim, double theta);

    /// <summary>
    /// Image crops `[crops, 3, S, S]` → patch rows `[crops·patches, 3·P·P]` in (channel, ky, kx) order, patches row-major;
    /// pixels beyond the last whole patch are never read (S = 384: 6 edge pixels).
    /// </summary>
    Tensor Patches(Tensor pixels, int patchSize);

    /// <summary>Bidirectional attention within groups of `groupLength` rows (one group per crop): q, k, v `[rows, heads·headDim]`.</summary>
    Tensor DenseAttention(Tensor q, Tensor k, Tensor v, int groupLength, int heads, int headDim);

    /// <summary>Allocates a paged K/V cache.</summary>
    KvCacheStorage CreateKvCache(int layers, int numBlocks, int blockSize, int kvHeads, int headDim);

    /// <summary>Writes each row's K and V (`[tokens, kvHeads·headDim]`, keys already rotated) into its cache slot.</summary>
    void WriteKv(AttentionBatch batch, int layer, Tensor k, Tensor v);

    /// <summary>
    /// Causal attention of the new rows over each sequence's cached text K/V (GQA, scale 1/√D). With
    /// <paramref name="fusedVisual"/>, the layer's visual keys come first in the same softmax, masked by
    /// <see cref="VisualKv.VisibleFrom"/> (241101, spec/MODEL.md §4.3). → context `[tokens, heads·headDim]`.
    /// </summary>
    Tensor PagedAttention(Tensor q, AttentionBatch batch, int layer, int heads, bool fusedVisual);

    /// <summary>
    /// Cross-attention of the rotated queries over the layer's visible visual keys only (240728/241014, §4.2).
    /// Rows that see no crop get zeros and <paramref name="visibleCrops"/>[row] = 0.
    /// </summary>
    Tensor CrossAttention(Tensor q, AttentionBatch batch, int layer, int heads, Span<int> visibleCrops);

    /// <summary>
    /// `ctx[t] = (1 − g[t])·ctx[t] + g[t]·cross[t]` for rows with `visibleCrops[t] > 0`; `gate` is `[tokens, features]`
    /// or one row broadcast to all.
    /// </summary>
    void GatedMixInPlace(Tensor context, Tensor cross, Tensor gate, ReadOnlySpan<int> visibleCrops);

    /// <summary>
    /// Splits `v_kv_proj` output `[imageTokens, 2·kvHeads·headDim]` (head-major, [K|V] per head, §4.1) into keys and
    /// values `[kvHeads, imageTokens, headDim]`, rotating crop j's keys at `ropePositions[j]` in fp32 (MI-RoPE).
    /// </summary>
    VisualKv MakeVisualKv(Tensor kv, int kvHeads, int headDim, int tokensPerCrop, ReadOnlySpan<int> ropePositions, double theta, int[] visibleFrom);
}
