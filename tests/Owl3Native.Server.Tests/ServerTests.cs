using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Owl3Native.TestKit;
using Owl3Native.Verification;
using Xunit;

namespace Owl3Native.Server.Tests;

/// <summary>The server over real HTTP on loopback, on the tiny-a golden checkpoint.</summary>
public sealed class ServerTests : IAsyncLifetime
{
    private Owl3Engine _engine = null!;
    private Owl3Server _server = null!;
    private HttpClient _http = null!;
    private const string Key = "test-key";

    public async Task InitializeAsync()
    {
        _engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        _server = Owl3Server.Create(_engine, new ServerOptions { Port = 0, ApiKey = Key, MaxRequestBytes = 1 << 20, MaxQueue = 1 });
        _http = new HttpClient { BaseAddress = await _server.StartAsync() };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        _engine.Dispose();
    }

    private static string ImageDataUrl() =>
        "data:image/png;base64," + Convert.ToBase64String(File.ReadAllBytes(Path.Combine(SharedData.Root, "golden", "processor", "images", "grad_500x500.png")));

    private static StringContent Body(object request) => new(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json");

    private static object Request(bool stream) => new Dictionary<string, object>
    {
        ["model"] = "anything",
        ["messages"] = new object[]
        {
            new Dictionary<string, object>
            {
                ["role"] = "user",
                ["content"] = new object[]
                {
                    new Dictionary<string, object> { ["type"] = "image_url", ["image_url"] = new Dictionary<string, object> { ["url"] = ImageDataUrl() } },
                    new Dictionary<string, object> { ["type"] = "text", ["text"] = "Describe this image." },
                },
            },
        },
        ["temperature"] = 0,
        ["max_tokens"] = 16,
        ["stream"] = stream,
        ["stream_options"] = new Dictionary<string, object> { ["include_usage"] = true },
    };

    private string ExpectedText()
    {
        using var golden = GoldenSet.Open(SharedData.Golden("tiny-a"));
        var ids = golden.Longs("gen.processor_cut_image.new_tokens").Select(v => (int)v).Where(t => !_engine.Terminators.Contains(t));
        return _engine.Processor.Tokenizer.Decode(ids);
    }

    [Fact]
    public async Task Chat_completion_with_an_image_data_url_gives_the_golden_answer()
    {
        using var response = await _http.PostAsync("/v1/chat/completions", Body(Request(stream: false)));
        string json = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal("chat.completion", root.GetProperty("object").GetString());
        Assert.Equal("mplug-owl3", root.GetProperty("model").GetString()); // its own id, whatever was asked
        Assert.Equal(ExpectedText(), root.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("length", root.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(39, root.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(16, root.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Streaming_sends_sse_chunks_usage_and_done()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Body(Request(stream: true)) };
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        string body = await response.Content.ReadAsStringAsync();
        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).ToArray();
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e[6..])).ToArray();
        Assert.Equal("assistant", chunks[0].RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var text = string.Concat(chunks.Select(c => c.RootElement.GetProperty("choices")).Where(c => c.GetArrayLength() > 0)
            .Select(c => c[0].GetProperty("delta")).Where(d => d.TryGetProperty("content", out _)).Select(d => d.GetProperty("content").GetString()));
        Assert.Equal(ExpectedText(), text);
        Assert.Contains(chunks, c => c.RootElement.GetProperty("choices").GetArrayLength() > 0
            && c.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString() == "length");
        var usage = chunks[^1].RootElement;
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.Equal(16, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        foreach (var c in chunks) c.Dispose();
    }

    [Fact]
    public async Task Models_health_and_metrics()
    {
        using var models = JsonDocument.Parse(await _http.GetStringAsync("/v1/models"));
        Assert.Equal("mplug-owl3", models.RootElement.GetProperty("data")[0].GetProperty("id").GetString());
        Assert.Contains("\"ok\"", await _http.GetStringAsync("/health"));
        string metrics = await _http.GetStringAsync("/metrics");
        Assert.Contains("owl3_kv_blocks_used 0", metrics);
        Assert.Contains("# TYPE owl3_queue_depth gauge", metrics);
        Assert.Contains("# TYPE owl3_image_cache_hits_total counter", metrics);
        Assert.Contains("<title>Owl3Native chat</title>", await _http.GetStringAsync("/"));
    }

    [Fact]
    public async Task Errors_have_the_openai_shape()
    {
        using var anonymous = new HttpClient { BaseAddress = _http.BaseAddress };
        using (var r = await anonymous.GetAsync("/v1/models"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            Assert.Equal("invalid_api_key", doc.RootElement.GetProperty("error").GetProperty("type").GetString());
        }
        async Task<(HttpStatusCode, JsonElement)> Post(string json)
        {
            using var r = await _http.PostAsync("/v1/chat/completions", new StringContent(json, Encoding.UTF8, "application/json"));
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            return (r.StatusCode, doc.RootElement.GetProperty("error").Clone());
        }
        var (s1, e1) = await Post("{not json");
        Assert.Equal(HttpStatusCode.BadRequest, s1);
        Assert.Contains("not valid JSON", e1.GetProperty("message").GetString());
        var (s2, e2) = await Post("""{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://example.invalid/x.png"}}]}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, s2);
        Assert.Equal("url_not_allowed", e2.GetProperty("code").GetString());
        var (s3, e3) = await Post("""{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"/etc/passwd"}}]}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, s3);
        Assert.Equal("path_not_allowed", e3.GetProperty("code").GetString());
        var (s4, _) = await Post("""{"messages":[{"role":"user","content":"<|image|> but no image"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, s4);
        var (s5, e5) = await Post("""{"messages":[]}""");
        Assert.Equal(HttpStatusCode.BadRequest, s5);
        Assert.Equal("messages", e5.GetProperty("code").GetString());
        // Expect: 100-continue lets the server refuse by Content-Length before the client sends the body (otherwise the
        // client may still be writing when the server answers and closes: a broken pipe instead of the 413).
        using var bigRequest = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("{\"messages\":\"" + new string('x', 2 << 20) + "\"}", Encoding.UTF8, "application/json"),
        };
        bigRequest.Headers.ExpectContinue = true;
        using var big = await _http.SendAsync(bigRequest);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.StatusCode);
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_frees_its_blocks()
    {
        var request = (Dictionary<string, object>)Request(stream: true);
        request["max_tokens"] = 100000;
        using (var cts = new CancellationTokenSource())
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Body(request) };
            using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            using var stream = await response.Content.ReadAsStreamAsync(cts.Token);
            var buffer = new byte[256];
            Assert.True(await stream.ReadAsync(buffer, cts.Token) > 0); // the stream has started
            cts.Cancel();
        }
        for (int i = 0; i < 100 && _engine.Runner.Allocator.UsedBlocks != 0; i++) await Task.Delay(50);
        Assert.Equal(0, _engine.Runner.Allocator.UsedBlocks);
        Assert.Contains("owl3_active_sequences 0", await _http.GetStringAsync("/metrics"));
    }
}

/// <summary>The server over an engine with the prefix cache on (as `owl3 serve` runs it).</summary>
public sealed class PrefixCacheServerTests
{
    [Fact]
    public async Task A_repeated_request_reports_its_cached_prompt_tokens_and_the_metrics_count_them()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"), new EngineOptions(PrefixCache: 4));
        await using var server = Owl3Server.Create(engine, new ServerOptions { Port = 0 });
        using var http = new HttpClient { BaseAddress = await server.StartAsync() };
        string image = "data:image/png;base64," + Convert.ToBase64String(File.ReadAllBytes(Path.Combine(SharedData.Root, "golden", "processor", "images", "grad_500x500.png")));
        var request = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["messages"] = new object[]
            {
                new Dictionary<string, object>
                {
                    ["role"] = "user",
                    ["content"] = new object[]
                    {
                        new Dictionary<string, object> { ["type"] = "image_url", ["image_url"] = new Dictionary<string, object> { ["url"] = image } },
                        new Dictionary<string, object> { ["type"] = "text", ["text"] = "Describe this image." },
                    },
                },
            },
            ["temperature"] = 0,
            ["max_tokens"] = 16,
        });
        var answers = new List<(string Text, int Prompt, int Cached)>();
        for (int i = 0; i < 2; i++)
        {
            using var response = await http.PostAsync("/v1/chat/completions", new StringContent(request, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var usage = doc.RootElement.GetProperty("usage");
            answers.Add((doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!,
                usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32()));
        }
        Assert.Equal(0, answers[0].Cached);
        // The whole 16-token blocks of all but the last prompt token (which is fed again to yield the logits).
        Assert.Equal((answers[0].Prompt - 1) / 16 * 16, answers[1].Cached);
        Assert.Equal(answers[0].Text, answers[1].Text);
        string metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("owl3_prefix_cache_hits_total 1", metrics);
        Assert.Contains($"owl3_prefix_cache_reused_tokens_total {answers[1].Cached}", metrics);
        Assert.Contains("owl3_prefix_cache_entries 1", metrics);
    }
}
