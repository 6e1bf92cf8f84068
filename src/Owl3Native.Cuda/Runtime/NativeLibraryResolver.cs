using System.Runtime.InteropServices;

namespace Owl3Native.Cuda.Runtime;

/// <summary>The native CUDA libraries Owl3Native loads.</summary>
public enum CudaLibrary
{
    /// <summary>The driver API, `libcuda.so.1` (installed with the NVIDIA driver).</summary>
    Driver,
    /// <summary>NVRTC, the runtime compiler (`libnvrtc.so.13/.12/.11.2`).</summary>
    Nvrtc,
    /// <summary>cuBLAS.</summary>
    Cublas,
    /// <summary>cuBLASLt.</summary>
    CublasLt,
}

/// <summary>Result of looking for one library: where it was found, and everything that was tried.</summary>
public sealed record LibraryProbe(CudaLibrary Library, string? LoadedFrom, IReadOnlyList<string> Tried)
{
    /// <summary>True when a candidate loaded.</summary>
    public bool Found => LoadedFrom is not null;
}

/// <summary>
/// The one place library names are resolved: sonames of CUDA 13 / 12 / 11.x, newest first, then the same names in
/// `CUDA_PATH`, `/usr/local/cuda*/lib64`, every `LD_LIBRARY_PATH` entry and the `nvidia/*/lib` folders of Python
/// wheels. Handles are cached: each library is probed once per process.
/// </summary>
public static class NativeLibraryResolver
{
    private static readonly Dictionary<CudaLibrary, (IntPtr Handle, LibraryProbe Probe)> Cache = [];
    private static readonly Lock Gate = new();

    /// <summary>The sonames tried for a library, newest first.</summary>
    public static IReadOnlyList<string> Sonames(CudaLibrary library) => library switch
    {
        CudaLibrary.Driver => ["libcuda.so.1", "libcuda.so"],
        CudaLibrary.Nvrtc => ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
        CudaLibrary.Cublas => ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"],
        _ => ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11", "libcublasLt.so"],
    };

    /// <summary>Folders searched after the loader's own search path.</summary>
    public static IReadOnlyList<string> SearchFolders()
    {
        var dirs = new List<string>();
        if (Environment.GetEnvironmentVariable("CUDA_PATH") is { Length: > 0 } cudaPath)
            dirs.Add(Path.Combine(cudaPath, "lib64"));
        dirs.AddRange(SafeEnumerate("/usr/local", "cuda*").Order(StringComparer.Ordinal).Reverse().Select(d => Path.Combine(d, "lib64")));
        if (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") is { Length: > 0 } ld)
            dirs.AddRange(ld.Split(':', StringSplitOptions.RemoveEmptyEntries));
        foreach (var root in PythonSitePackages())
        {
            dirs.AddRange(SafeEnumerate(Path.Combine(root, "nvidia"), "*").Select(d => Path.Combine(d, "lib")).Where(Directory.Exists));
        }
        return dirs.Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Subfolders matching a pattern; an unreadable or missing folder yields none (probing must never throw).</summary>
    private static string[] SafeEnumerate(string dir, string pattern)
    {
        try
        {
            return Directory.Exists(dir) ? Directory.GetDirectories(dir, pattern) : [];
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return [];
        }
    }

    private static IEnumerable<string> PythonSitePackages()
    {
        foreach (var prefix in new[] { "/usr/lib", "/usr/local/lib", Environment.GetEnvironmentVariable("VIRTUAL_ENV") is { } venv ? Path.Combine(venv, "lib") : null })
        {
            if (prefix is null) continue;
            foreach (var py in SafeEnumerate(prefix, "python3*"))
                foreach (var sub in new[] { "site-packages", "dist-packages" })
                    if (Directory.Exists(Path.Combine(py, sub))) yield return Path.Combine(py, sub);
        }
    }

    /// <summary>Finds and loads a library (once), returning what was tried.</summary>
    public static LibraryProbe Probe(CudaLibrary library) => Load(library).Probe;

    /// <summary>The loaded handle of a library.</summary>
    /// <exception cref="DllNotFoundException">Not found; the message lists every candidate tried.</exception>
    public static IntPtr Handle(CudaLibrary library)
    {
        var (handle, probe) = Load(library);
        if (handle == IntPtr.Zero)
            throw new DllNotFoundException($"{library} library not found; tried: {string.Join(", ", probe.Tried)}");
        return handle;
    }

    private static (IntPtr Handle, LibraryProbe Probe) Load(CudaLibrary library)
    {
        lock (Gate)
        {
            if (Cache.TryGetValue(library, out var cached)) return cached;
            var tried = new List<string>();
            var candidates = Sonames(library).Concat(SearchFolders().SelectMany(d => Sonames(library).Select(s => Path.Combine(d, s))));
            foreach (var candidate in candidates)
            {
                if (Path.IsPathRooted(candidate) && !File.Exists(candidate)) continue;
                tried.Add(candidate);
                if (NativeLibrary.TryLoad(candidate, out var handle))
                    return Cache[library] = (handle, new LibraryProbe(library, candidate, tried));
            }
            return Cache[library] = (IntPtr.Zero, new LibraryProbe(library, null, tried));
        }
    }
}
