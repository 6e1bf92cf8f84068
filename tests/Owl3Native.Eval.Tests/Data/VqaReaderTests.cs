using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Eval.Tests.Data;

public sealed class VqaReaderTests
{
    [Fact]
    public void Okvqa_records_join_the_ten_annotation_answers()
    {
        var ds = DataFixtures.Load("okvqa_val");

        Assert.Equal(["1", "2", "3", "4", "5", "6"], ds.Records.Select(r => r.Key));
        Assert.Equal(Enumerable.Range(0, 6), ds.Records.Select(r => r.Index));
        var q1 = ds.Records[0];
        Assert.Equal("How many dogs are there?", q1.Question);
        Assert.Equal(10, q1.Answers.Count);
        Assert.Equal(2, q1.Answers.Count(a => a == "2 dogs"));
        Assert.Equal(3, q1.Answers.Count(a => a == "two dogs"));
        Assert.Equal(("what", "other"), (q1.QuestionType, q1.Category));
        Assert.Equal(("is the", "yes/no"), (ds.Records[1].QuestionType, ds.Records[1].Category));
        var image = Assert.Single(q1.Images);
        Assert.Equal(DataFixtures.File("images/mscoco/images/val2014/COCO_val2014_000000000001.jpg"), image.Path);
        Assert.True(File.Exists(image.Path));
        Assert.Equal(1, q1.Fields["question_id"]!.GetValue<long>());
    }

    [Fact]
    public void Gqa_keys_are_strings_and_answers_single()
    {
        var ds = DataFixtures.Load("gqa_testdev");
        Assert.Equal(["201", "202", "203", "204", "205"], ds.Records.Select(r => r.Key));
        Assert.Equal(["left", "left", "pizza box", "table", "cat"], ds.Records.Select(r => r.Answer));
        Assert.Equal(DataFixtures.File("images/gqa/images/n1.jpg"), ds.Records[0].Images[0].Path);
        Assert.Empty(ds.Records[0].Answers);
    }

    [Fact]
    public void Pope_records_carry_the_yes_no_label()
    {
        var ds = DataFixtures.Load("pope_random");
        Assert.Equal(["yes", "yes", "yes", "no", "no", "no"], ds.Records.Select(r => r.Answer));
        Assert.Equal(DataFixtures.File("images/mscoco/images/val2014/COCO_val2014_000000000001.jpg"), ds.Records[5].Images[0].Path);
    }

    [Fact]
    public void Submission_sets_resolve_their_image_folders()
    {
        var vqav2 = Assert.Single(DataFixtures.Load("vqav2_test").Records);
        Assert.Equal(("1", null), (vqav2.Key, vqav2.Answer));
        Assert.Equal(DataFixtures.File("images/mscoco/images/test2015/COCO_test2015_000000000001.jpg"), vqav2.Images[0].Path);

        var vizwiz = Assert.Single(DataFixtures.Load("vizwiz_test").Records);
        Assert.Equal("VizWiz_test_00000000.jpg", vizwiz.Key);
        Assert.Equal(DataFixtures.File("images/vizwiz/test/VizWiz_test_00000000.jpg"), vizwiz.Images[0].Path);
    }

    [Theory]
    [InlineData("mscoco/test2015/COCO_test2015_1.jpg", "okvqa_val", "images/mscoco/images/test2015/COCO_test2015_1.jpg")]
    [InlineData("x/val2014/COCO_val2014_1.jpg", "okvqa_val", "images/mscoco/images/val2014/COCO_val2014_1.jpg")]
    [InlineData("ocrvqa/images/1.jpg", "okvqa_val", "images/ocrvqa/ocrvqa/images/1.jpg")]
    [InlineData("gqa/images/n1.jpg", "gqa_testdev", "images/gqa/images/n1.jpg")]
    [InlineData("some/dir/VizWiz_test_1.jpg", "vizwiz_test", "images/vizwiz/test/VizWiz_test_1.jpg")]
    [InlineData("textvqa/train_images/a.jpg", "textvqa_val_ocr_v2", "images/textvqa/text_vqa/a.jpg")]
    [InlineData("val2014_textvqa/a.jpg", "textvqa_val_ocr_v2", "images/mscoco/images/val2014/a.jpg")] // first rule wins
    [InlineData("plain/a.jpg", "okvqa_val", "plain/a.jpg")]
    public void Image_paths_are_rewritten_by_the_first_matching_rule(string path, string dsName, string expected) =>
        Assert.Equal(expected, VqaReader.ImagePath(path, dsName));

    [Fact]
    public void Missing_records_file_names_the_expected_path()
    {
        using var dir = new TempDirectory("owl3-eval");
        var e = Assert.Throws<DatasetNotFoundException>(() => EvalDatasets.Load(PlanEntry.ForDataset("gqa_testdev"), new EvalPaths(dir.Path)));
        string expected = Path.GetFullPath(Path.Combine(dir.Path, "dataset/gqa/testdev_balanced.jsonl"));
        Assert.Equal(expected, e.FileName);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Equal("gqa_testdev", e.DsName);
    }

    [Fact]
    public void Missing_annotation_file_names_the_expected_path()
    {
        using var dir = new TempDirectory("owl3-eval");
        Directory.CreateDirectory(dir.File("dataset/okvqa"));
        File.Copy(DataFixtures.File("dataset/okvqa/okvqa_val.json"), dir.File("dataset/okvqa/okvqa_val.json"));
        File.Copy(DataFixtures.File("dataset/okvqa/OpenEnded_mscoco_val2014_questions.json"), dir.File("dataset/okvqa/OpenEnded_mscoco_val2014_questions.json"));
        var e = Assert.Throws<DatasetNotFoundException>(() => EvalDatasets.Load(PlanEntry.ForDataset("okvqa_val"), new EvalPaths(dir.Path)));
        Assert.Equal(Path.GetFullPath(dir.File("dataset/okvqa/mscoco_val2014_annotations.json")), e.FileName);
        Assert.Contains("annotations", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Records_without_question_fail_naming_file_line_and_column()
    {
        using var dir = new TempDirectory("owl3-eval");
        dir.Write("dataset/gqa/testdev_balanced.jsonl",
            "{\"image\": \"gqa/images/n1.jpg\", \"question\": \"q\", \"question_id\": \"1\"}\n{\"images\": \"gqa/images/n1.jpg\", \"query\": \"q\", \"data_id\": 2}\n");
        var e = Assert.Throws<DatasetFormatException>(() => EvalDatasets.Load(PlanEntry.ForDataset("gqa_testdev"), new EvalPaths(dir.Path)));
        Assert.Contains("testdev_balanced.jsonl: line 2: column `question` is missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Alternative_image_and_id_fields_are_read()
    {
        using var dir = new TempDirectory("owl3-eval");
        dir.Write("dataset/gqa/testdev_balanced.jsonl", "{\"images\": \"gqa/images/n9.jpg\", \"question\": \"q\", \"data_id\": 7}\n");
        var r = Assert.Single(EvalDatasets.Load(PlanEntry.ForDataset("gqa_testdev"), new EvalPaths(dir.Path)).Records);
        Assert.Equal("7", r.Key);
        Assert.Equal(Path.GetFullPath(dir.File("images/gqa/images/n9.jpg")), r.Images[0].Path);
    }

    [Fact]
    public void Vqa_questions_file_needs_the_five_top_level_keys()
    {
        var questions = VqaAnnotations.ReadQuestions(DataFixtures.File("dataset/okvqa/OpenEnded_mscoco_val2014_questions.json"));
        Assert.Equal("Is the sky blue?", questions["2"]);

        using var dir = new TempDirectory("owl3-eval");
        string bad = dir.Write("q.json", "{\"questions\": [], \"info\": {}}");
        var e = Assert.Throws<DatasetFormatException>(() => VqaAnnotations.ReadQuestions(bad));
        Assert.Contains("task_type", e.Message, StringComparison.Ordinal);
    }
}
