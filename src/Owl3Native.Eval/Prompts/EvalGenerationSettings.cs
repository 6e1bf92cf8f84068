namespace Owl3Native.Eval.Prompts;

/// <summary>
/// Generation of every evaluation task (spec/EVAL.md §1.4): at most 100 new tokens, `do_sample=True, top_k=1` = the
/// argmax of the logits after the checkpoint's repetition penalty (generation_config.json, over prompt and generated
/// ids; temperature and top-p cannot change the argmax), batch 1, and `decode_text`: ids 0 removed, the terminator
/// dropped, special tokens kept, whitespace stripped (PROCESSOR.md §10.4). The plan's `generate_config` is ignored.
/// </summary>
/// <param name="MaxNewTokens">New-token limit (100; MM-Vet and open-ended answers are truncated there).</param>
/// <param name="Greedy">Argmax decoding on the penalised logits (true).</param>
/// <param name="RepetitionPenalty">Penalty to apply; null = the checkpoint's generation_config.json value (1.05 for 240728).</param>
/// <param name="StripDecodedText">Strip leading/trailing whitespace of the decoded answer (true).</param>
public sealed record EvalGenerationSettings(int MaxNewTokens = 100, bool Greedy = true, double? RepetitionPenalty = null, bool StripDecodedText = true)
{
    /// <summary>The settings of the original pipeline.</summary>
    public static EvalGenerationSettings Original { get; } = new();
}
