namespace Owl3Native.Server;

/// <summary>Settings of the OpenAI-compatible server (defaults are the safe ones).</summary>
public sealed record ServerOptions
{
    /// <summary>Address to bind; loopback unless changed on purpose.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Port (0: any free port).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, every /v1 request needs `Authorization: Bearer &lt;key&gt;`.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The id `/v1/models` reports and every response carries (any requested `model` value is accepted).</summary>
    public string ModelId { get; init; } = "mplug-owl3";

    /// <summary>Largest request body.</summary>
    public long MaxRequestBytes { get; init; } = 64L << 20;

    /// <summary>Most images and videos in one request.</summary>
    public int MaxMedia { get; init; } = 16;

    /// <summary>Requests allowed to wait for the engine; more get 429.</summary>
    public int MaxQueue { get; init; } = 16;

    /// <summary>Allow http(s) media URLs (refused by default: the server would fetch arbitrary hosts).</summary>
    public bool AllowRemoteMedia { get; init; }

    /// <summary>Allow `file://` / local-path media (refused by default: it would read the server's disk).</summary>
    public bool AllowLocalPaths { get; init; }
}
