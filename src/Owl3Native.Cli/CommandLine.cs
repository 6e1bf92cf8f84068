namespace Owl3Native.Cli;

/// <summary>A command-line usage error (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>One option a command accepts.</summary>
internal sealed record OptionSpec(string Name, bool TakesValue, string Help, bool Repeatable = false, string? ValueName = null);

/// <summary>
/// Parsed arguments of one command: positionals and `--name value` / `--name=value` / `--flag` options.
/// Unknown options and missing values are usage errors.
/// </summary>
internal sealed class ParsedArgs
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    public List<string> Positionals { get; } = [];

    public static ParsedArgs Parse(IReadOnlyList<string> args, IReadOnlyList<OptionSpec> specs)
    {
        var parsed = new ParsedArgs();
        var byName = specs.ToDictionary(s => s.Name, StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                parsed.Positionals.AddRange(args.Skip(i + 1));
                break;
            }
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
            {
                parsed.Positionals.Add(a);
                continue;
            }
            string name = a[2..];
            string? inline = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
            if (!byName.TryGetValue(name, out var spec))
                throw new UsageException($"unknown option --{name}");
            if (!spec.TakesValue)
            {
                if (inline is not null) throw new UsageException($"--{name} takes no value");
                parsed._flags.Add(name);
                continue;
            }
            string value = inline ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"--{name} needs a value"));
            if (!parsed._values.TryGetValue(name, out var list)) parsed._values[name] = list = [];
            if (list.Count > 0 && !spec.Repeatable) throw new UsageException($"--{name} given more than once");
            list.Add(value);
        }
        return parsed;
    }

    public bool Flag(string name) => _flags.Contains(name);

    public string? Value(string name) => _values.TryGetValue(name, out var v) ? v[^1] : null;

    public IReadOnlyList<string> Values(string name) => _values.TryGetValue(name, out var v) ? v : [];

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        string? s = Value(name);
        if (s is null) return fallback;
        if (!int.TryParse(s, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new UsageException($"--{name} expects an integer in {min}..{max}, got '{s}'");
        return v;
    }

    public ulong ULong(string name, ulong fallback)
    {
        string? s = Value(name);
        if (s is null) return fallback;
        if (!ulong.TryParse(s, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out ulong v))
            throw new UsageException($"--{name} expects a non-negative integer, got '{s}'");
        return v;
    }

    public string Positional(int index, string what) =>
        index < Positionals.Count ? Positionals[index] : throw new UsageException($"missing {what}");

    public void NoMorePositionals(int expected)
    {
        if (Positionals.Count > expected) throw new UsageException($"unexpected argument '{Positionals[expected]}'");
    }
}
