using Owl3Native.Core.Tensors;

namespace Owl3Native.Models;

/// <summary>
/// Receives named intermediates (`hidden_states.3`, `hyper.0.gate`, `vision.image_embeds`) so tests and
/// `owl3 verify` can diff any activation against a golden dump without editing the model.
/// </summary>
public interface ITrace
{
    /// <summary>Records a tensor; implementations copy what they keep (the model may reuse buffers).</summary>
    void Record(string name, Tensor value);
}

/// <summary>Keeps copies of every recorded tensor.</summary>
public sealed class DictionaryTrace : ITrace
{
    /// <summary>Recorded tensors by name (the last recording wins).</summary>
    public Dictionary<string, Tensor> Values { get; } = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public void Record(string name, Tensor value) => Values[name] = new Tensor((float[])value.Data.Clone(), value.Dims.ToArray());
}
