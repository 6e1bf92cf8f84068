using System.Text.Json;
using Owl3Native.Processing;
using Owl3Native.Processing.Text;

namespace Owl3Native.Server;

/// <summary>A parsed `/v1/chat/completions` body.</summary>
internal sealed record ChatRequest(IReadOnlyList<PromptMessage> Messages, IReadOnlyList<MediaSource> Media, GenerationSettings Settings, bool Stream, bool IncludeUsage);

/// <summary>
/// Reads OpenAI chat-completion JSON: string or parts content (`text`, `image_url`, `video_url`), sampling fields, stream
/// options. Media URLs must be `data:` URLs unless the options allow more; every problem is a 400 naming the field.
/// </summary>
internal static class ChatRequestParser
{
    public static ChatRequest Parse(JsonElement body, ServerOptions options)
    {
        if (body.ValueKind != JsonValueKind.Object) throw Bad("the body must be a JSON object");
        if (!body.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
            throw Bad("`messages` must be a non-empty array", "messages");
        var prompt = new List<PromptMessage>();
        var media = new List<MediaSource>();
        int index = 0;
        foreach (var m in messages.EnumerateArray())
        {
            string where = $"messages[{index++}]";
            string role = m.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : throw Bad($"`{where}.role` is required", where);
            var promptRole = role switch
            {
                "system" or "developer" => PromptRole.System,
                "user" => PromptRole.User,
                "assistant" => PromptRole.Assistant,
                _ => throw Bad($"`{where}.role` `{role}` is not one of system, user, assistant", where),
            };
            var text = new System.Text.StringBuilder();
            if (!m.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null) { }
            else if (content.ValueKind == JsonValueKind.String) text.Append(content.GetString());
            else if (content.ValueKind == JsonValueKind.Array)
                foreach (var part in content.EnumerateArray())
                {
                    string type = part.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
                    switch (type)
                    {
                        case "text":
                            text.Append(part.TryGetProperty("text", out var tx) ? tx.GetString() : "");
                            break;
                        case "image_url" or "video_url" when promptRole == PromptRole.User:
                            string url = part.TryGetProperty(type, out var u) && u.ValueKind == JsonValueKind.Object && u.TryGetProperty("url", out var uu) ? uu.GetString() ?? ""
                                : part.TryGetProperty(type, out var us) && us.ValueKind == JsonValueKind.String ? us.GetString()! : throw Bad($"`{where}` {type} part has no url", where);
                            media.Add(Media(url, type == "video_url", options, where));
                            text.Append(type == "image_url" ? MediaTemplates.ImageMarker : MediaTemplates.VideoMarker);
                            break;
                        default:
                            throw Bad($"`{where}` has a content part of type `{type}` (supported: text, image_url, video_url in user messages)", where);
                    }
                }
            else throw Bad($"`{where}.content` must be a string or an array of parts", where);
            prompt.Add(new PromptMessage(promptRole, text.ToString()));
        }
        if (media.Count > options.MaxMedia) throw Bad($"{media.Count} images/videos exceed this server's limit of {options.MaxMedia}", "messages");

        int? maxTokens = Int(body, "max_completion_tokens") ?? Int(body, "max_tokens");
        if (maxTokens is <= 0) throw Bad("`max_tokens` must be positive", "max_tokens");
        float? temperature = Float(body, "temperature"), topP = Float(body, "top_p");
        if (temperature is < 0 or > 100) throw Bad("`temperature` must be in [0, 100]", "temperature");
        if (topP is <= 0 or > 1) throw Bad("`top_p` must be in (0, 1]", "top_p");
        int? topK = Int(body, "top_k");
        if (topK is < 0) throw Bad("`top_k` must be ≥ 0", "top_k");
        long? seed = body.TryGetProperty("seed", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt64() : null;
        var stop = new List<string>();
        if (body.TryGetProperty("stop", out var st))
        {
            if (st.ValueKind == JsonValueKind.String) stop.Add(st.GetString()!);
            else if (st.ValueKind == JsonValueKind.Array) stop.AddRange(st.EnumerateArray().Select(e => e.GetString() ?? ""));
            else if (st.ValueKind != JsonValueKind.Null) throw Bad("`stop` must be a string or an array of strings", "stop");
        }
        bool stream = body.TryGetProperty("stream", out var sm) && sm.ValueKind == JsonValueKind.True;
        bool includeUsage = body.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
            && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;
        var settings = new GenerationSettings(MaxNewTokens: maxTokens, Temperature: temperature, TopK: topK, TopP: topP,
            Seed: seed is { } sd ? unchecked((ulong)sd) : 0, Stop: stop.Count > 0 ? stop : null);
        return new ChatRequest(prompt, media, settings, stream, includeUsage);
    }

    private static MediaSource Media(string url, bool video, ServerOptions options, string where)
    {
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            int comma = url.IndexOf(',', StringComparison.Ordinal);
            if (comma < 0 || !url[..comma].EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
                throw Bad($"`{where}`: media data URLs must be base64 (data:<type>;base64,...)", where);
            byte[] bytes;
            try { bytes = Convert.FromBase64String(url[(comma + 1)..]); }
            catch (FormatException) { throw Bad($"`{where}`: the data URL is not valid base64", where); }
            if (!video) return MediaSource.ImageBytes(bytes, "data-url");
            string path = Path.Combine(Path.GetTempPath(), $"owl3-upload-{Guid.NewGuid():N}.mp4");
            File.WriteAllBytes(path, bytes);
            return MediaSource.VideoFile(path);
        }
        if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            throw options.AllowRemoteMedia
                ? Bad($"`{where}`: fetching remote media is not implemented; send a data: URL", where)
                : Bad($"`{where}`: http(s) media URLs are refused by this server (send a data: URL)", where, "url_not_allowed");
        if (!options.AllowLocalPaths) throw Bad($"`{where}`: local paths are refused by this server (send a data: URL)", where, "path_not_allowed");
        string local = url.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? new Uri(url).LocalPath : url;
        return video ? MediaSource.VideoFile(local) : MediaSource.ImageFile(local);
    }

    private static int? Int(JsonElement body, string name) =>
        body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number
            ? (v.TryGetInt32(out int i) ? i : throw Bad($"`{name}` must be an integer", name)) : null;

    private static float? Float(JsonElement body, string name) =>
        body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? (float)v.GetDouble() : null;

    private static ApiError Bad(string message, string? param = null, string? code = null) => new(400, message, "invalid_request_error", code ?? param);
}
