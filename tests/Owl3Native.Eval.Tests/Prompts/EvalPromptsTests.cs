using System.Text.Json.Nodes;
using Owl3Native.Eval.Data;
using Owl3Native.Eval.Plans;
using Owl3Native.Eval.Prompts;
using Owl3Native.Eval.Tests.Data;
using Owl3Native.Processing.Text;
using Xunit;

namespace Owl3Native.Eval.Tests.Prompts;

public sealed class EvalPromptsTests
{
    private const string Letter = "Answer with the option\u2019s letter from the given choices directly.";

    private static string Images(int n) => string.Concat(Enumerable.Repeat("<|image|>", n));

    private static EvalPrompt Prompt(string dsName, int index, PlanEntry? entry = null)
    {
        entry ??= PlanEntry.ForDataset(dsName);
        return EvalPrompts.Build(entry, DataFixtures.Load(entry).Records[index]);
    }

    private static EvalPrompt Prompt(string dsName, string key)
    {
        var entry = PlanEntry.ForDataset(dsName);
        return EvalPrompts.Build(entry, DataFixtures.Load(entry).Records.Single(r => r.Key == key));
    }

    [Fact]
    public void Mmbench_prompt_matches_the_fixture_and_uses_u2019()
    {
        var record = new EvalRecord
        {
            DsName = "mmbench_dev_en_20231003", Index = 0, Key = "7", Question = "What color is the sky?", Options = ["red", "blue"],
            Images = [EvalImage.File("sky.jpg")], Fields = new JsonObject { ["hint"] = "N/A" },
        };
        var p = EvalPrompts.Build(PlanEntry.ForDataset("mmbench_dev_en_20231003"), record);

        Assert.Equal("<|image|>Context: N/A\nQuestion: What color is the sky?\nOptions: A. red\nB. blue\n" + Letter, p.Text);
        Assert.Single(p.Text, c => c == '\u2019');
        Assert.DoesNotContain('\'', p.Text);
        Assert.True(p.Cut);
        Assert.True(p.EmptySystemMessage);
    }

    [Fact]
    public void Mmbench_missing_or_empty_hint_reads_na()
    {
        var record = new EvalRecord { DsName = "m", Index = 0, Key = "1", Question = "Q", Options = ["a"], Images = [EvalImage.File("a.jpg")], Fields = new JsonObject { ["hint"] = "" } };
        Assert.StartsWith("<|image|>Context: N/A\n", EvalPrompts.Build(PlanEntry.ForDataset("mmbench_dev_en_20231003"), record).Text, StringComparison.Ordinal);
        Assert.StartsWith("<|image|>Context: The hint\nQuestion: Q2\nOptions: A. red\nB. blue\n", Prompt("mmbench_dev_en_20231003", 2).Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Nlvr2_renders_the_fixture_prompt_with_both_message_forms()
    {
        var p = Prompt("nlvr2", 0);
        const string expected = "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nLeft image: <|image|> Right image: <|image|>\nThe left image has two dogs.\nyes or no? Answer the question using a single word.<|im_end|>\n<|im_start|>assistant\n";

        Assert.False(p.Cut);
        Assert.False(p.EmptySystemMessage);
        Assert.Equal(expected, ChatTemplate.Render(p.Messages()));
        Assert.Equal(expected, ChatTemplate.Render((p with { EmptySystemMessage = true }).Messages())); // [system "", user, assistant "None"]
        Assert.Equal(2, p.Images.Count);
    }

    [Fact]
    public void Nextqa_prompt_expands_the_video_to_one_marker_per_frame()
    {
        var p = Prompt("next_qa_mc", 0);
        const string tail = "\nQuestion: what is the boy doing?\nOptions: A. run\nB. walk\nC. sit\nD. jump\nE. swim\n" + Letter;

        Assert.Equal("<|video|>" + tail, p.Text);
        Assert.Equal(8, p.NumFrames);
        Assert.Equal(Images(8) + tail, p.ExpandedText);
        Assert.Equal(Images(8) + tail, p.Messages()[0].Content);
        Assert.False(p.Cut);
    }

    [Fact]
    public void Long_video_bench_puts_the_video_after_question_and_drops_literal_markers()
    {
        var p = Prompt("long_video_bench_dev", 0);
        Assert.Equal("Question: <|video|>\nWhat is x?\nOptions: A. x\nB. w\n" + Letter, p.Text);
        Assert.Equal("Question: " + Images(64) + "\nWhat is x?\nOptions: A. x\nB. w\n" + Letter, p.ExpandedText);
    }

    [Fact]
    public void Interleave_blink_and_mantis_prompts_match_the_fixtures()
    {
        Assert.Equal("the first image: <|image|> \nthe second image: <|image|> \nWhich image is brighter?\n" + Letter, Prompt("out_domain", "blink_1").Text);
        Assert.Equal("Image 1: <|image|> \nImage 2: <|image|> \nWhich image is brighter?", Prompt("out_domain", "mantis_1").Text);
        var open = Prompt("out_domain", "open_1");
        Assert.Equal("Image 1: <|image|> \nDescribe the picture.", open.Text);
        Assert.True(open.EmptySystemMessage);
        Assert.False(open.Cut);
    }

    [Fact]
    public void Sciverse_swaps_its_ascii_instruction()
    {
        Assert.Equal(
            "Image 1: <|image|> \nWhich diagram matches? \nPlease select the correct paired scientific diagram from four given images. Answer with the option's letter from the given choices directly.",
            Prompt("out_domain", "sci_1").Text);
    }

    [Fact]
    public void Interleave_without_image_index_keeps_bare_markers()
    {
        var entry = PlanEntry.ForDataset("out_domain") with { ImageIndex = false };
        Assert.Equal("<|image|>\n<|image|>\nWhich image is brighter?\n" + Letter, Prompt("out_domain", 0, entry).Text);
    }

    [Fact]
    public void Blink_with_a_fifth_image_is_rejected()
    {
        var record = new EvalRecord
        {
            DsName = "out_domain", Index = 3, Key = "b5", Question = string.Concat(Enumerable.Repeat("<image>", 5)), Category = "BLINK",
            QuestionType = "multi-choice", Images = Enumerable.Range(0, 5).Select(i => EvalImage.File($"{i}.jpg")).ToArray(),
        };
        var e = Assert.Throws<EvalPromptException>(() => EvalPrompts.Build(PlanEntry.ForDataset("out_domain"), record));
        Assert.Contains("key b5", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Placeholders_and_media_must_agree()
    {
        var record = new EvalRecord { DsName = "out_domain", Index = 0, Key = "x", Question = "<image><image><image>Q", Category = "Mantis", Images = [EvalImage.File("a.jpg")] };
        var e = Assert.Throws<EvalPromptException>(() => EvalPrompts.Build(PlanEntry.ForDataset("out_domain"), record));
        Assert.Contains("3 <|image|>", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Vqa_family_prompts()
    {
        var okvqa = Prompt("okvqa_val", 0);
        Assert.Equal("<|image|>How many dogs are there? Answer the question using a single word or phrase.", okvqa.Text);
        Assert.True(okvqa.Cut);
        Assert.True(okvqa.EmptySystemMessage);
        Assert.Equal("<|image|>What is this? When the provided information is insufficient, respond with 'Unanswerable'. Answer the question using a single word or phrase.",
            Prompt("vizwiz_test", 0).Text);
        var llava = PlanEntry.ForDataset("okvqa_val") with { UseLlavaStyle = true };
        Assert.Equal("<|image|>\nHow many dogs are there?\nAnswer the question using a single word or phrase.", Prompt("okvqa_val", 0, llava).Text);
        Assert.False(Prompt("gqa_testdev", 0, PlanEntry.ForDataset("gqa_testdev") with { Cut = false }).Cut);
    }

    [Fact]
    public void Mmvet_strips_the_question()
    {
        var p = Prompt("mmvet", 0);
        Assert.Equal("<|image|>\nWhat is shown?", p.Text);
        Assert.False(p.EmptySystemMessage);
    }

    [Fact]
    public void Ai2d_prompt_with_letters_or_numbers()
    {
        Assert.Equal("<|image|>\nQuestion: Which part is the root?\nOptions:\nA. leaf\nB. stem\nC. root\nD. flower\n" + Letter, Prompt("ai2d", 0).Text);
        var numbers = PlanEntry.ForDataset("ai2d") with { UseNumber = true };
        Assert.Equal("<|image|>\nQuestion: Which part is the root?\nOptions:\n0. leaf\n1. stem\n2. root\n3. flower\nAnswer with the option\u2019s number from the given choices directly.",
            Prompt("ai2d", 0, numbers).Text);
    }

    [Fact]
    public void Qbench2_prompt_lists_present_options()
    {
        Assert.Equal("Image 1: <|image|>\nImage 2: <|image|>\nQuestion: Which image is sharper?\nOptions: A. The first\nB. The second\n" + Letter, Prompt("q_bench2", 0).Text);
    }

    [Fact]
    public void Mvbench_prompts_for_videos_and_frame_folders()
    {
        var seq = Prompt("mvbench", 0);
        Assert.Equal("<|video|>\nQuestion: What did the person do first?\nOptions:\nA. Opened the door.\nB. Sat on the bed.\nC. Took the cup.\n" + Letter, seq.Text);
        Assert.Equal(16, seq.NumFrames);
        var er = Prompt("mvbench", 4);
        string tail = "\nQuestion: Why is Ross sad?\nOptions:\nA. A\nB. B\nC. C\nD. D\n" + Letter;
        Assert.Equal(Images(16) + tail, er.Text);
        Assert.Equal(er.Text, er.ExpandedText);
    }

    [Fact]
    public void Videomme_prompt_joins_the_stored_options()
    {
        Assert.Equal("<|video|>\nQuestion: Question 001-1?\nOptions: A. a man\nB. a woman\nC. a dog\nD. a cat\n" + Letter, Prompt("videomme", 0).Text);
    }

    [Fact]
    public void Mibench_prompt_replaces_image_tags_and_rotates_options()
    {
        var record = new EvalRecord
        {
            DsName = "mi_bench", Index = 1, Key = "m1_1", Question = "<image><image>Which?", Options = ["y", "z", "x"],
            Images = [EvalImage.File("a.jpg"), EvalImage.File("b.jpg")],
        };
        Assert.Equal("<|image|><|image|>Which?\nOptions: A. y\nB. z\nC. x\n" + Letter, EvalPrompts.Build(PlanEntry.ForDataset("mi_bench"), record).Text);
    }

    [Fact]
    public void Every_fixture_record_builds_a_consistent_prompt()
    {
        foreach (var ds in new[] { "okvqa_val", "gqa_testdev", "pope_random", "vqav2_test", "vizwiz_test", "mmbench_dev_en_20231003", "mmvet", "ai2d", "nlvr2",
                     "q_bench2", "out_domain", "blink", "next_qa_mc", "mvbench", "videomme", "long_video_bench_dev" })
        {
            var entry = PlanEntry.ForDataset(ds);
            foreach (var r in DataFixtures.Load(entry).Records)
            {
                var p = EvalPrompts.Build(entry, r);
                int frames = p.NumFrames ?? 0;
                Assert.Equal(p.Images.Count + p.Videos.Sum(_ => frames), PromptTemplates.Count(p.ExpandedText, "<|image|>"));
                Assert.DoesNotContain("<|video|>", p.ExpandedText, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Generation_settings_are_the_originals()
    {
        var g = EvalGenerationSettings.Original;
        Assert.Equal((100, true, (double?)null, true), (g.MaxNewTokens, g.Greedy, g.RepetitionPenalty, g.StripDecodedText));
    }
}
