using Owl3Native.Models.Checkpoints;
using Owl3Native.Server;

namespace Owl3Native.Cli.Commands;

/// <summary>`owl3 serve --model &lt;dir&gt; [--host 127.0.0.1] [--port 8080] [--api-key K]`.</summary>
internal sealed class ServeCommand : Command
{
    public override string Name => "serve";
    public override string Usage => "serve --model <dir> [--host 127.0.0.1] [--port 8080] [--api-key K] [--max-queue N] [--max-batch N] [--kv-blocks N] [--image-cache-mb N] [--prefix-cache N] [--device auto|cpu|cuda]";
    public override string Summary => "OpenAI-compatible HTTP server (/v1/chat/completions, /v1/models, /health, /metrics) plus the web chat page at /";
    public override string? Details => "Binds loopback by default. Media must be sent as data: URLs (http(s) URLs and local paths are refused).";
    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("model", true, "checkpoint folder", ValueName: "DIR"),
        new("host", true, "address to bind (default 127.0.0.1)", ValueName: "H"),
        new("port", true, "port (default 8080; 0 = any free port)", ValueName: "P"),
        new("api-key", true, "require Authorization: Bearer <key> on /v1", ValueName: "K"),
        new("max-queue", true, "requests allowed to wait before 429 (default 16)", ValueName: "N"),
        new("threads", true, "CPU threads (default: all cores)", ValueName: "N"),
        new("max-batch", true, "sequences generated at once (default 256)", ValueName: "N"),
        new("kv-blocks", true, "KV-cache blocks of 16 tokens (default 4096)", ValueName: "N"),
        new("image-cache-mb", true, "MiB of image embeddings kept for reuse (default 256; 0 = off)", ValueName: "N"),
        new("device", true, "auto (default: the CPU), cpu or cuda (the model on the GPU)", ValueName: "D"),
        new("prefix-cache", true, "KV caches of finished requests kept so a request resending a conversation skips prefilling it (default 16; 0 = off)", ValueName: "N"),
    ];

    public override int Run(ParsedArgs args, Console console)
    {
        args.NoMorePositionals(0);
        string model = args.Value("model") ?? throw new UsageException("--model is required");
        string device = args.Value("device") ?? "auto";
        if (device is not ("auto" or "cpu" or "cuda")) throw new UsageException($"--device must be auto, cpu or cuda, not '{device}'");
        var options = new ServerOptions
        {
            Host = args.Value("host") ?? "127.0.0.1",
            Port = args.Int("port", 8080, min: 0, max: 65535),
            ApiKey = args.Value("api-key"),
            MaxQueue = args.Int("max-queue", 16, min: 0, max: 100000),
        };
        using var engine = GenerateCommand.LoadEngine(model, new EngineOptions(Device: device, Threads: args.Int("threads", 0, min: 0, max: 1024),
            KvBlocks: args.Int("kv-blocks", 4096, min: 1), ImageCacheBytes: (long)args.Int("image-cache-mb", 256, min: 0, max: 1 << 20) << 20,
            MaxBatch: args.Int("max-batch", 256, min: 1, max: 1 << 16), PrefixCache: args.Int("prefix-cache", 16, min: 0, max: 4096)));
        var server = Owl3Server.Create(engine, options);
        using var stop = new CancellationTokenSource();
        System.Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        // SIGTERM (docker stop, systemd, kill) stops as Ctrl+C does: requests in flight end, then the process exits 0.
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM,
            context => { context.Cancel = true; stop.Cancel(); });
        var address = server.StartAsync(stop.Token).GetAwaiter().GetResult();
        console.Error.WriteLine($"owl3 serve: {engine.Model.Variant.Tag()} model from {engine.Checkpoint.Directory} at {address} (chat page: {address}, API: {address}v1/chat/completions); Ctrl+C or SIGTERM stops");
        try
        {
            Task.Delay(Timeout.Infinite, stop.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM
        }
        server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return 0;
    }
}
