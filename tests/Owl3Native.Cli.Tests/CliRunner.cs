namespace Owl3Native.Cli.Tests;

internal sealed record CliResult(int ExitCode, string Out, string Error);

internal static class CliRunner
{
    public static CliResult Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = Program.Run(args, new Console(o, e));
        return new CliResult(rc, o.ToString(), e.ToString());
    }
}
