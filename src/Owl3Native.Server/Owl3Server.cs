using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Owl3Native.Engine;

namespace Owl3Native.Server;

/// <summary>
/// The OpenAI-compatible HTTP server over one <see cref="Owl3Engine"/>: `/v1/chat/completions` (JSON and SSE),
/// `/v1/models`, `/health`, `/metrics` (Prometheus text) and the web chat page at `/`. No model logic lives here.
/// </summary>
public sealed class Owl3Server : IAsyncDisposable
{
    private readonly Owl3Engine _engine;
    private readonly ServerOptions _options;
    private readonly WebApplication _app;
    private int _active;
    private long _generatedTokens, _requests;
    private double _lastTokensPerSecond;

    private Owl3Server(Owl3Engine engine, ServerOptions options)
    {
        _engine = engine;
        _options = options;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://{(options.Host.Contains(':') ? $"[{options.Host}]" : options.Host)}:{options.Port}");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxRequestBytes);
        _app = builder.Build();
        _app.MapGet("/", Page);
        _app.MapGet("/health", (HttpContext c) => Json(c, 200, w => { w.WriteString("status", "ok"); w.WriteString("model", options.ModelId); }));
        _app.MapGet("/metrics", Metrics);
        _app.MapGet("/v1/models", (HttpContext c) => Authorized(c, () => Models(c)));
        _app.MapPost("/v1/chat/completions", (HttpContext c) => Authorized(c, () => ChatCompletions(c)));
    }

    /// <summary>Builds the server (not yet listening).</summary>
    public static Owl3Server Create(Owl3Engine engine, ServerOptions? options = null) => new(engine, options ?? new ServerOptions());

    /// <summary>Starts listening; returns the bound base address (useful with port 0).</summary>
    public async Task<Uri> StartAsync(CancellationToken cancellation = default)
    {
        await _app.StartAsync(cancellation).ConfigureAwait(false);
        return new Uri(_app.Urls.First());
    }

    /// <summary>Serves until the host shuts down (Ctrl+C) or <paramref name="cancellation"/> fires.</summary>
    public async Task RunAsync(CancellationToken cancellation = default)
    {
        await StartAsync(cancellation).ConfigureAwait(false);
        await _app.WaitForShutdownAsync(cancellation).ConfigureAwait(false);
    }

    /// <summary>Stops listening.</summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task Authorized(HttpContext c, Func<Task> next)
    {
        if (_options.ApiKey is { } key && c.Request.Headers.Authorization.ToString() != $"Bearer {key}")
        {
            await Error(c, new ApiError(401, "missing or wrong API key (Authorization: Bearer <key>)", "invalid_api_key", "invalid_api_key")).ConfigureAwait(false);
            return;
        }
        await next().ConfigureAwait(false);
    }

    private Task Models(HttpContext c) => Json(c, 200, w =>
    {
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        w.WriteStartObject();
        w.WriteString("id", _options.ModelId);
        w.WriteString("object", "model");
        w.WriteNumber("created", 0);
        w.WriteString("owned_by", "owl3native");
        w.WriteEndObject();
        w.WriteEndArray();
    });

    private async Task ChatCompletions(HttpContext c)
    {
        ChatRequest request;
        try
        {
            JsonDocument doc;
            try { doc = await JsonDocument.ParseAsync(c.Request.Body, cancellationToken: c.RequestAborted).ConfigureAwait(false); }
            catch (JsonException e) { throw new ApiError(400, $"the body is not valid JSON: {e.Message.Split('\n')[0]}"); }
            catch (BadHttpRequestException e) when (e.StatusCode == 413) { throw new ApiError(413, $"request body larger than {_options.MaxRequestBytes} bytes", "invalid_request_error", "request_too_large"); }
            using (doc) request = ChatRequestParser.Parse(doc.RootElement, _options);
        }
        catch (ApiError e)
        {
            await Error(c, e).ConfigureAwait(false);
            return;
        }

        // Requests run concurrently: the engine's scheduler batches them step by step. Refuse when too many already wait
        // for KV blocks.
        if (_engine.Scheduler.Waiting >= _options.MaxQueue)
        {
            await Error(c, new ApiError(429, "the server is busy: the request queue is full, retry later", "rate_limit_exceeded", "queue_full")).ConfigureAwait(false);
            return;
        }
        Interlocked.Increment(ref _active);
        Interlocked.Increment(ref _requests);
        try
        {
            await Run(c, request).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    private async Task Run(HttpContext c, ChatRequest request)
    {
        string id = $"chatcmpl-{Guid.NewGuid():N}";
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var text = new StringBuilder();
        GenerationOutput? final = null;
        bool started = false;
        try
        {
            // Client disconnect (RequestAborted) cancels the generation, which frees the sequence's KV blocks.
            await foreach (var u in _engine.GenerateAsync(request.Messages, request.Media, request.Settings, c.RequestAborted).ConfigureAwait(false))
            {
                final = u.Final ?? final;
                if (!request.Stream) { text.Append(u.Text); continue; }
                if (!started)
                {
                    c.Response.ContentType = "text/event-stream";
                    c.Response.Headers.CacheControl = "no-cache";
                    c.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
                    await Sse(c, Chunk(id, created, role: "assistant", content: "", finish: null)).ConfigureAwait(false);
                    started = true;
                }
                if (u.Text.Length > 0) await Sse(c, Chunk(id, created, role: null, content: u.Text, finish: null)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (c.RequestAborted.IsCancellationRequested)
        {
            return; // the client went away
        }
        catch (Exception e) when (e is Processing.Text.MediaMismatchException or Processing.Images.ImageDecodeException or Processing.Video.VideoDecodeException or ArgumentException)
        {
            if (!started) await Error(c, new ApiError(400, e.Message)).ConfigureAwait(false);
            return;
        }
        if (final is null) return;
        Interlocked.Add(ref _generatedTokens, final.TokenIds.Count);
        if (final.DecodeMs > 0 && final.TokenIds.Count > 1) _lastTokensPerSecond = (final.TokenIds.Count - 1) / (final.DecodeMs / 1000);
        string finish = final.FinishReason switch { FinishReason.Length => "length", FinishReason.Stop => "stop", _ => "cancelled" };
        if (request.Stream)
        {
            if (!started)
            {
                c.Response.ContentType = "text/event-stream";
                await Sse(c, Chunk(id, created, role: "assistant", content: "", finish: null)).ConfigureAwait(false);
            }
            await Sse(c, Chunk(id, created, role: null, content: null, finish: finish)).ConfigureAwait(false);
            if (request.IncludeUsage) await Sse(c, UsageChunk(id, created, final)).ConfigureAwait(false);
            await c.Response.WriteAsync("data: [DONE]\n\n").ConfigureAwait(false);
            return;
        }
        await Json(c, 200, w =>
        {
            w.WriteString("id", id);
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", created);
            w.WriteString("model", _options.ModelId);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", final.Text);
            w.WriteEndObject();
            w.WriteString("finish_reason", finish);
            w.WriteEndObject();
            w.WriteEndArray();
            Usage(w, final);
        }).ConfigureAwait(false);
    }

    private string Chunk(string id, long created, string? role, string? content, string? finish) => Write(w =>
    {
        w.WriteString("id", id);
        w.WriteString("object", "chat.completion.chunk");
        w.WriteNumber("created", created);
        w.WriteString("model", _options.ModelId);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("delta");
        if (role is not null) w.WriteString("role", role);
        if (content is not null) w.WriteString("content", content);
        w.WriteEndObject();
        if (finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finish);
        w.WriteEndObject();
        w.WriteEndArray();
    });

    private string UsageChunk(string id, long created, GenerationOutput final) => Write(w =>
    {
        w.WriteString("id", id);
        w.WriteString("object", "chat.completion.chunk");
        w.WriteNumber("created", created);
        w.WriteString("model", _options.ModelId);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        Usage(w, final);
    });

    private static void Usage(Utf8JsonWriter w, GenerationOutput f)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", f.PromptTokens);
        w.WriteNumber("completion_tokens", f.TokenIds.Count);
        w.WriteNumber("total_tokens", f.PromptTokens + f.TokenIds.Count);
        // OpenAI's field for prompt tokens served from a cache (here: the engine's prefix cache).
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", f.CachedPromptTokens);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static async Task Sse(HttpContext c, string json)
    {
        await c.Response.WriteAsync($"data: {json}\n\n", c.RequestAborted).ConfigureAwait(false);
        await c.Response.Body.FlushAsync(c.RequestAborted).ConfigureAwait(false);
    }

    private Task Metrics(HttpContext c)
    {
        var a = _engine.Runner.Allocator;
        var s = new StringBuilder();
        void Metric(string name, string help, string type, double value)
        {
            s.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            s.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            s.Append(name).Append(' ').Append(value.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        }
        Metric("owl3_queue_depth", "Requests waiting for KV-cache blocks.", "gauge", _engine.Scheduler.Waiting);
        Metric("owl3_active_sequences", "Sequences being generated.", "gauge", _engine.Scheduler.Running);
        Metric("owl3_http_requests_in_flight", "Chat completion requests being served.", "gauge", Volatile.Read(ref _active));
        Metric("owl3_kv_blocks_used", "KV-cache blocks in use.", "gauge", a.UsedBlocks);
        Metric("owl3_kv_blocks_free", "KV-cache blocks free.", "gauge", a.FreeBlocks);
        Metric("owl3_requests_total", "Chat completions served.", "counter", Interlocked.Read(ref _requests));
        Metric("owl3_generated_tokens_total", "Tokens generated.", "counter", Interlocked.Read(ref _generatedTokens));
        Metric("owl3_decode_tokens_per_second", "Decode speed of the last request.", "gauge", _lastTokensPerSecond);
        var images = _engine.Runner.ImageCache;
        Metric("owl3_image_cache_hits_total", "Image crops whose embeddings came from the cache.", "counter", images.Hits);
        Metric("owl3_image_cache_misses_total", "Image crops encoded by the vision tower.", "counter", images.Misses);
        Metric("owl3_image_cache_bytes", "Bytes of cached image embeddings.", "gauge", images.Bytes);
        if (_engine.PrefixCache is { } prefixes)
        {
            Metric("owl3_prefix_cache_hits_total", "Requests that started from a kept KV cache.", "counter", prefixes.Hits);
            Metric("owl3_prefix_cache_reused_tokens_total", "Prompt tokens taken from kept KV caches instead of prefilled.", "counter", prefixes.ReusedTokens);
            Metric("owl3_prefix_cache_entries", "KV caches of finished requests kept for reuse.", "gauge", prefixes.Entries);
        }
        c.Response.ContentType = "text/plain; version=0.0.4";
        return c.Response.WriteAsync(s.ToString());
    }

    private static Task Page(HttpContext c)
    {
        using var stream = typeof(Owl3Server).Assembly.GetManifestResourceStream("wwwroot/index.html")!;
        using var reader = new StreamReader(stream);
        c.Response.ContentType = "text/html; charset=utf-8";
        return c.Response.WriteAsync(reader.ReadToEnd());
    }

    private static Task Error(HttpContext c, ApiError e) => Json(c, e.Status, w =>
    {
        w.WriteStartObject("error");
        w.WriteString("message", e.Message);
        w.WriteString("type", e.Type);
        if (e.Code is null) w.WriteNull("code"); else w.WriteString("code", e.Code);
        w.WriteEndObject();
    });

    private static Task Json(HttpContext c, int status, Action<Utf8JsonWriter> body)
    {
        c.Response.StatusCode = status;
        c.Response.ContentType = "application/json";
        return c.Response.WriteAsync(Write(body));
    }

    private static string Write(Action<Utf8JsonWriter> body)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
