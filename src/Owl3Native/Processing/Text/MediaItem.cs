namespace Owl3Native.Processing.Text;

/// <summary>
/// What the text side needs to know about one medium: how many `&lt;|image|&gt;` markers it expands to. Media are
/// supplied in the order their placeholders appear in the user messages (every variant; spec/PROCESSOR.md §3.6, §4).
/// </summary>
public abstract record MediaItem;

/// <summary>
/// An image for one `&lt;|image|&gt;` placeholder: cut into <paramref name="GridRows"/>×<paramref name="GridCols"/> tiles
/// plus a global view (rows·cols + 1 crops), or uncut (both null: one crop).
/// </summary>
/// <param name="GridRows">Cut grid rows, or null when the image is not cut.</param>
/// <param name="GridCols">Cut grid columns, or null when the image is not cut.</param>
public sealed record ImageItem(int? GridRows, int? GridCols) : MediaItem
{
    /// <summary>An image that is not cut (a single global-view crop).</summary>
    public static ImageItem Uncut { get; } = new(null, null);

    /// <summary>True when the image is cut into a grid.</summary>
    public bool IsCut => GridRows is not null || GridCols is not null;

    /// <summary>Number of crops (= `&lt;|image|&gt;` markers) this image contributes.</summary>
    /// <exception cref="ArgumentException">Only one of the grid sizes is set, or one is below 1.</exception>
    public int Crops
    {
        get
        {
            Validate();
            return IsCut ? GridRows!.Value * GridCols!.Value + 1 : 1;
        }
    }

    internal void Validate()
    {
        if (IsCut && (GridRows is not >= 1 || GridCols is not >= 1))
            throw new ArgumentException($"an image grid needs both sizes ≥ 1 (or neither, for an uncut image); got {GridRows?.ToString() ?? "null"}×{GridCols?.ToString() ?? "null"}");
    }
}

/// <summary>A video for one `&lt;|video|&gt;` placeholder: <paramref name="Frames"/> uncut frames, one marker each.</summary>
/// <param name="Frames">Number of sampled frames (≥ 1).</param>
public sealed record VideoItem(int Frames) : MediaItem;
