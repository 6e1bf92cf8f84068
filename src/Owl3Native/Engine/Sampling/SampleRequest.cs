namespace Owl3Native.Engine.Sampling;

/// <summary>
/// What choosing a sequence's next token needs besides its logits and history (the arguments of
/// <see cref="Sampler.Sample"/>): the request's settings, its Philox stream, and the index of the token being generated.
/// </summary>
public readonly record struct SampleRequest(SamplingParams Params, ulong Stream, int Step);
