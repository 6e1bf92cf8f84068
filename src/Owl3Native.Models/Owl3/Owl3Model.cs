using Owl3Native.Core.Backend;
using Owl3Native.Core.Config;
using Owl3Native.Core.Tensors;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Layers;
using Owl3Native.Models.Qwen2;
using Owl3Native.Models.Siglip;

namespace Owl3Native.Models.Owl3;

/// <summary>
/// mPLUG-Owl3 (spec/MODEL.md §2): SigLIP → projector → HyperQwen2. Images never enter the token sequence; each hyper
/// layer turns them into visual K/V once per request (<see cref="PrepareVisual"/>), which the engine keeps with the
/// sequence. The model does not know the cache is paged: <see cref="AttentionBatch"/> carries that.
/// </summary>
public sealed class Owl3Model
{
    private readonly IBackend _backend;
    private readonly SiglipVisionTower _vision;
    private readonly Projector _projector;
    private readonly Weight _embed, _lmHead;
    private readonly Qwen2DecoderLayer[] _layers;
    private readonly RmsNorm _norm;

    /// <summary>Builds the model over an opened checkpoint's weights (zero copy; the checkpoint must outlive the model).</summary>
    public Owl3Model(Owl3Checkpoint checkpoint, IBackend backend)
    {
        _backend = backend;
        Config = checkpoint.Config;
        Variant = checkpoint.Variant;
        Rules = HyperRules.For(Variant);
        var root = new WeightScope(checkpoint.Weights);
        _vision = new SiglipVisionTower(backend, Config.Vision, root.Child("vision_model"));
        _projector = new Projector(backend, checkpoint.Projector, root.Child("vision2text_model"));
        var lm = root.Child("language_model");
        _embed = lm.Child("model").Child("embed_tokens").Tensor("weight");                         // [vocab, hidden]
        _layers = Enumerable.Range(0, Config.Layers).Select(l => new Qwen2DecoderLayer(backend, Config, l, Rules, lm.Child("model").Child("layers", l))).ToArray();
        _norm = new RmsNorm(backend, lm.Child("model").Child("norm"), (float)Config.RmsNormEps);
        _lmHead = Config.TieWordEmbeddings ? _embed : lm.Child("lm_head").Tensor("weight");       // [vocab, hidden]
    }

    /// <summary>The validated config.</summary>
    public Owl3Config Config { get; }

    /// <summary>Hyper-attention variant.</summary>
    public Owl3Variant Variant { get; }

    /// <summary>Visibility and gate rules of the variant.</summary>
    public HyperRules Rules { get; }

    /// <summary>The backend the model runs on.</summary>
    public IBackend Backend => _backend;

    /// <summary>pixel_values `[crops, 3, S, S]` → image_embeds `[crops·patches, hidden]` (vision tower + projector).</summary>
    public Tensor EncodeImages(Tensor pixels, ITrace? trace = null)
    {
        var embeds = _projector.Forward(_vision.Forward(pixels, trace), trace);
        trace?.Record("vision.image_embeds", embeds);
        return embeds;
    }

    /// <summary>
    /// Visual K/V of every hyper layer for one request (null for other layers): image_embeds of its crops in marker order
    /// and the marker starts s_j (absolute token indices of each `&lt;|image|&gt;` marker's first token).
    /// </summary>
    public VisualKv?[] PrepareVisual(Tensor imageEmbeds, ReadOnlySpan<int> markerStarts, ITrace? trace = null)
    {
        if (imageEmbeds.Rows != markerStarts.Length * Config.Vision.Patches)
            throw new ArgumentException($"{imageEmbeds.Rows} image tokens for {markerStarts.Length} markers of {Config.Vision.Patches} patches");
        var visual = new VisualKv?[Config.Layers];
        if (markerStarts.Length == 0) return visual;
        for (int l = 0; l < _layers.Length; l++)
            visual[l] = _layers[l].Hyper?.PrepareVisual(imageEmbeds, markerStarts, Config.Vision.Patches, trace);
        return visual;
    }

    /// <summary>Runs the decoder over the step's new tokens → final-norm hidden states `[tokens, hidden]`.</summary>
    public Tensor Forward(ReadOnlySpan<int> ids, AttentionBatch batch, ITrace? trace = null)
    {
        if (ids.Length != batch.Tokens) throw new ArgumentException($"{ids.Length} ids for a batch of {batch.Tokens} tokens");
        var x = _backend.Embedding(_embed, ids);
        for (int l = 0; l < _layers.Length; l++)
        {
            trace?.Record($"hidden_states.{l}", x);                                 // input of layer l
            x = _layers[l].Forward(x, batch, trace);
        }
        var h = _norm.Forward(x);
        trace?.Record($"hidden_states.{_layers.Length}", h);
        return h;
    }

    /// <summary>final hidden `[rows, hidden]` → logits `[rows, vocab]` (fp32).</summary>
    public Tensor Logits(Tensor hidden) => _backend.Linear(hidden, _lmHead);
}
