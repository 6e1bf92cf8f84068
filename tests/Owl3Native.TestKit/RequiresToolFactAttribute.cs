using Xunit;

namespace Owl3Native.TestKit;

/// <summary>
/// A fact that needs a command-line tool (ffmpeg, chromium): skipped — with the reason printed — where the tool is not
/// on PATH (scripts/test.sh installs them when run as root), never silently passed.
/// </summary>
public sealed class RequiresToolFactAttribute : FactAttribute
{
    public RequiresToolFactAttribute(string tool)
    {
        bool found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(d => File.Exists(Path.Combine(d, tool)));
        if (!found) Skip = $"{tool} is not installed (apt-get install {tool}; scripts/test.sh does this as root)";
    }
}
