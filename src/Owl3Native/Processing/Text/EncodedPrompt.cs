namespace Owl3Native.Processing.Text;

/// <summary>A tokenised prompt (spec/PROCESSOR.md §8): ids without BOS/EOS and the start of every image marker.</summary>
/// <param name="Text">The prompt text after media expansion and the chat template.</param>
/// <param name="InputIds">Token ids, chunk by chunk (`input_ids [1, L]`).</param>
/// <param name="MarkerStarts">
/// s_j: index in <paramref name="InputIds"/> of the first token of the j-th `&lt;|image|&gt;` marker, in crop order. This is
/// the 241101 `media_offset` of the sample; <see cref="MediaOffsetRanges"/> gives the 240728/241014 form.
/// </param>
public sealed record EncodedPrompt(string Text, int[] InputIds, int[] MarkerStarts)
{
    /// <summary>Number of image markers (= crops in `pixel_values`).</summary>
    public int ImageCount => MarkerStarts.Length;

    /// <summary>The 240728/241014 `media_offset` rows of this sample (see <see cref="MediaOffsets.Ranges"/>).</summary>
    public long[,] MediaOffsetRanges(int baseImages = 0) => MediaOffsets.Ranges(MarkerStarts, InputIds.Length, baseImages);
}
