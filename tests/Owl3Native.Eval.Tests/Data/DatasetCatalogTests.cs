using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;
using Xunit;

namespace Owl3Native.Eval.Tests.Data;

public sealed class DatasetCatalogTests
{
    [Fact]
    public void Every_dataset_names_a_registered_type_and_paths_under_dataset_or_images()
    {
        Assert.Equal(DatasetCatalog.All.Count, DatasetCatalog.All.Select(d => d.DsName).Distinct().Count());
        foreach (var d in DatasetCatalog.All)
        {
            Assert.True(TaskTypes.IsRegistered(d.TaskType), d.DsName);
            foreach (var p in d.Sources.Append(d.Questions).Append(d.Annotations).Append(d.Tsv).Append(d.MediaRoot).OfType<string>())
                Assert.True(p == "images" || p.StartsWith("dataset/", StringComparison.Ordinal) || p.StartsWith("images/", StringComparison.Ordinal), $"{d.DsName}: {p}");
            Assert.Equal(TaskTypes.IsVideoTask(d.TaskType), d.DefaultFrames is not null);
            if (d.DefaultCut) Assert.False(TaskTypes.IsVideoTask(d.TaskType));
        }
    }

    [Theory]
    [InlineData("next_qa_mc", 8)]
    [InlineData("videomme", 128)]
    [InlineData("long_video_bench_dev", 64)]
    [InlineData("mvbench", 16)]
    public void Video_sets_default_to_the_frames_of_the_shipped_plan(string dsName, int frames) =>
        Assert.Equal(frames, DatasetCatalog.Find(dsName)!.DefaultFrames);

    [Fact]
    public void Textvqa_val_is_undefined_as_in_the_original()
    {
        Assert.Null(DatasetCatalog.Find("textvqa_val"));
        Assert.NotNull(DatasetCatalog.Find("textvqa_val_ocr_v2"));
    }
}
