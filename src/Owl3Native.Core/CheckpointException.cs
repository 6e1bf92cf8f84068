namespace Owl3Native.Core;

/// <summary>Base of every error raised while opening or validating a checkpoint folder.</summary>
/// <remarks>The message is one line that names the file (and the tensor or field) and what was expected.</remarks>
public abstract class CheckpointException : Exception
{
    /// <summary>Creates the exception.</summary>
    protected CheckpointException(string path, string message, Exception? inner = null)
        : base($"{path}: {message}", inner)
    {
        FilePath = path;
        Detail = message;
    }

    /// <summary>The file or folder the error is about.</summary>
    public string FilePath { get; }

    /// <summary>The message without the path prefix.</summary>
    public string Detail { get; }
}

/// <summary>The folder, or a file it must hold, does not exist.</summary>
public sealed class CheckpointNotFoundException(string path, string message) : CheckpointException(path, message);

/// <summary>`config.json` or `generation_config.json` is missing, not valid JSON, or holds an invalid value.</summary>
public sealed class CheckpointConfigException(string path, string message, Exception? inner = null)
    : CheckpointException(path, message, inner)
{
    /// <summary>The JSON field at fault (`hidden_size`, `vision_config.patch_size`), when there is one.</summary>
    public string? Field { get; init; }
}

/// <summary>The weights do not match what the config requires: a missing tensor, a wrong shape or dtype, inconsistent keys.</summary>
public sealed class CheckpointFormatException(string path, string message) : CheckpointException(path, message)
{
    /// <summary>The tensor at fault, when there is one.</summary>
    public string? TensorName { get; init; }
}
