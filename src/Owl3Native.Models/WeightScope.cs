using Owl3Native.Core;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models;

/// <summary>
/// A prefix into the checkpoint's tensors: `w.Child("self_attn").Tensor("q_proj.weight")` reads
/// `…self_attn.q_proj.weight`. The only place layers spell checkpoint names.
/// </summary>
public sealed class WeightScope(ITensorSource source, string prefix = "")
{
    /// <summary>The prefix, with a trailing dot unless empty.</summary>
    public string Prefix { get; } = prefix;

    /// <summary>A nested scope.</summary>
    public WeightScope Child(string name) => new(source, Prefix + name + ".");

    /// <summary>A nested scope for item <paramref name="index"/> of a list (`layers.3`).</summary>
    public WeightScope Child(string name, int index) => new(source, $"{Prefix}{name}.{index}.");

    /// <summary>Whether the tensor exists.</summary>
    public bool Has(string name) => source.TryGetInfo(Prefix + name, out _);

    /// <summary>A weight (zero copy).</summary>
    /// <exception cref="CheckpointFormatException">The tensor is missing (the loader validates first, so this means a manifest gap).</exception>
    public Weight Tensor(string name)
    {
        string full = Prefix + name;
        if (!source.TryGetInfo(full, out _))
            throw new CheckpointFormatException(source.FileOf(full), $"missing tensor `{full}`") { TensorName = full };
        return new Weight(source.Get(full));
    }

    /// <summary>A weight if present.</summary>
    public Weight? TryTensor(string name) => Has(name) ? Tensor(name) : null;
}
