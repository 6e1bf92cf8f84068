using Owl3Native.Cuda.Runtime;

namespace Owl3Native.Cuda.Model;

/// <summary>
/// One request's visual keys and values on the device, per hyper layer (`[kvHeads, imageTokens, headDim]` bf16 each,
/// keys rotated at their crop's position), made once per request (<see cref="DeviceQwen2Text.PrepareVisual"/>) and
/// read by every step of it. Crop j is visible to text at positions ≥ <see cref="VisibleFrom"/>[j] (ascending).
/// </summary>
public sealed class DeviceVisual : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly Dictionary<int, (ulong K, ulong V)> _layers = [];

    internal DeviceVisual(int tokensPerCrop, int[] visibleFrom)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tokensPerCrop, 1);
        for (int j = 1; j < visibleFrom.Length; j++)
            if (visibleFrom[j] <= visibleFrom[j - 1])
                throw new ArgumentException($"image markers must appear in increasing positions; crop {j} starts at {visibleFrom[j]} after {visibleFrom[j - 1]}");
        (TokensPerCrop, VisibleFrom) = (tokensPerCrop, (int[])visibleFrom.Clone());
    }

    /// <summary>Visual tokens per crop.</summary>
    public int TokensPerCrop { get; }
    /// <summary>Position from which each crop is visible.</summary>
    public int[] VisibleFrom { get; }
    /// <summary>Crops.</summary>
    public int Crops => VisibleFrom.Length;
    /// <summary>Visual tokens (crops × tokens per crop).</summary>
    public int ImageTokens => Crops * TokensPerCrop;
    /// <summary>The hyper layers' key and value addresses.</summary>
    public IReadOnlyDictionary<int, (ulong K, ulong V)> Layers => _layers;

    /// <summary>How many crops text at position <paramref name="t"/> sees.</summary>
    public int VisibleCrops(int t) => VisibleFrom.Count(from => t >= from);

    internal (ulong K, ulong V) Allocate(CudaContext context, int layer, long elements)
    {
        var k = new DeviceBuffer<ushort>(context, Math.Max(1, elements));
        _owned.Add(k);
        var v = new DeviceBuffer<ushort>(context, Math.Max(1, elements));
        _owned.Add(v);
        return _layers[layer] = (k.Pointer, v.Pointer);
    }

    /// <summary>The K/V are freed: a step can no longer be planned with it.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>
    /// Frees the visual K/V. Every step built on this request must be done (its stream synchronised) first: a step keeps
    /// the addresses, not the buffers.
    /// </summary>
    public void Dispose()
    {
        foreach (var b in _owned) b.Dispose();
        _owned.Clear();
        _layers.Clear();
        IsDisposed = true;
    }
}
