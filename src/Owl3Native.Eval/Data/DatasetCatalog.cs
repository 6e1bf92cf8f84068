using Owl3Native.Eval.Plans;

namespace Owl3Native.Eval.Data;

/// <summary>
/// The built-in dataset table: the union of the original task classes' `ds_collections` (spec/EVAL.md §4). Paths are
/// relative to `--data`. Where the original's entry is a placeholder (`mmbench_dev_*`, `mi_bench`), the path is this
/// port's choice, following the layout of the other sets (§7).
/// </summary>
public static class DatasetCatalog
{
    private const string MultiChoiceLetter = "the option letter";

    /// <summary>Every built-in dataset, VQA family first, then in the order of spec/EVAL.md §4.</summary>
    public static IReadOnlyList<DatasetSpec> All { get; } = Build();

    /// <summary>The dataset named <paramref name="dsName"/>, or null.</summary>
    public static DatasetSpec? Find(string dsName) => All.FirstOrDefault(d => d.DsName == dsName);

    private static DatasetSpec[] Build()
    {
        var list = new List<DatasetSpec>
        {
            Vqa("vqav2_test", "dataset/vqav2/vqav2_test.json", PromptStyle.Vqa, "§4.1", submission: true,
                gt: "none (EvalAI server); `answer` kept when present"),
            Vqa("okvqa_val", "dataset/okvqa/okvqa_val.json", PromptStyle.Vqa, "§4.2",
                questions: "dataset/okvqa/OpenEnded_mscoco_val2014_questions.json", annotations: "dataset/okvqa/mscoco_val2014_annotations.json",
                gt: "Answers = the 10 `answers[].answer` of the annotation with the same question_id; QuestionType = `question_type`; Category = `answer_type`"),
            Vqa("textvqa_val_ocr_v2", "dataset/textvqa/textvqa_val.json", PromptStyle.Vqa, "§4.3",
                questions: "dataset/textvqa/textvqa_val_questions_ocr.json", annotations: "dataset/textvqa/textvqa_val_annotations.json",
                gt: "as okvqa_val (10 annotation answers, question_type, answer_type)"),
            Vqa("vizwiz_test", "dataset/vizwiz/vizwiz_test.jsonl", PromptStyle.VizWiz, "§4.4", submission: true,
                gt: "none (EvalAI server); Key = `question_id` (the image file name)"),
            Vqa("gqa_testdev", "dataset/gqa/testdev_balanced.jsonl", PromptStyle.Vqa, "§4.5",
                gt: "Answer = `answer` (one string); Key = `question_id` (a numeric string)"),
        };
        foreach (var split in new[] { "random", "popular", "adversarial" })
            list.Add(Vqa($"pope_{split}", $"dataset/pope/ImageQA_POPE_{split}.jsonl", PromptStyle.Vqa, "§4.6", gt: "Answer = `answer` (`yes`/`no`)"));

        foreach (var (set, submission) in new[] { ("test", true), ("dev", false) })
            foreach (var lang in new[] { "en", "cn" })
            {
                string name = $"mmbench_{set}_{lang}_20231003";
                list.Add(new DatasetSpec
                {
                    DsName = name, TaskType = TaskTypes.MmBenchTask, Format = DatasetFormat.MmBench, Prompt = PromptStyle.MmBench,
                    Sources = [$"dataset/mmbench/{name}.jsonl"], Tsv = $"dataset/mmbench/{name}.tsv", MediaRoot = "images",
                    DefaultCut = true, SubmissionOnly = submission, SpecSection = "§4.7",
                    GroundTruth = "Answer = the letter of JSONL `answer` (0-based int) or of the TSV `answer` column, `N/A` when neither has one; " +
                                  "Options = JSONL `choices`; Category = TSV `l2-category`; Fields = the TSV row's cells (image excluded) plus the JSONL fields",
                });
            }

        list.Add(new DatasetSpec
        {
            DsName = "mmvet", TaskType = TaskTypes.MmVetBench, Format = DatasetFormat.MmVet, Prompt = PromptStyle.MmVet,
            Sources = ["dataset/mmvet/mm-vet.json"], MediaRoot = "images/mmvet/images", DefaultCut = true, SubmissionOnly = true,
            SpecSection = "§4.8", GroundTruth = "Answer = `answer` (for the GPT grader); Key = `v1_{i}`; Fields.capability = `capability`",
        });
        list.Add(Hf("ai2d", TaskTypes.Ai2dBench, PromptStyle.Ai2d, "dataset/ai2d", null, "test", cut: true, frames: null, "§4.9",
            "Answer = letter `A`+int(`answer`) (the digit itself with use_number); Options = `options`"));
        list.Add(Hf("nlvr2", TaskTypes.Nlvr2Bench, PromptStyle.Nlvr2, "dataset/NLVR2", null, "unbalanced_test_public", cut: false, frames: null, "§4.10",
            "Answer = `no` if `answer` is the string `False`, else `yes`"));
        list.Add(Hf("q_bench2", TaskTypes.QbenchTask, PromptStyle.QBench2, "dataset/qbench2", null, "dev", cut: false, frames: null, "§4.11",
            "Options = `option0..3` without `N/A`; Answer = letter of the first option equal to the one `correct_choice` names; QuestionType = `question_type`; Category = `question_concern`"));
        list.Add(new DatasetSpec
        {
            DsName = "out_domain", TaskType = TaskTypes.LlavaInterleaveBenchTask, Format = DatasetFormat.Interleave, Prompt = PromptStyle.Interleave,
            Sources = ["dataset/LLaVA-NeXT-Interleave-Bench/multi_image_out_domain.json"], MediaRoot = "dataset/LLaVA-NeXT-Interleave-Bench/eval_images_fix",
            SpecSection = "§4.12", GroundTruth = InterleaveGt,
        });
        list.Add(new DatasetSpec
        {
            DsName = "in_domain", TaskType = TaskTypes.LlavaInterleaveBenchTask, Format = DatasetFormat.Interleave, Prompt = PromptStyle.Interleave,
            Sources = ["dataset/LLaVA-NeXT-Interleave-Bench/multi_image_in_domain.json"], MediaRoot = "dataset/LLaVA-NeXT-Interleave-Bench/eval_images_fix",
            SpecSection = "§4.12", GroundTruth = InterleaveGt,
        });
        list.Add(new DatasetSpec
        {
            DsName = "blink", TaskType = TaskTypes.LlavaInterleaveBenchTask, Format = DatasetFormat.Interleave, Prompt = PromptStyle.Interleave,
            Sources = ["dataset/LLaVA-NeXT-Interleave-Bench/multi_image_out_domain.json"], MediaRoot = "dataset/LLaVA-NeXT-Interleave-Bench/eval_images_fix",
            SpecSection = "§4.12", GroundTruth = InterleaveGt + " (only records whose metadata.dataset is `BLINK`)",
        });
        list.Add(new DatasetSpec
        {
            DsName = "mi_bench", TaskType = TaskTypes.MiBench, Format = DatasetFormat.MiBench, Prompt = PromptStyle.MiBench,
            Sources = ["dataset/MIBench/multi_image_instruction.json", "dataset/MIBench/multimodal_knowledge_seeking.json"],
            MediaRoot = "dataset/MIBench", SpecSection = "§4.13",
            GroundTruth = "each record becomes len(options) copies with the options rotated left k times; Answer = the letter of the correct option in that copy; " +
                          "Key = `{id}_{k}`; Category = `task`",
        });
        list.Add(Hf("next_qa_mc", TaskTypes.NextQaTask, PromptStyle.NextQa, "dataset/nextqa", "MC", "test", cut: false, frames: 8, "§4.14",
            "Answer = letter `A`+`answer`; Options = `a0..a9` present; QuestionType = `type`; Key = `{video}_{qid}`", media: "dataset/nextqa/NExTVideo"));
        list.Add(new DatasetSpec
        {
            DsName = "mvbench", TaskType = TaskTypes.MvBenchTask, Format = DatasetFormat.MvBench, Prompt = PromptStyle.MvBench,
            Sources = ["dataset/mvbench"], MediaRoot = "dataset/mvbench/video", HfSplit = "train", DefaultFrames = 16, SpecSection = "§4.15",
            GroundTruth = "Answer = `{letter}. {answer}` (letter of the candidate equal to `answer`, `@` when none); Options = `candidates`; " +
                          "Category = the config name (task); Key = the index in the concatenated 20-task set",
        });
        list.Add(Hf("videomme", TaskTypes.VideoMmeBench, PromptStyle.VideoMme, "dataset/videomme", null, "test", cut: false, frames: 128, "§4.16",
            "Answer = `answer` (letter); Options = `options` (already `A. …`); Category = `duration`; QuestionType = `task_type`; Fields = the row (domain, sub_category, …); Key = `question_id`",
            media: "dataset/videomme/data"));
        list.Add(new DatasetSpec
        {
            DsName = "long_video_bench_dev", TaskType = TaskTypes.LongVideoBenchTask, Format = DatasetFormat.LongVideoBench, Prompt = PromptStyle.LongVideoBench,
            Sources = ["dataset/LongVideoBench/lvb_val.json"], MediaRoot = "dataset/LongVideoBench/videos", DefaultFrames = 64, SpecSection = "§4.17",
            GroundTruth = "Answer = `{letter}. {candidate}` for `correct_choice`; Options = `candidates`; Key = `id`",
        });
        return list.ToArray();
    }

    private const string InterleaveGt =
        "Answer = `conversations[1].value`; Category = `metadata.dataset` (sub_task); QuestionType = `metadata.question_type`; Key = `sample_id`";

    private static DatasetSpec Vqa(string name, string file, PromptStyle prompt, string section, string gt, bool submission = false,
        string? questions = null, string? annotations = null) => new()
    {
        DsName = name, TaskType = TaskTypes.VqaTask, Format = DatasetFormat.Vqa, Prompt = prompt, Sources = [file], Questions = questions,
        Annotations = annotations, MediaRoot = "images", DefaultCut = true, SubmissionOnly = submission, SpecSection = section,
        GroundTruth = gt + "; Key = `question_id`",
    };

    private static DatasetSpec Hf(string name, string type, PromptStyle prompt, string folder, string? config, string split, bool cut, int? frames,
        string section, string gt, string? media = null) => new()
    {
        DsName = name, TaskType = type, Format = DatasetFormat.HfSnapshot, Prompt = prompt, Sources = [folder], HfConfig = config, HfSplit = split,
        MediaRoot = media ?? folder, DefaultCut = cut, DefaultFrames = frames, SpecSection = section, GroundTruth = gt,
    };
}
