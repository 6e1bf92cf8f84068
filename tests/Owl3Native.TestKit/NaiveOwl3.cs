using Owl3Native.Core.Config;
using Owl3Native.Models.Checkpoints;
using static Owl3Native.TestKit.NaiveOps;

namespace Owl3Native.TestKit;

/// <summary>What one naive forward pass produces.</summary>
/// <param name="Logits">`[tokens, vocab]`, row-major.</param>
/// <param name="Tokens">Sequence length L.</param>
/// <param name="Vocab">Rows of the lm_head.</param>
/// <param name="HiddenStates">Entry l (l &lt; layers) is the input of decoder layer l, `[tokens, hidden]`; the last entry is
/// the final-RMSNorm output (the same naming as the model's `hidden_states.l` trace).</param>
/// <param name="ImageEmbeds">Projector output `[crops·patches, hidden]`, or null without images.</param>
public sealed record NaiveOwl3Result(double[] Logits, int Tokens, int Vocab, IReadOnlyList<double[]> HiddenStates, double[]? ImageEmbeds)
{
    /// <summary>Logits of token <paramref name="t"/>.</summary>
    public ReadOnlySpan<double> LogitsRow(int t) => Logits.AsSpan(t * Vocab, Vocab);
}

/// <summary>
/// A scalar forward pass of mPLUG-Owl3 written straight from spec/MODEL.md, for ONE sequence with full recomputation (no
/// cache, no chunks, no batching): §2.1 SigLIP (layers 0..L−2, no post-layernorm), §2.2 projector, §3 Qwen2, §4 hyper
/// layers of all three variants. Double precision throughout except where the spec fixes fp32 (the RoPE angle table).
/// It shares only the checkpoint reader with the engine; every op comes from <see cref="NaiveOps"/>.
/// </summary>
public sealed class NaiveOwl3 : IDisposable
{
    private readonly Owl3Checkpoint _checkpoint;
    private readonly Dictionary<string, float[]> _weights = new(StringComparer.Ordinal);

    /// <summary>Opens a checkpoint folder (config, variant and projector come from it).</summary>
    public NaiveOwl3(string checkpointDirectory)
    {
        _checkpoint = Owl3Checkpoint.Open(checkpointDirectory);
        Config = _checkpoint.Config;
        Variant = _checkpoint.Variant;
    }

    /// <summary>The config.</summary>
    public Owl3Config Config { get; }

    /// <summary>The hyper variant.</summary>
    public Owl3Variant Variant { get; }

    /// <summary>241101 puts visual keys in the text softmax; 240728/241014 cross-attend and gate (§1).</summary>
    private bool Fused => Variant == Owl3Variant.V241101;

    /// <summary>
    /// Full forward. <paramref name="pixels"/> `[crops, 3, S, S]` flattened (or null), one crop per marker;
    /// <paramref name="markerStarts"/> s_j = index of the first token of the j-th `&lt;|image|&gt;` marker.
    /// </summary>
    public NaiveOwl3Result Forward(int[] ids, float[]? pixels, int[] markerStarts)
    {
        var v = Config.Vision;
        int crops = markerStarts.Length;
        if ((pixels?.Length ?? 0) != crops * 3 * v.ImageSize * v.ImageSize)
            throw new ArgumentException($"{pixels?.Length ?? 0} pixel values for {crops} crops of 3×{v.ImageSize}×{v.ImageSize}");
        double[]? imageEmbeds = crops > 0 ? Project(Vision(pixels!, crops)) : null;   // [crops·patches, hidden]
        return Language(ids, imageEmbeds, markerStarts);
    }

    /// <summary>§2.1: pixels → hidden_states[−2] `[crops·patches, Hv]`.</summary>
    private double[] Vision(float[] pixels, int crops)
    {
        var v = Config.Vision;
        int hv = v.Hidden, patches = v.Patches, rows = crops * patches, cols = 3 * v.PatchSize * v.PatchSize;
        double eps = v.LayerNormEps;
        var x = Linear(Patches(pixels, crops, 3, v.ImageSize, v.PatchSize), rows, cols,
            W("vision_model.embeddings.patch_embedding.weight"), hv, W("vision_model.embeddings.patch_embedding.bias"));
        var positions = W("vision_model.embeddings.position_embedding.weight");            // [patches, Hv]
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < hv; i++) x[r * hv + i] += positions[(r % patches) * hv + i];
        for (int layer = 0; layer < v.Layers - 1; layer++)                                   // the last layer is never used
        {
            string p = $"vision_model.encoder.layers.{layer}.";
            var a = LayerNorm(x, rows, hv, W(p + "layer_norm1.weight"), W(p + "layer_norm1.bias"), eps);
            var q = Linear(a, rows, hv, W(p + "self_attn.q_proj.weight"), hv, W(p + "self_attn.q_proj.bias"));
            var k = Linear(a, rows, hv, W(p + "self_attn.k_proj.weight"), hv, W(p + "self_attn.k_proj.bias"));
            var val = Linear(a, rows, hv, W(p + "self_attn.v_proj.weight"), hv, W(p + "self_attn.v_proj.bias"));
            var attn = Attention(q, rows, v.Heads, k, val, rows, v.Heads, v.HeadDim, (t, u) => t / patches == u / patches); // per crop, bidirectional
            AddInPlace(x, Linear(attn, rows, hv, W(p + "self_attn.out_proj.weight"), hv, W(p + "self_attn.out_proj.bias")));
            var m = LayerNorm(x, rows, hv, W(p + "layer_norm2.weight"), W(p + "layer_norm2.bias"), eps);
            var h = Map(Linear(m, rows, hv, W(p + "mlp.fc1.weight"), v.Intermediate, W(p + "mlp.fc1.bias")), GeluTanh);
            AddInPlace(x, Linear(h, rows, v.Intermediate, W(p + "mlp.fc2.weight"), hv, W(p + "mlp.fc2.bias")));
        }
        return x;
    }

    /// <summary>§2.2: `[rows, Hv]` → image_embeds `[rows, hidden]`.</summary>
    private double[] Project(double[] features)
    {
        int hv = Config.Vision.Hidden, h = Config.Hidden, rows = features.Length / hv;
        if (_checkpoint.Projector == ProjectorKind.Linear)
            return Linear(features, rows, hv, W("vision2text_model.weight"), h, W("vision2text_model.bias"));
        var a = Map(Linear(features, rows, hv, W("vision2text_model.0.weight"), h, W("vision2text_model.0.bias")), GeluErf);
        return Linear(a, rows, h, W("vision2text_model.2.weight"), h, W("vision2text_model.2.bias"));
    }

    /// <summary>§3 and §4: the decoder over all L tokens at once.</summary>
    private NaiveOwl3Result Language(int[] ids, double[]? imageEmbeds, int[] s)
    {
        var c = Config;
        int tokens = ids.Length, hidden = c.Hidden, heads = c.Heads, kvHeads = c.KvHeads, headDim = c.HeadDim;
        int patches = c.Vision.Patches, crops = s.Length;
        double eps = c.RmsNormEps;
        var positions = Enumerable.Range(0, tokens).ToArray();                              // text position = index (§3.4)
        var embed = W("language_model.model.embed_tokens.weight");                          // [vocab, hidden]
        var x = new double[tokens * hidden];
        for (int t = 0; t < tokens; t++)
            for (int i = 0; i < hidden; i++) x[t * hidden + i] = embed[ids[t] * hidden + i];

        var hiddenStates = new List<double[]>();
        for (int l = 0; l < c.Layers; l++)
        {
            hiddenStates.Add((double[])x.Clone());
            string p = $"language_model.model.layers.{l}.";
            var inputNorm = W(p + "input_layernorm.weight");
            var h = RmsNorm(x, tokens, hidden, inputNorm, eps);
            var q = Rope(Linear(h, tokens, hidden, W(p + "self_attn.q_proj.weight"), heads * headDim, W(p + "self_attn.q_proj.bias")), tokens, heads, headDim, positions, c.RopeTheta);
            var k = Rope(Linear(h, tokens, hidden, W(p + "self_attn.k_proj.weight"), kvHeads * headDim, W(p + "self_attn.k_proj.bias")), tokens, kvHeads, headDim, positions, c.RopeTheta);
            var val = Linear(h, tokens, hidden, W(p + "self_attn.v_proj.weight"), kvHeads * headDim, W(p + "self_attn.v_proj.bias"));

            double[] context;                                                                // [tokens, heads·headDim]
            if (c.IsHyperLayer(l) && imageEmbeds is not null)
            {
                var (kImg, vImg) = VisualKeysValues(p, imageEmbeds, inputNorm, s);            // [crops·patches, kvHeads·headDim] each
                int imageTokens = crops * patches;
                if (Fused)
                {
                    // §4.3: keys [visual ; text], crop j visible iff t ≥ s_j, text causal, one softmax.
                    var keys = Concat(kImg, k);
                    var values = Concat(vImg, val);
                    context = Attention(q, tokens, heads, keys, values, imageTokens + tokens, kvHeads, headDim,
                        (t, u) => u < imageTokens ? t >= s[u / patches] : u - imageTokens <= t);
                }
                else
                {
                    // §4.2: causal self-attention, cross-attention over crops j < c_t = #{j : s_j < t}, gated mix where c_t ≥ 1.
                    context = Attention(q, tokens, heads, k, val, tokens, kvHeads, headDim, (t, u) => u <= t);
                    int VisibleCount(int t) => s.Count(sj => sj < t);
                    var cross = Attention(q, tokens, heads, kImg, vImg, imageTokens, kvHeads, headDim, (t, u) => u / patches < VisibleCount(t));
                    var gate = Gate(p, context, tokens);                                     // [tokens, heads·headDim]
                    for (int t = 0; t < tokens; t++)
                    {
                        if (VisibleCount(t) == 0) continue;                                  // before query_shift: no gate, no mix
                        for (int f = 0; f < heads * headDim; f++)
                        {
                            int i = t * heads * headDim + f;
                            context[i] = (1 - gate[i]) * context[i] + gate[i] * cross[i];
                        }
                    }
                }
            }
            else
            {
                context = Attention(q, tokens, heads, k, val, tokens, kvHeads, headDim, (t, u) => u <= t);
            }
            AddInPlace(x, Linear(context, tokens, heads * headDim, W(p + "self_attn.o_proj.weight"), hidden));   // o_proj, no bias

            var m = RmsNorm(x, tokens, hidden, W(p + "post_attention_layernorm.weight"), eps);
            var act = SwiGlu(m, tokens, hidden, W(p + "mlp.gate_proj.weight"), W(p + "mlp.up_proj.weight"), c.Intermediate);
            AddInPlace(x, Linear(act, tokens, c.Intermediate, W(p + "mlp.down_proj.weight"), hidden));
        }
        var final = RmsNorm(x, tokens, hidden, W("language_model.model.norm.weight"), eps);
        hiddenStates.Add(final);
        var lmHead = c.TieWordEmbeddings ? embed : W("language_model.lm_head.weight");       // [vocab, hidden]
        return new NaiveOwl3Result(Linear(final, tokens, hidden, lmHead, c.Vocab), tokens, c.Vocab, hiddenStates, imageEmbeds);
    }

    /// <summary>
    /// §4.1: RMSNorm with the layer's input_layernorm → v_kv_proj → split f = (g·2 + s)·D + d → MI-RoPE of crop j's keys at
    /// s_j (241101) or s_j + 1 (240728/241014). Returns K and V as `[imageTokens, kvHeads·headDim]`.
    /// </summary>
    private (double[] Keys, double[] Values) VisualKeysValues(string p, double[] imageEmbeds, float[] inputNorm, int[] s)
    {
        var c = Config;
        int hidden = c.Hidden, kvHeads = c.KvHeads, headDim = c.HeadDim, patches = c.Vision.Patches;
        int imageTokens = imageEmbeds.Length / hidden, width = kvHeads * headDim;
        var img = RmsNorm(imageEmbeds, imageTokens, hidden, inputNorm, c.RmsNormEps);
        var kv = Linear(img, imageTokens, hidden, W(p + "self_attn.v_kv_proj.weight"), 2 * width, W(p + "self_attn.v_kv_proj.bias"));
        var keys = new double[imageTokens * width];
        var values = new double[imageTokens * width];
        for (int u = 0; u < imageTokens; u++)
            for (int g = 0; g < kvHeads; g++)
                for (int d = 0; d < headDim; d++)
                {
                    keys[u * width + g * headDim + d] = kv[u * 2 * width + (g * 2 + 0) * headDim + d];
                    values[u * width + g * headDim + d] = kv[u * 2 * width + (g * 2 + 1) * headDim + d];
                }
        var ropePositions = new int[imageTokens];
        for (int u = 0; u < imageTokens; u++) ropePositions[u] = s[u / patches] + (Fused ? 0 : 1);
        return (Rope(keys, imageTokens, kvHeads, headDim, ropePositions, c.RopeTheta), values);
    }

    /// <summary>
    /// §4.2 step 7, `[tokens, heads·headDim]`: 240728 γ_t,h = σ(C_t,h·Wgᵀ + bg) with one `[D, D]` Linear shared by heads;
    /// 241014 γ = σ(gate) for every token.
    /// </summary>
    private double[] Gate(string p, double[] context, int tokens)
    {
        int heads = Config.Heads, headDim = Config.HeadDim;
        if (Variant == Owl3Variant.V240728)
            return Map(Linear(context, tokens * heads, headDim, W(p + "self_attn.gate_proj.0.weight"), headDim, W(p + "self_attn.gate_proj.0.bias")), Sigmoid);
        var gate = W(p + "self_attn.gate");                                                  // [hidden] = [heads·headDim]
        var y = new double[tokens * heads * headDim];
        for (int t = 0; t < tokens; t++)
            for (int f = 0; f < heads * headDim; f++) y[t * heads * headDim + f] = Sigmoid(gate[f]);
        return y;
    }

    private float[] W(string name)
    {
        if (!_weights.TryGetValue(name, out var w)) _weights[name] = w = _checkpoint.Weights.Get(name).ToFloatArray();
        return w;
    }

    private static void AddInPlace(double[] x, double[] y)
    {
        for (int i = 0; i < x.Length; i++) x[i] += y[i];
    }

    private static double[] Concat(double[] a, double[] b) => [.. a, .. b];

    /// <summary>Unmaps the checkpoint.</summary>
    public void Dispose() => _checkpoint.Dispose();
}
