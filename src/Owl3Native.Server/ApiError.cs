namespace Owl3Native.Server;

/// <summary>An error answered in OpenAI's `{"error": {message, type, code}}` shape.</summary>
internal sealed class ApiError(int status, string message, string type = "invalid_request_error", string? code = null) : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Code { get; } = code;
}
