namespace Owl3Native.Cli.Commands;

/// <summary>A command of the contract whose stage is not built yet: exits 1 and says which issue brings it.</summary>
internal sealed class NotBuiltCommand(string name, string usage, string summary, string arrivesWith) : Command
{
    public override string Name => name;
    public override string Usage => $"{name} {usage}";
    public override string Summary => $"{summary} (not built yet: arrives with {arrivesWith})";
    public override IReadOnlyList<OptionSpec> Options => [];

    public override int Run(ParsedArgs args, Console console) => Refuse(console);

    /// <summary>Any arguments are accepted; the answer is always the same.</summary>
    public int Refuse(Console console)
    {
        console.Error.WriteLine($"error: `owl3 {name}` is not built yet: it arrives with {arrivesWith}");
        return 1;
    }
}
