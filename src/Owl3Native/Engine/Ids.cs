namespace Owl3Native.Engine;

/// <summary>Identifies one sequence (one generation stream) in the engine.</summary>
public readonly record struct SequenceId(int Value);

/// <summary>A physical KV-cache block.</summary>
public readonly record struct BlockId(int Value);
