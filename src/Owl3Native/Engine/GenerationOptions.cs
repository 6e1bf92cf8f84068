using Owl3Native.Engine.Sampling;

namespace Owl3Native.Engine;

/// <summary>Why a sequence stopped.</summary>
public enum FinishReason
{
    /// <summary>A terminator token or a stop string.</summary>
    Stop,
    /// <summary>The new-token budget (or the model's context) ran out.</summary>
    Length,
    /// <summary>The caller cancelled it.</summary>
    Cancelled,
}

/// <summary>How one sequence is generated.</summary>
/// <param name="MaxNewTokens">Budget of new tokens.</param>
/// <param name="Sampling">Temperature (0 = greedy), top-k, top-p, repetition penalty, seed.</param>
/// <param name="StopTokenIds">Terminators (from generation_config.json, else the tokenizer's end tokens).</param>
/// <param name="StopStrings">Stop when the decoded new text contains one of these (needs <paramref name="Decode"/>).</param>
/// <param name="Decode">Detokenizes new tokens for stop strings (null: stop strings unsupported).</param>
/// <param name="Stream">
/// Which random stream of the seed to draw from (the Philox counter's sequence word): 0 by default, so a seed alone
/// decides the tokens whatever else runs in the batch; give n choices of one request streams 0..n−1.
/// </param>
public sealed record GenerationOptions(
    int MaxNewTokens,
    SamplingParams Sampling,
    IReadOnlyCollection<int> StopTokenIds,
    IReadOnlyList<string>? StopStrings = null,
    Func<IReadOnlyList<int>, string>? Decode = null,
    ulong Stream = 0);

/// <summary>A finished sequence: its new tokens (a terminator that stopped it is included) and why it stopped.</summary>
public sealed record GenerationResult(SequenceId Id, IReadOnlyList<int> Tokens, FinishReason Reason, int PromptTokens)
{
    /// <summary>Prompt tokens whose K/V came from <see cref="GenerationRequest.Reuse"/> instead of a prefill.</summary>
    public int ReusedTokens { get; init; }

    /// <summary>The sequence's KV cache, kept when the request asked for it and the sequence finished normally.</summary>
    public KvPrefix? Kept { get; init; }
}

/// <summary>One generated token, as it is produced.</summary>
public readonly record struct GeneratedToken(int RequestIndex, int Token, int Step);
