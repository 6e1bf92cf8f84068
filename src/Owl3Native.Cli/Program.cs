using Owl3Native.Cli.Commands;
using Owl3Native.Core;

namespace Owl3Native.Cli;

/// <summary>Entry point of `owl3` (spellings in ../shared/CLI.md). Exit codes: 0 ok, 1 user error, 2 usage error.</summary>
internal static class Program
{
    public static readonly IReadOnlyList<OptionSpec> GlobalOptions =
    [
        new("help", false, "show this help"),
        new("verbose", false, "print stack traces with errors"),
    ];

    public static IReadOnlyList<Command> Commands { get; } =
    [
        new DemoCommand(), new InspectCommand(), new MakeTinyCommand(), new DoctorCommand(),
        new VerifyCommand(),
        new GenerateCommand(),
        new ChatCommand(),
        new ServeCommand(),
        new BenchCommand(),
        new TokenizeCommand(),
        new PreprocessCommand(),
        new KernelsCommand(),
        new EvalCommand(),
    ];

    public static int Main(string[] args) => Run(args, new Console(System.Console.Out, System.Console.Error));

    public static int Run(IReadOnlyList<string> args, Console console)
    {
        if (args.Count == 0 || args[0] is "--help" or "-h" or "help")
        {
            console.Out.WriteLine(TopHelp());
            return args.Count == 0 ? 2 : 0;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            console.Error.WriteLine($"owl3: unknown command '{args[0]}' (see owl3 --help)");
            return 2;
        }
        bool verbose = args.Contains("--verbose");
        try
        {
            var parsed = ParsedArgs.Parse(args.Skip(1).ToArray(), command.Options.Concat(GlobalOptions).ToArray());
            if (parsed.Flag("help"))
            {
                console.Out.WriteLine(command.Help());
                return 0;
            }
            return command.Run(parsed, console);
        }
        catch (UsageException e)
        {
            console.Error.WriteLine($"owl3 {command.Name}: {e.Message}");
            console.Error.WriteLine($"usage: owl3 {command.Usage}");
            WriteJsonError(args, console, e.Message);
            return 2;
        }
        catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException or UserErrorException)
        {
            console.Error.WriteLine($"error: {OneLine(e.Message)}");
            if (verbose) console.Error.WriteLine(e);
            WriteJsonError(args, console, OneLine(e.Message));
            return 1;
        }
        catch (Exception e)
        {
            // A bug of ours, not the user's: still one line (and the trace with --verbose), never a crash dump.
            string message = $"internal error ({e.GetType().Name}): {OneLine(e.Message)}";
            console.Error.WriteLine($"error: {message}{(verbose ? "" : " (run with --verbose for the stack trace)")}");
            if (verbose) console.Error.WriteLine(e);
            WriteJsonError(args, console, message);
            return 1;
        }
    }

    /// <summary>With `--json`, stdout is one JSON document even on failure: `{"error": "..."}`.</summary>
    private static void WriteJsonError(IReadOnlyList<string> args, Console console, string message)
    {
        if (args.Contains("--json"))
            console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(new ErrorDocument(message), JsonOutput.Default.ErrorDocument));
    }

    /// <summary>Control characters from hostile names would break the one-line contract.</summary>
    private static string OneLine(string s) => string.Concat(s.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));

    private static string TopHelp()
    {
        var lines = new List<string> { "owl3: the Owl3Native engine for mPLUG-Owl3 models", "", "usage: owl3 <command> [options]   (owl3 <command> --help for details)", "", "commands:" };
        foreach (var c in Commands) lines.Add($"  {c.Name,-12} {c.Summary}");
        return string.Join('\n', lines);
    }
}

/// <summary>A user error that is not about a checkpoint (exit code 1, one line).</summary>
internal sealed class UserErrorException(string message) : Exception(message);
