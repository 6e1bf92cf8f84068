using Owl3Native.Models.Checkpoints;
using Owl3Native.Processing;
using Owl3Native.Processing.Text;

namespace Owl3Native.Cli.Commands;

/// <summary>`owl3 chat --model &lt;dir&gt;`: a streaming multi-turn REPL; `/image PATH`, `/video PATH`, `/reset`, `/exit`.</summary>
internal sealed class ChatCommand : Command
{
    public override string Name => "chat";
    public override string Usage => "chat --model <dir> [--max-new-tokens N] [--temperature T] [--no-cut] [--device auto|cpu|cuda]";
    public override string Summary => "interactive multi-turn chat, streamed (attach with /image PATH or /video PATH, /reset, /exit)";
    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("model", true, "checkpoint folder", ValueName: "DIR"),
        new("max-new-tokens", true, "per answer (default 512)", ValueName: "N"),
        new("temperature", true, "0 = greedy (default: generation_config.json)", ValueName: "T"),
        new("no-cut", false, "no adaptive image cutting"),
        new("device", true, "auto (default: the CPU), cpu or cuda (the model on the GPU)", ValueName: "D"),
        new("threads", true, "CPU threads (default: all cores)", ValueName: "N"),
    ];

    public override int Run(ParsedArgs args, Console console)
    {
        args.NoMorePositionals(0);
        string model = args.Value("model") ?? throw new UsageException("--model is required");
        float? temperature = args.Value("temperature") is { } t && float.TryParse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var tv) ? tv : null;
        var settings = new GenerationSettings(MaxNewTokens: args.Int("max-new-tokens", 512, min: 1), Temperature: temperature, Cut: !args.Flag("no-cut"));
        string device = args.Value("device") ?? "auto";
        if (device is not ("auto" or "cpu" or "cuda")) throw new UsageException($"--device must be auto, cpu or cuda, not '{device}'");
        using var engine = GenerateCommand.LoadEngine(model, new EngineOptions(Device: device, Threads: args.Int("threads", 0, min: 0, max: 1024), Progress: TerminalProgress.For(console, json: false)));
        console.Error.WriteLine($"owl3 chat: {engine.Model.Variant.Tag()} from {engine.Checkpoint.Directory}. /image PATH, /video PATH, /reset, /exit");
        // One Owl3Chat: history, decoded images and the last turn's KV cache carry over, so a turn prefills only its
        // own new tokens.
        using var chat = engine.StartChat();
        var media = new List<MediaSource>();
        var pending = new System.Text.StringBuilder();
        while (true)
        {
            console.Out.Write("> ");
            string? line = System.Console.In.ReadLine();
            if (line is null || line.Trim() == "/exit") return 0;
            if (line.Trim() == "/reset") { chat.Reset(); media.Clear(); pending.Clear(); console.Out.WriteLine("(new conversation)"); continue; }
            if (line.StartsWith("/image ", StringComparison.Ordinal) || line.StartsWith("/video ", StringComparison.Ordinal))
            {
                string path = line[7..].Trim();
                bool video = line.StartsWith("/video", StringComparison.Ordinal);
                media.Add(video ? MediaSource.VideoFile(path) : MediaSource.ImageFile(path));
                pending.Append(video ? MediaTemplates.VideoMarker : MediaTemplates.ImageMarker);
                console.Out.WriteLine($"(attached {path})");
                continue;
            }
            string text = pending + line;
            var attached = media.ToArray();
            pending.Clear();
            media.Clear();
            console.Out.Write("assistant: ");
            try
            {
                GenerationOutput? final = null;
                var updates = chat.SendAsync(text, attached, settings).GetAsyncEnumerator();
                try
                {
                    while (updates.MoveNextAsync().AsTask().GetAwaiter().GetResult())
                    {
                        console.Out.Write(updates.Current.Text);
                        console.Out.Flush();
                        final = updates.Current.Final ?? final;
                    }
                }
                finally
                {
                    updates.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
                console.Out.WriteLine();
                if (final is not null)
                    console.Error.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"({final.PromptTokens} prompt tokens, {final.CachedPromptTokens} reused from the last turn; first token after {final.PrefillMs / 1000:F1} s; {final.TokenIds.Count} new at {final.TokenIds.Count / Math.Max(1e-9, final.DecodeMs / 1000):F1} tok/s)"));
            }
            catch (Exception e) when (e is MediaMismatchException or Processing.Images.ImageDecodeException or Processing.Video.VideoDecodeException or ArgumentException)
            {
                console.Out.WriteLine();
                console.Error.WriteLine($"error: {e.Message}");
            }
        }
    }
}
