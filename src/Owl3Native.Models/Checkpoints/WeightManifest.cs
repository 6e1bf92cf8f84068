using Owl3Native.Core.Config;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models.Checkpoints;

/// <summary>Which part of the model a tensor belongs to.</summary>
public enum WeightComponent
{
    /// <summary>`vision_model.*` (SigLIP).</summary>
    Vision,
    /// <summary>`vision2text_model.*`.</summary>
    Projector,
    /// <summary>`language_model.*` (HyperQwen2).</summary>
    LanguageModel,
}

/// <summary>Whether the model needs a tensor.</summary>
public enum WeightRole
{
    /// <summary>The forward pass reads it; missing is an error.</summary>
    Required,
    /// <summary>Present in real checkpoints but never read (last SigLIP layer, post-layernorm, pooling head, a tied lm_head).</summary>
    Unused,
}

/// <summary>One expected tensor.</summary>
public sealed record WeightSpec(string Name, Shape Shape, WeightComponent Component, WeightRole Role);

/// <summary>
/// Every tensor a checkpoint of a given config and variant holds, with its shape (spec/MODEL.md §7).
/// This table is where the checkpoint spellings live for loading; the model layers read the same names.
/// </summary>
public sealed class WeightManifest
{
    private readonly Dictionary<string, WeightSpec> _byName;

    private WeightManifest(List<WeightSpec> specs)
    {
        Specs = specs;
        _byName = specs.ToDictionary(s => s.Name, StringComparer.Ordinal);
    }

    /// <summary>All expected tensors, in model order.</summary>
    public IReadOnlyList<WeightSpec> Specs { get; }

    /// <summary>Looks up a tensor by name.</summary>
    public bool TryGet(string name, out WeightSpec spec) => _byName.TryGetValue(name, out spec!);

    /// <summary>Builds the manifest for a config, variant and projector kind.</summary>
    public static WeightManifest Build(Owl3Config c, Owl3Variant variant, ProjectorKind projector)
    {
        var specs = new List<WeightSpec>();
        AddVision(specs, c.Vision);
        AddProjector(specs, c, projector);
        AddLanguageModel(specs, c, variant);
        return new WeightManifest(specs);
    }

    private static void AddVision(List<WeightSpec> s, VisionConfig v)
    {
        void Add(string name, WeightRole role, params long[] shape) =>
            s.Add(new WeightSpec("vision_model." + name, new Shape(shape), WeightComponent.Vision, role));
        long hv = v.Hidden, iv = v.Intermediate;
        Add("embeddings.patch_embedding.weight", WeightRole.Required, hv, v.Channels, v.PatchSize, v.PatchSize);
        Add("embeddings.patch_embedding.bias", WeightRole.Required, hv);
        Add("embeddings.position_embedding.weight", WeightRole.Required, v.Patches, hv);
        for (int i = 0; i < v.Layers; i++)
        {
            // The model keeps hidden_states[-2] = the output of layer Layers-2; the last layer is dead weight (§2.1).
            var role = i == v.Layers - 1 ? WeightRole.Unused : WeightRole.Required;
            string l = $"encoder.layers.{i}.";
            foreach (var norm in new[] { "layer_norm1", "layer_norm2" })
            {
                Add(l + norm + ".weight", role, hv);
                Add(l + norm + ".bias", role, hv);
            }
            foreach (var proj in new[] { "q_proj", "k_proj", "v_proj", "out_proj" })
            {
                Add(l + "self_attn." + proj + ".weight", role, hv, hv);
                Add(l + "self_attn." + proj + ".bias", role, hv);
            }
            Add(l + "mlp.fc1.weight", role, iv, hv);
            Add(l + "mlp.fc1.bias", role, iv);
            Add(l + "mlp.fc2.weight", role, hv, iv);
            Add(l + "mlp.fc2.bias", role, hv);
        }
        Add("post_layernorm.weight", WeightRole.Unused, hv);
        Add("post_layernorm.bias", WeightRole.Unused, hv);
        Add("head.probe", WeightRole.Unused, 1, 1, hv);
        Add("head.attention.in_proj_weight", WeightRole.Unused, 3 * hv, hv);
        Add("head.attention.in_proj_bias", WeightRole.Unused, 3 * hv);
        Add("head.attention.out_proj.weight", WeightRole.Unused, hv, hv);
        Add("head.attention.out_proj.bias", WeightRole.Unused, hv);
        Add("head.layernorm.weight", WeightRole.Unused, hv);
        Add("head.layernorm.bias", WeightRole.Unused, hv);
        Add("head.mlp.fc1.weight", WeightRole.Unused, iv, hv);
        Add("head.mlp.fc1.bias", WeightRole.Unused, iv);
        Add("head.mlp.fc2.weight", WeightRole.Unused, hv, iv);
        Add("head.mlp.fc2.bias", WeightRole.Unused, hv);
    }

    private static void AddProjector(List<WeightSpec> s, Owl3Config c, ProjectorKind kind)
    {
        void Add(string name, params long[] shape) =>
            s.Add(new WeightSpec("vision2text_model." + name, new Shape(shape), WeightComponent.Projector, WeightRole.Required));
        long h = c.Hidden, hv = c.Vision.Hidden;
        if (kind == ProjectorKind.Linear)
        {
            Add("weight", h, hv);
            Add("bias", h);
        }
        else
        {
            Add("0.weight", h, hv);
            Add("0.bias", h);
            Add("2.weight", h, h);
            Add("2.bias", h);
        }
    }

    private static void AddLanguageModel(List<WeightSpec> s, Owl3Config c, Owl3Variant variant)
    {
        void Add(string name, WeightRole role, params long[] shape) =>
            s.Add(new WeightSpec("language_model." + name, new Shape(shape), WeightComponent.LanguageModel, role));
        long h = c.Hidden, d = c.HeadDim, q = (long)c.Heads * d, kv = (long)c.KvHeads * d, i = c.Intermediate;
        Add("model.embed_tokens.weight", WeightRole.Required, c.Vocab, h);
        for (int l = 0; l < c.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            Add(p + "input_layernorm.weight", WeightRole.Required, h);
            Add(p + "self_attn.q_proj.weight", WeightRole.Required, q, h);
            Add(p + "self_attn.q_proj.bias", WeightRole.Required, q);
            Add(p + "self_attn.k_proj.weight", WeightRole.Required, kv, h);
            Add(p + "self_attn.k_proj.bias", WeightRole.Required, kv);
            Add(p + "self_attn.v_proj.weight", WeightRole.Required, kv, h);
            Add(p + "self_attn.v_proj.bias", WeightRole.Required, kv);
            Add(p + "self_attn.o_proj.weight", WeightRole.Required, h, q);
            if (c.IsHyperLayer(l))
            {
                Add(p + "self_attn.v_kv_proj.weight", WeightRole.Required, 2 * kv, h);
                Add(p + "self_attn.v_kv_proj.bias", WeightRole.Required, 2 * kv);
                if (variant == Owl3Variant.V240728)
                {
                    Add(p + "self_attn.gate_proj.0.weight", WeightRole.Required, d, d);
                    Add(p + "self_attn.gate_proj.0.bias", WeightRole.Required, d);
                }
                else if (variant == Owl3Variant.V241014)
                {
                    Add(p + "self_attn.gate", WeightRole.Required, h);
                }
            }
            Add(p + "post_attention_layernorm.weight", WeightRole.Required, h);
            Add(p + "mlp.gate_proj.weight", WeightRole.Required, i, h);
            Add(p + "mlp.up_proj.weight", WeightRole.Required, i, h);
            Add(p + "mlp.down_proj.weight", WeightRole.Required, h, i);
        }
        Add("model.norm.weight", WeightRole.Required, h);
        Add("lm_head.weight", c.TieWordEmbeddings ? WeightRole.Unused : WeightRole.Required, c.Vocab, h);
    }
}
