namespace Owl3Native.Core.SafeTensors;

/// <summary>A named collection of tensors: one safetensors file, or a sharded checkpoint.</summary>
public interface ITensorSource
{
    /// <summary>Every tensor name.</summary>
    IReadOnlyCollection<string> Names { get; }

    /// <summary>Header information of one tensor, if present.</summary>
    bool TryGetInfo(string name, out TensorInfo info);

    /// <summary>A zero-copy view of one tensor.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor.</exception>
    TensorView Get(string name);

    /// <summary>The file holding <paramref name="name"/> (for error messages), or the source's main file.</summary>
    string FileOf(string name);
}
