using System.Diagnostics;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Owl3Native.Server;

namespace Owl3Native.Benchmarks;

/// <summary>
/// N concurrent streaming clients on loopback against `owl3 serve`'s server on the CPU backend with the tiny-a golden
/// checkpoint (text-only prompt, 32 new tokens each). One operation = all N requests answered; the time to the first
/// streamed byte of each request is reported in the log for latency.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class ServerBench
{
    private Owl3Engine _engine = null!;
    private Owl3Server _server = null!;
    private HttpClient _http = null!;

    [Params(1, 4, 8)]
    public int Clients { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string shared = Environment.GetEnvironmentVariable("OWL3_SHARED") ?? "../shared";
        _engine = Owl3Engine.Load(Path.Combine(shared, "golden", "tiny-a"));
        _server = Owl3Server.Create(_engine, new ServerOptions { Port = 0, MaxQueue = 64 });
        _http = new HttpClient { BaseAddress = _server.StartAsync().GetAwaiter().GetResult() };
    }

    [Benchmark(Description = "N streaming chat completions, 32 tokens each")]
    public async Task<double> ConcurrentStreams()
    {
        var firstByteMs = await Task.WhenAll(Enumerable.Range(0, Clients).Select(async i =>
        {
            string body = $$"""{"messages":[{"role":"user","content":"Hello number {{i}}, describe a cat."}],"max_tokens":32,"temperature":0,"stream":true}""";
            var sw = Stopwatch.StartNew();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            using var stream = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[4096];
            double first = -1;
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0) if (first < 0) first = sw.Elapsed.TotalMilliseconds;
            return first;
        }));
        return firstByteMs.Max();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _http.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _engine.Dispose();
    }
}
