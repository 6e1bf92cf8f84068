using Owl3Native.Core.Tensors;
using Owl3Native.Engine.Sampling;

namespace Owl3Native.Engine;

/// <summary>One prompt to generate from: token ids, its crops `[crops, 3, S, S]` (or none) and their marker starts.</summary>
public sealed record GenerationRequest(int[] PromptTokens, Tensor? Pixels, int[] MarkerStarts, GenerationOptions Options)
{
    /// <summary>A kept KV prefix to start from: its longest common prefix with <see cref="PromptTokens"/> is not prefilled again.</summary>
    public KvPrefix? Reuse { get; init; }

    /// <summary>Keep this sequence's KV cache when it finishes (returned as <see cref="GenerationResult.Kept"/>).</summary>
    public bool Keep { get; init; }

    /// <summary>
    /// Share <see cref="Reuse"/>'s whole blocks instead of taking the prefix over: it stays kept for other requests
    /// (the prefix cache of stateless calls); a chat turn takes its own prefix (false).
    /// </summary>
    public bool ShareReuse { get; init; }
}

/// <summary>
/// Generates for several sequences of different lengths at once: each prompt is prefilled in chunks, then every
/// active sequence advances one token per batched decode step (no padding). Finished and cancelled sequences leave
/// the batch and free their blocks at once. Tokens are reported as they are produced.
/// </summary>
public sealed class Generator(ModelRunner runner, int prefillChunk = 512)
{
    /// <summary>Runs the requests to completion (or cancellation).</summary>
    /// <param name="requests">The prompts.</param>
    /// <param name="onToken">Called with each new token, in production order.</param>
    /// <param name="cancellation">Stops every sequence; their blocks are freed and their results say <see cref="FinishReason.Cancelled"/>.</param>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<GenerationRequest> requests, Action<GeneratedToken>? onToken = null, CancellationToken cancellation = default)
    {
        int maxContext = runner.Model.Config.MaxPositionEmbeddings;
        foreach (var r in requests)
        {
            if (r.PromptTokens.Length == 0) throw new ArgumentException("a prompt needs at least one token");
            if (r.PromptTokens.Length >= maxContext)
                throw new ArgumentException($"prompt of {r.PromptTokens.Length} tokens does not fit the model's context of {maxContext}");
            if (r.Options.StopStrings is { Count: > 0 } && r.Options.Decode is null)
                throw new ArgumentException("stop strings need a Decode function");
        }
        // Next: the token chosen by the last step (where the logits are: on the device with cuda), not yet reported.
        var states = new List<(SequenceState Seq, GenerationRequest Req, List<int> New, FinishReason? Done, int Next)>();
        try
        {
            foreach (var r in requests)
            {
                var seq = runner.Admit(r.Pixels, r.MarkerStarts);
                states.Add((seq, r, [], null, -1));
            }
            // Prefill: each prompt in chunks (chunked prefill over the cache equals a full pass); the last chunk's step
            // chooses the first token.
            for (int i = 0; i < states.Count; i++)
            {
                var (seq, req, _, _, _) = states[i];
                int next = -1;
                for (int start = 0; start < req.PromptTokens.Length; start += prefillChunk)
                {
                    cancellation.ThrowIfCancellationRequested();
                    int end = Math.Min(req.PromptTokens.Length, start + prefillChunk);
                    next = runner.StepSample([new StepInput(seq, req.PromptTokens[start..end])], [end == req.PromptTokens.Length ? Ask(req, 0) : null])[0];
                }
                states[i] = states[i] with { Next = next };
            }
            while (true)
            {
                var active = new List<int>();
                for (int i = 0; i < states.Count; i++)
                {
                    var s = states[i];
                    if (s.Done is not null) continue;
                    if (cancellation.IsCancellationRequested) { Finish(i, FinishReason.Cancelled); continue; }
                    s.New.Add(s.Next);
                    onToken?.Invoke(new GeneratedToken(i, s.Next, s.New.Count - 1));
                    var reason = StopReason(s.Req.Options, s.New, s.Seq.CachedLength + 1 >= maxContext);
                    if (reason is not null) Finish(i, reason.Value);
                    else active.Add(i);
                }
                if (active.Count == 0) break;
                var chosen = runner.StepSample([.. active.Select(i => new StepInput(states[i].Seq, [states[i].New[^1]]))],
                    [.. active.Select(i => Ask(states[i].Req, states[i].New.Count))]);
                for (int a = 0; a < active.Count; a++) states[active[a]] = states[active[a]] with { Next = chosen[a] };
            }
            return states.Select(s => new GenerationResult(s.Seq.Id, s.New, s.Done!.Value, s.Req.PromptTokens.Length)).ToArray();
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            for (int i = 0; i < states.Count; i++) if (states[i].Done is null) Finish(i, FinishReason.Cancelled);
            return states.Select(s => new GenerationResult(s.Seq.Id, s.New, s.Done!.Value, s.Req.PromptTokens.Length)).ToArray();
        }
        finally
        {
            foreach (var s in states) runner.Release(s.Seq); // idempotent: frees whatever is still held
        }

        void Finish(int i, FinishReason reason)
        {
            runner.Release(states[i].Seq);
            states[i] = states[i] with { Done = reason };
        }
    }

    /// <summary>The sampling of a request's token number <paramref name="step"/> (its settings, its Philox stream).</summary>
    private static SampleRequest? Ask(GenerationRequest r, int step) => new SampleRequest(r.Options.Sampling, r.Options.Stream, step);

    /// <summary>Why a sequence stops after its newest token, if it does (terminator, stop string, budget, context).</summary>
    internal static FinishReason? StopReason(GenerationOptions o, List<int> generated, bool contextFull)
    {
        if (o.StopTokenIds.Contains(generated[^1])) return FinishReason.Stop;
        if (o.StopStrings is { Count: > 0 } stops)
        {
            string text = o.Decode!(generated);
            if (stops.Any(s => s.Length > 0 && text.Contains(s, StringComparison.Ordinal))) return FinishReason.Stop;
        }
        if (generated.Count >= o.MaxNewTokens || contextFull) return FinishReason.Length;
        return null;
    }
}
