using Owl3Native.Eval.Data;
using Owl3Native.Processing.Text;

namespace Owl3Native.Eval.Prompts;

/// <summary>
/// What the original feeds the processor for one record (spec/EVAL.md §1.3): the user text P exactly as built, before
/// media expansion (`&lt;|video|&gt;` kept; Episodic Reasoning's frame images already written as `&lt;|image|&gt;` runs),
/// the media in placeholder order, and the task's cut flag.
/// </summary>
public sealed record EvalPrompt
{
    /// <summary>The user turn P.</summary>
    public required string Text { get; init; }

    /// <summary>Images, one per `&lt;|image|&gt;` not produced by a frame folder.</summary>
    public IReadOnlyList<EvalImage> Images { get; init; } = [];

    /// <summary>Videos: a file per `&lt;|video|&gt;`, or a frame folder whose frames are the <see cref="EvalVideo.NumFrames"/> `&lt;|image|&gt;` of P.</summary>
    public IReadOnlyList<EvalVideo> Videos { get; init; } = [];

    /// <summary>Image cutting (the plan's `cut_cfg`; video and multi-image tasks run without).</summary>
    public bool Cut { get; init; }

    /// <summary>Frames per video (null for image tasks).</summary>
    public int? NumFrames { get; init; }

    /// <summary>
    /// True for the tasks whose messages are `[system "", user P, assistant "None"]` (VQA family, MMBench, Interleave);
    /// false for `[user P, assistant ""]`. Both render the same tokens (§1.3 step 3).
    /// </summary>
    public bool EmptySystemMessage { get; init; }

    /// <summary>P with every `&lt;|video|&gt;` replaced by `&lt;|image|&gt;` × <see cref="NumFrames"/> (§1.3 step 2).</summary>
    public string ExpandedText => NumFrames is { } n && Videos.Any(v => !v.IsFrameFolder) ? PromptTemplates.ExpandVideos(Text, n) : Text;

    /// <summary>The messages as the original builds them, with the user text <paramref name="userText"/> (default <see cref="ExpandedText"/>).</summary>
    public IReadOnlyList<PromptMessage> Messages(string? userText = null)
    {
        string user = userText ?? ExpandedText;
        return EmptySystemMessage
            ? [new(PromptRole.System, ""), new(PromptRole.User, user), new(PromptRole.Assistant, "None")]
            : [new(PromptRole.User, user), new(PromptRole.Assistant, "")];
    }
}
