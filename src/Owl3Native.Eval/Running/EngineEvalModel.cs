using Owl3Native.Eval.Prompts;
using Owl3Native.Processing.Text;

namespace Owl3Native.Eval.Running;

/// <summary>
/// The engine as the evaluation's model, with the original's generation (spec/EVAL.md §1.4): at most 100 new tokens,
/// greedy over the repetition-penalised logits (the checkpoint's generation_config penalty), cutting as the task says,
/// and the answer decoded as `decode_text` does (id 0 removed, terminator dropped, special tokens kept, stripped).
/// </summary>
public sealed class EngineEvalModel(Owl3Engine engine, string name, EvalGenerationSettings? settings = null) : IEvalModel
{
    private readonly EvalGenerationSettings _settings = settings ?? EvalGenerationSettings.Original;

    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <inheritdoc/>
    public string Answer(EvalInputs inputs, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        // The engine adds the assistant turn itself; the original's trailing assistant message ("" or "None") is dropped
        // in inference mode either way (spec/EVAL.md §1.3 step 3).
        var messages = inputs.Messages.Count > 0 && inputs.Messages[^1].Role == PromptRole.Assistant ? inputs.Messages.Take(inputs.Messages.Count - 1).ToArray() : inputs.Messages;
        var generation = new GenerationSettings(MaxNewTokens: _settings.MaxNewTokens, Temperature: _settings.Greedy ? 0f : null,
            TopK: _settings.Greedy ? 0 : null, TopP: _settings.Greedy ? 1f : null, RepetitionPenalty: (float?)_settings.RepetitionPenalty, Cut: inputs.Cut);
        var output = engine.Generate(messages, inputs.Media, generation, cancellation: cancellation);
        return AnswerText.Decode(engine.Processor.Tokenizer, output.TokenIds, engine.Terminators);
    }
}
