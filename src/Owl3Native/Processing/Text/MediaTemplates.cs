using System.Globalization;
using System.Text;
using Owl3Native.Models.Checkpoints;

namespace Owl3Native.Processing.Text;

/// <summary>
/// Text that replaces each media placeholder (spec/PROCESSOR.md §4, §7). After expansion only `&lt;|image|&gt;` markers
/// remain, one per crop, in crop order (tiles row-major, then the global view). 240728 uses the "v2" cut template and
/// bare frame markers; 241101 the "v3" template and `&lt;|start_video_frame|&gt;…&lt;|end_video_frame|&gt;`. 241014 is
/// given the 241101 templates: its processor is not published, and the spec rates that choice "probable".
/// </summary>
public static class MediaTemplates
{
    /// <summary>The image placeholder and per-crop marker.</summary>
    public const string ImageMarker = "<|image|>";
    /// <summary>The video placeholder.</summary>
    public const string VideoMarker = "<|video|>";

    /// <summary>True for the generations that use the "v3" cut template and video span tokens (241101, 241014).</summary>
    public static bool UsesV3Templates(Owl3Variant variant) => variant != Owl3Variant.V240728;

    /// <summary>The text of one image: a single marker when uncut, else the variant's cut template.</summary>
    /// <exception cref="ArgumentException">The grid is half set or has a size below 1.</exception>
    public static string Image(ImageItem image, Owl3Variant variant)
    {
        ArgumentNullException.ThrowIfNull(image);
        image.Validate();
        if (!image.IsCut) return ImageMarker;
        int rows = image.GridRows!.Value, cols = image.GridCols!.Value;
        return UsesV3Templates(variant) ? CutV3(rows, cols) : CutV2(rows, cols);
    }

    /// <summary>The text of one video: a marker per frame, inside span tokens for the v3 generations.</summary>
    /// <exception cref="ArgumentException">Fewer than one frame.</exception>
    public static string Video(VideoItem video, Owl3Variant variant)
    {
        ArgumentNullException.ThrowIfNull(video);
        if (video.Frames < 1) throw new ArgumentException($"a video needs at least one frame, got {video.Frames}", nameof(video));
        string frames = string.Concat(Enumerable.Repeat(ImageMarker, video.Frames));
        return UsesV3Templates(variant) ? "<|start_video_frame|>" + frames + "<|end_video_frame|>" : frames;
    }

    /// <summary>
    /// "v3" with global view (§7.2): `&lt;|start_cut|&gt;{r}*{c}\n`, r rows of c markers joined by spaces, rows joined
    /// by `\n`, then `\n&lt;|image|&gt;&lt;|end_cut|&gt;` (the global view).
    /// </summary>
    public static string CutV3(int rows, int cols)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<|start_cut|>{rows}*{cols}\n");
        for (int i = 0; i < rows; i++)
        {
            if (i > 0) sb.Append('\n');
            sb.AppendJoin(' ', Enumerable.Repeat(ImageMarker, cols));
        }
        return sb.Append('\n').Append(ImageMarker).Append("<|end_cut|>").ToString();
    }

    /// <summary>
    /// "v2" with global view (§7.1): `Cut to {r} rows {c} columns with a global view\n`, rows of `subimg(i,j)&lt;|image|&gt;`
    /// joined by spaces, rows joined by `\n`, then `\nglobal_view&lt;|image|&gt;`.
    /// </summary>
    public static string CutV2(int rows, int cols)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Cut to {rows} rows {cols} columns with a global view\n");
        for (int i = 0; i < rows; i++)
        {
            if (i > 0) sb.Append('\n');
            for (int j = 0; j < cols; j++)
            {
                if (j > 0) sb.Append(' ');
                sb.Append(CultureInfo.InvariantCulture, $"subimg({i},{j}){ImageMarker}");
            }
        }
        return sb.Append("\nglobal_view").Append(ImageMarker).ToString();
    }
}
