namespace Owl3Native.Processing.Text;

/// <summary>A tokenizer file is missing, unreadable or not in the expected Qwen2 format.</summary>
public sealed class TokenizerFileException : Exception
{
    /// <summary>Creates the exception for <paramref name="filePath"/>; the message names the file.</summary>
    public TokenizerFileException(string filePath, string problem, Exception? inner = null)
        : base($"{filePath}: {problem}", inner)
    {
        FilePath = filePath;
    }

    /// <summary>Full path of the offending file (or folder, when no tokenizer file was found at all).</summary>
    public string FilePath { get; }
}
