namespace Owl3Native.TestKit;

/// <summary>
/// Locates the read-only `shared/` folder (golden outputs, tokenizer files, specs) that sits beside the repository:
/// `$OWL3_SHARED` when set, otherwise the first `shared/` with a `golden/` folder found walking up from the test binaries
/// (which finds both `&lt;repo&gt;/shared` and `&lt;repo&gt;/../shared`). A missing folder fails the test: goldens are required.
/// </summary>
public static class SharedData
{
    /// <summary>Name of the environment variable that overrides the search.</summary>
    public const string EnvironmentVariable = "OWL3_SHARED";

    private static readonly Lazy<string> s_root = new(Locate);

    /// <summary>Full path of the shared folder.</summary>
    /// <exception cref="DirectoryNotFoundException">No shared folder was found.</exception>
    public static string Root => s_root.Value;

    /// <summary>Full path of `shared/golden/<paramref name="name"/>` (`tiny-a`, `tiny-c`, `processor`).</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public static string Golden(string name)
    {
        string path = Path.Combine(Root, "golden", name);
        if (!Directory.Exists(path))
            throw new DirectoryNotFoundException($"golden folder `{name}` not found: {path} does not exist (shared folder: {Root})");
        return path;
    }

    private static string Locate()
    {
        string? fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnv))
        {
            string full = Path.GetFullPath(fromEnv);
            if (!Directory.Exists(Path.Combine(full, "golden")))
                throw new DirectoryNotFoundException($"${EnvironmentVariable} is `{fromEnv}`, but {Path.Combine(full, "golden")} does not exist");
            return full;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(Path.Combine(candidate, "golden")))
                return candidate;
        }
        throw new DirectoryNotFoundException(
            $"shared data folder not found: no `shared/golden` in any folder above {AppContext.BaseDirectory}. " +
            $"Check out the shared folder beside the repository (<repo>/../shared) or set ${EnvironmentVariable} to its path.");
    }
}
