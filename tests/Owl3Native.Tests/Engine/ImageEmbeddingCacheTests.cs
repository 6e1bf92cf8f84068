using Owl3Native.Core.Tensors;
using Owl3Native.Engine;
using Owl3Native.Processing;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Tests.Engine;

/// <summary>The per-crop image-embedding cache: what it encodes, what it keeps, and that answers do not change.</summary>
public sealed class ImageEmbeddingCacheTests
{
    private const int Patches = 3, Hidden = 2, CropFloats = 4;

    /// <summary>Pixels of crops whose first value is the crop's id (the "encoder" below writes it into every row).</summary>
    private static Tensor Crops(params float[] ids)
    {
        var t = new Tensor(ids.Length, 1, 2, 2);
        for (int c = 0; c < ids.Length; c++) t.Data.AsSpan(c * CropFloats, CropFloats).Fill(ids[c]);
        return t;
    }

    private static Func<Tensor, Tensor> Encoder(List<int> encodedCounts) => pixels =>
    {
        int crops = pixels.Dim(0);
        encodedCounts.Add(crops);
        var e = new Tensor(crops * Patches, Hidden);
        for (int c = 0; c < crops; c++) e.Data.AsSpan(c * Patches * Hidden, Patches * Hidden).Fill(pixels.Data[c * CropFloats] * 10);
        return e;
    };

    private static float[] RowsOf(Tensor embeds, int crop) => embeds.Data.AsSpan(crop * Patches * Hidden, Patches * Hidden).ToArray();

    [Fact]
    public void Only_unseen_crops_are_encoded_and_results_keep_the_request_order()
    {
        var counts = new List<int>();
        var cache = new ImageEmbeddingCache(1 << 20);
        var first = cache.Encode(Crops(1, 2, 3), Patches, Encoder(counts));
        var second = cache.Encode(Crops(3, 4, 1, 4), Patches, Encoder(counts));
        Assert.Equal([3, 1], counts); // crop 4 encoded once although it appears twice
        Assert.All(RowsOf(first, 2), v => Assert.Equal(30f, v));
        Assert.Equal([30f, 40f, 10f, 40f], Enumerable.Range(0, 4).Select(c => RowsOf(second, c)[0]));
        Assert.Equal((2L, 5L), (cache.Hits, cache.Misses));
    }

    [Fact]
    public void The_least_recently_used_crop_leaves_first_and_the_byte_bound_holds()
    {
        var counts = new List<int>();
        long perCrop = Patches * Hidden * sizeof(float);
        var cache = new ImageEmbeddingCache(2 * perCrop);
        cache.Encode(Crops(1), Patches, Encoder(counts));
        cache.Encode(Crops(2), Patches, Encoder(counts));
        cache.Encode(Crops(1), Patches, Encoder(counts)); // touches 1: 2 is now the oldest
        cache.Encode(Crops(3), Patches, Encoder(counts)); // evicts 2
        Assert.Equal(2 * perCrop, cache.Bytes);
        counts.Clear();
        cache.Encode(Crops(1, 3), Patches, Encoder(counts));
        Assert.Empty(counts);
        cache.Encode(Crops(2), Patches, Encoder(counts));
        Assert.Equal([1], counts);
    }

    [Fact]
    public void Capacity_zero_always_encodes()
    {
        var counts = new List<int>();
        var cache = new ImageEmbeddingCache(0);
        cache.Encode(Crops(1, 2), Patches, Encoder(counts));
        cache.Encode(Crops(1, 2), Patches, Encoder(counts));
        Assert.Equal([2, 2], counts);
        Assert.Equal(0, cache.Bytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImageEmbeddingCache(-1));
    }

    [Fact]
    public void A_second_question_about_the_same_picture_reuses_its_crops_and_answers_as_without_the_cache()
    {
        string image = Path.Combine(SharedData.Root, "golden", "processor", "images", "grad_500x500.png");
        PromptMessage[] q1 = [new(PromptRole.User, "<|image|>Describe this image.")];
        PromptMessage[] q2 = [new(PromptRole.User, "<|image|>What colour is it?")];
        var settings = new GenerationSettings(MaxNewTokens: 12, Temperature: 0);
        using var cached = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        using var plain = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(ImageCacheBytes: 0));
        var a1 = cached.Generate(q1, [MediaSource.ImageFile(image)], settings);
        long misses = cached.Runner.ImageCache.Misses;
        Assert.True(misses > 0);
        var a2 = cached.Generate(q2, [MediaSource.ImageFile(image)], settings);
        Assert.Equal(misses, cached.Runner.ImageCache.Misses); // every crop of the second request came from the cache
        Assert.Equal(misses, cached.Runner.ImageCache.Hits);
        Assert.Equal(plain.Generate(q1, [MediaSource.ImageFile(image)], settings).TokenIds, a1.TokenIds);
        Assert.Equal(plain.Generate(q2, [MediaSource.ImageFile(image)], settings).TokenIds, a2.TokenIds);
        Assert.Equal(0, plain.Runner.ImageCache.Hits);
    }
}
