namespace Owl3Native.Eval.Data;

/// <summary>One MVBench task: its display name, config name, video folder and whether it is clipped (spec/EVAL.md §4.15).</summary>
/// <param name="Name">The task's display name (`Action Sequence`).</param>
/// <param name="Prefix">Folder under `dataset/mvbench/video/`.</param>
/// <param name="Bounded">True when the rows' `start`/`end` clip the video.</param>
/// <param name="FrameFolder">True when each `video` is a folder of 3 fps frame images (Episodic Reasoning).</param>
public sealed record MvBenchTaskInfo(string Name, string Prefix, bool Bounded, bool FrameFolder)
{
    /// <summary>The HF config name: lower case, spaces and hyphens → `_`.</summary>
    public string Config => Name.ToLowerInvariant().Replace(' ', '_').Replace('-', '_');
}

/// <summary>
/// MVBench (spec/EVAL.md §4.15): the 20 configs of the snapshot (each split `train`, `json/&lt;task&gt;.json` when the README
/// defines no configs) concatenated in the original's order; Key = the index in that concatenation. Row fields `video`,
/// `question`, `candidates`, `answer`, [`start`, `end`]. Answer = `{letter}. {answer}` (`@` when no candidate equals the
/// answer); Category = the config name.
/// </summary>
public static class MvBenchReader
{
    /// <summary>Frame rate of the Episodic Reasoning frame folders (`tvqa/frames_fps3_hq`).</summary>
    public const double FrameFolderFps = 3;

    /// <summary>The tasks in the order of the concatenated dataset.</summary>
    public static IReadOnlyList<MvBenchTaskInfo> Tasks { get; } =
    [
        new("Action Sequence", "star/Charades_v1_480", true, false),
        new("Action Prediction", "star/Charades_v1_480", true, false),
        new("Action Antonym", "ssv2_video", false, false),
        new("Fine-grained Action", "Moments_in_Time_Raw/videos", false, false),
        new("Unexpected Action", "FunQA_test/test", false, false),
        new("Object Existence", "clevrer/video_validation", false, false),
        new("Object Interaction", "star/Charades_v1_480", true, false),
        new("Object Shuffle", "perception/videos", false, false),
        new("Moving Direction", "clevrer/video_validation", false, false),
        new("Action Localization", "sta/sta_video", true, false),
        new("Scene Transition", "scene_qa/video", false, false),
        new("Action Count", "perception/videos", false, false),
        new("Moving Count", "clevrer/video_validation", false, false),
        new("Moving Attribute", "clevrer/video_validation", false, false),
        new("State Change", "perception/videos", false, false),
        new("Fine-grained Pose", "nturgbd", false, false),
        new("Character Order", "perception/videos", false, false),
        new("Egocentric Navigation", "vlnqa", false, false),
        new("Episodic Reasoning", "tvqa/frames_fps3_hq", true, true),
        new("Counterfactual Inference", "clevrer/video_validation", false, false),
    ];

    internal static IReadOnlyList<EvalRecord> Read(ReaderContext ctx)
    {
        string folder = ctx.NeedFolder(ctx.Spec.Sources[0], "MVBench snapshot folder");
        bool hasConfigs = HfSnapshot.ReadConfigs(folder).Count > 0;
        int frames = ctx.Task.NumFrames!.Value;
        var records = new List<EvalRecord>();
        foreach (var task in Tasks)
        {
            IReadOnlyList<DataRow> rows;
            if (hasConfigs) rows = HfSnapshot.ReadRows(folder, task.Config, ctx.Spec.HfSplit ?? "train");
            else
            {
                string file = Path.Combine(folder, "json", task.Config + ".json");
                if (!File.Exists(file)) throw new DatasetNotFoundException(ctx.DsName, file, $"`{task.Name}` task file");
                rows = JsonRows.Read(file);
            }
            foreach (var row in rows)
            {
                var candidates = row.StringList("candidates");
                string answer = row.Text("answer");
                // The reference's loop over candidates does not break: the last equal one names the letter ('@' when none),
                // as MvBenchScorer.GroundTruthText builds it.
                int letter = candidates.ToList().LastIndexOf(answer);
                VideoBound? bound = task.Bounded ? new VideoBound(row.Number("start"), row.Number("end")) : null;
                string path = ctx.Media(Path.Combine(task.Prefix, row.Text("video")));
                var fields = row.ToJson();
                fields["task_type"] = task.Config;
                records.Add(new EvalRecord
                {
                    DsName = ctx.DsName,
                    Index = records.Count,
                    Key = records.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Question = row.String("question"),
                    Videos = [new EvalVideo(path, frames, bound, task.FrameFolder ? FrameFolderFps : null)],
                    Options = candidates,
                    Answer = $"{(char)('A' + letter)}. {answer}",
                    Category = task.Config,
                    Fields = fields,
                });
            }
        }
        return records;
    }
}
