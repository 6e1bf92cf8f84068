using Owl3Native.Core.Backend;

namespace Owl3Native.Engine;

/// <summary>
/// One sequence in the engine: its tokens, its cache blocks, and its request's visual K/V and marker starts (computed
/// once at admission and kept for every later step).
/// </summary>
public sealed class SequenceState
{
    internal SequenceState(SequenceId id, VisualKv?[] visual, int[] markerStarts)
    {
        Id = id;
        Visual = visual;
        MarkerStarts = markerStarts;
    }

    /// <summary>The sequence's id.</summary>
    public SequenceId Id { get; }

    /// <summary>Every token fed so far (prompt, then generated).</summary>
    public List<int> Tokens { get; } = [];

    /// <summary>Tokens whose K/V are in the cache.</summary>
    public int CachedLength { get; internal set; }

    /// <summary>Physical blocks, in logical order.</summary>
    public List<BlockId> Blocks { get; } = [];

    /// <summary>Visual K/V per layer (null for non-hyper layers and text-only requests).</summary>
    public VisualKv?[] Visual { get; }

    /// <summary>Absolute start index of each image marker.</summary>
    public int[] MarkerStarts { get; }

    /// <summary>A content hash of each crop's pixels (marker order): a kept cache is reused only up to the first crop
    /// that differs, since K/V after a marker depend on its image.</summary>
    public string[] CropKeys { get; internal set; } = [];

    /// <summary>Visual K/V on the GPU (the CUDA backend; null on the CPU and for text-only requests). Freed with the sequence.</summary>
    public Cuda.Model.DeviceVisual? DeviceVisual { get; internal set; }

    /// <summary>True once released; a released sequence cannot run.</summary>
    public bool Released { get; internal set; }
}
