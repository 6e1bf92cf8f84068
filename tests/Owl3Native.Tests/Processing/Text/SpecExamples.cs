namespace Owl3Native.Tests.Processing.Text;

/// <summary>The worked token sequences of spec/PROCESSOR.md §7 (real Qwen2 tokenizer), copied from the spec.</summary>
internal static class SpecExamples
{
    private static readonly int[] Image = [27, 91, 1805, 91, 29];
    private static readonly int[] Head = [151644, 8948, 198, 151645, 198, 151644, 872, 198];
    private static readonly int[] Tail = [151645, 198, 151644, 77091, 198];

    /// <summary>§7.1: 240728 "v2" 2×2 cut, content `&lt;|image|&gt;\nDescribe this image.` (L = 88).</summary>
    public static int[] V2Cut2x2 { get; } =
    [
        .. Head, 37666, 311, 220, 17, 6978, 220, 17, 8147, 448, 264, 3644, 1651, 198,
        1966, 1892, 7, 15, 11, 15, 8, .. Image, 1186, 1892, 7, 15, 11, 16, 8, .. Image, 198, 1966, 1892, 7,
        16, 11, 15, 8, .. Image, 1186, 1892, 7, 16, 11, 16, 8, .. Image, 198, 9752, 7122,
        .. Image, 198, 74785, 419, 2168, 13, .. Tail,
    ];

    /// <summary>§7.2: 241101 "v3" 2×3 cut, same content (L = 74, starts 18, 24, …, 54).</summary>
    public static int[] V3Cut2x3 { get; } =
    [
        .. Head, 27, 91, 2468, 41317, 91, 29, 17, 9, 18, 198,
        .. Image, 220, .. Image, 220, .. Image, 198,
        .. Image, 220, .. Image, 220, .. Image, 198,
        .. Image, 27, 91, 408, 41317, 91, 397, 74785, 419, 2168, 13, .. Tail,
    ];

    /// <summary>§7.3: 241101 video of 3 frames, content `&lt;|video|&gt;\nDescribe this video.` (L = 46).</summary>
    public static int[] Video241101 { get; } =
    [
        .. Head, 27, 91, 2468, 19815, 8929, 91, 29, .. Image, .. Image, .. Image,
        27, 91, 408, 19815, 8929, 91, 397, 74785, 419, 2766, 13, .. Tail,
    ];

    /// <summary>§7.3: 240728 video of 3 frames (L = 33).</summary>
    public static int[] Video240728 { get; } =
        [.. Head, .. Image, .. Image, .. Image, 198, 74785, 419, 2766, 13, .. Tail];
}
