namespace Owl3Native.Processing.Text;

/// <summary>`media_offset` in the 240728 (and 241014) range form (spec/PROCESSOR.md §8).</summary>
public static class MediaOffsets
{
    /// <summary>Column 1 of every row of a sample without images: base − 1,000,000 (no image is visible).</summary>
    public const long NoImage = -1_000_000;

    /// <summary>
    /// Rows [L, 2] of one sample: row t = [base, base + c_t] with c_t = #{ j : s_j &lt; t } (strict); without images every
    /// row is [base, base − 1,000,000]. <paramref name="baseImages"/> is the number of images of the earlier samples
    /// of a batch (0 for batch 1).
    /// </summary>
    /// <exception cref="ArgumentException">A start is outside [0, L) or the starts are not ascending.</exception>
    public static long[,] Ranges(IReadOnlyList<int> markerStarts, int length, int baseImages = 0)
    {
        ArgumentNullException.ThrowIfNull(markerStarts);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfNegative(baseImages);
        for (int j = 0; j < markerStarts.Count; j++)
            if (markerStarts[j] < 0 || markerStarts[j] >= length || (j > 0 && markerStarts[j] <= markerStarts[j - 1]))
                throw new ArgumentException($"marker start {markerStarts[j]} (j = {j}) is not ascending within [0, {length})", nameof(markerStarts));
        var rows = new long[length, 2];
        int seen = 0;
        for (int t = 0; t < length; t++)
        {
            while (seen < markerStarts.Count && markerStarts[seen] < t) seen++;
            rows[t, 0] = baseImages;
            rows[t, 1] = markerStarts.Count == 0 ? baseImages + NoImage : baseImages + seen;
        }
        return rows;
    }
}
