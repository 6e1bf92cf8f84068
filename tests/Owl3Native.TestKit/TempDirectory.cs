namespace Owl3Native.TestKit;

/// <summary>A fresh folder under the system temp folder, deleted (with everything in it) on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    /// <summary>Creates the folder; <paramref name="prefix"/> makes leftovers recognisable.</summary>
    public TempDirectory(string prefix = "owl3-test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    /// <summary>Full path of the folder.</summary>
    public string Path { get; }

    /// <summary>The full path of <paramref name="relative"/> inside the folder (nothing is created).</summary>
    public string File(string relative) => System.IO.Path.Combine(Path, relative);

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="relative"/> and returns its full path.</summary>
    public string Write(string relative, byte[] bytes)
    {
        string path = File(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Writes <paramref name="text"/> (UTF-8) to <paramref name="relative"/> and returns its full path.</summary>
    public string Write(string relative, string text)
    {
        string path = File(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Deletes the folder; a failure to delete (a file still mapped elsewhere) is not the test's concern.</summary>
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
