using System.Globalization;

namespace Owl3Native.Cli;

/// <summary>
/// Engine progress as one redrawn line on stderr (`loading ▕████░░░░▏ 2/3 model`), finished with a newline when a stage
/// completes. Only used when stderr is a terminal and stdout is not a JSON document.
/// </summary>
internal sealed class TerminalProgress(TextWriter error, int width = 24) : IProgress<EngineProgress>
{
    private readonly Lock _gate = new();

    /// <summary>A sink for a command, or null when stderr is redirected (pipes and logs get no control characters) or with --json.</summary>
    public static IProgress<EngineProgress>? For(Console console, bool json) =>
        json || System.Console.IsErrorRedirected || console.Error != System.Console.Error ? null : new TerminalProgress(console.Error);

    public void Report(EngineProgress value)
    {
        lock (_gate)
        {
            error.Write('\r');
            error.Write(Line(value, width));
            if (value.Done >= value.Total) error.Write('\n');
            error.Flush();
        }
    }

    /// <summary>The line of one report (no control characters).</summary>
    public static string Line(EngineProgress p, int width)
    {
        string stage = p.Stage switch
        {
            EngineStage.Loading => "loading",
            EngineStage.DecodingVideo => "video frames",
            _ => "image crops",
        };
        int total = Math.Max(1, p.Total), done = Math.Clamp(p.Done, 0, total);
        int filled = (int)Math.Round((double)width * done / total);
        string bar = new string('█', filled) + new string('░', width - filled);
        return string.Create(CultureInfo.InvariantCulture, $"{stage,-12} ▕{bar}▏ {done}/{p.Total}{(p.Item is null ? "" : " " + p.Item)}");
    }
}
