namespace Owl3Native.Cli;

/// <summary>One `owl3` sub-command: its help text, its options, and what it does.</summary>
internal abstract class Command
{
    public abstract string Name { get; }
    public abstract string Usage { get; }
    public abstract string Summary { get; }
    public virtual string? Details => null;
    public abstract IReadOnlyList<OptionSpec> Options { get; }

    /// <summary>Runs the command; returns the exit code (0 ok, 1 user error).</summary>
    public abstract int Run(ParsedArgs args, Console console);

    public string Help()
    {
        var lines = new List<string> { $"usage: owl3 {Usage}", "", Summary };
        if (Details is not null) { lines.Add(""); lines.Add(Details); }
        lines.Add("");
        lines.Add("options:");
        foreach (var o in Options.Concat(Program.GlobalOptions))
        {
            string left = o.TakesValue ? $"--{o.Name} {o.ValueName ?? "VALUE"}" : $"--{o.Name}";
            lines.Add($"  {left,-28} {o.Help}");
        }
        return string.Join('\n', lines);
    }
}

/// <summary>stdout/stderr seen by commands (swappable in tests).</summary>
internal sealed class Console(TextWriter @out, TextWriter error)
{
    public TextWriter Out { get; } = @out;
    public TextWriter Error { get; } = error;
}
