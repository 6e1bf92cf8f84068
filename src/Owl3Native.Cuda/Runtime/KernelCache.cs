using System.Security.Cryptography;
using System.Text;
using Owl3Native.Cuda.Kernels;

namespace Owl3Native.Cuda.Runtime;

/// <summary>
/// Compiles each kernel file once per device architecture and caches the CUBIN on disk, keyed by
/// hash(source + headers + options + arch + NVRTC version); loads modules lazily.
/// </summary>
public sealed class KernelCache : IDisposable
{
    private readonly CudaContext _context;
    private readonly string _directory;
    private readonly Dictionary<string, CudaModule> _modules = [];

    /// <summary>A cache for <paramref name="context"/>'s device; nothing is compiled until <see cref="Get"/>.</summary>
    /// <param name="context">The device the kernels are compiled for and loaded into.</param>
    /// <param name="directory">Where CUBINs are stored; null = <c>$XDG_CACHE_HOME/owl3/kernels</c>, or <c>~/.cache/owl3/kernels</c> when XDG_CACHE_HOME is unset or empty. Created on first write.</param>
    public KernelCache(CudaContext context, string? directory = null)
    {
        _context = context;
        _directory = directory ?? Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "owl3", "kernels");
    }

    /// <summary>The device the kernels are compiled for.</summary>
    public CudaContext Context => _context;

    /// <summary>The function <paramref name="kernel"/> of kernels/<paramref name="file"/>, compiled for this device.</summary>
    /// <exception cref="NotSupportedException">An architecture-specific file this device or this NVRTC cannot run (<see cref="Unavailable"/>).</exception>
    public CudaFunction Get(string file, string kernel)
    {
        lock (_modules)
        {
            if (!_modules.TryGetValue(file, out var module))
            {
                var source = KernelSources.File(file);
                if (Unavailable(file) is { } why) throw new NotSupportedException(why);
                _modules[file] = module = new CudaModule(_context, Cubin(source, source.Target?.Arch ?? _context.Arch));
            }
            return module.Function(kernel);
        }
    }

    /// <summary>
    /// Why kernels/<paramref name="file"/> cannot be compiled for this device (its target needs another architecture or
    /// a newer NVRTC, or <see cref="DisableVariable"/> = 1 turns architecture-specific files off), or null.
    /// </summary>
    public string? Unavailable(string file)
    {
        if (KernelSources.File(file).Target is not { } target) return null;
        if (Environment.GetEnvironmentVariable(DisableVariable) == "1") return $"{file}: architecture-specific kernels are off ({DisableVariable}=1)";
        return target.Unavailable(file, _context.Arch, KernelCompiler.NvrtcVersion());
    }

    /// <summary>Set to 1, the architecture-specific kernel files (`// arch:` lines, e.g. sm_90a) are never loaded: their callers take the portable kernels.</summary>
    public const string DisableVariable = "OWL3_NO_ARCH_KERNELS";

    /// <summary>The cache key of a file for an architecture.</summary>
    public static string Key(KernelFile file, string arch)
    {
        var text = new StringBuilder(file.Source);
        foreach (var (name, source) in KernelSources.Headers) text.Append('\0').Append(name).Append('\0').Append(source);
        text.Append('\0').AppendJoin(' ', KernelCompiler.Options(arch)).Append('\0').Append(arch).Append('\0').Append(KernelCompiler.NvrtcVersion()?.ToString());
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..32].ToLowerInvariant();
    }

    /// <summary>
    /// Compiles (or finds on disk) the CUBINs of <paramref name="files"/> for this device, several at a time, and loads
    /// their modules, so that a server's first request pays no NVRTC compile. Files this device or NVRTC cannot take
    /// (<see cref="Unavailable"/>) are skipped; their callers take the portable kernels.
    /// </summary>
    /// <exception cref="KernelCompileException">A file does not compile.</exception>
    public void Warm(IEnumerable<string> files, int parallelism = 0)
    {
        string[] todo;
        lock (_modules) todo = [.. files.Distinct().Where(f => !_modules.ContainsKey(f) && Unavailable(f) is null)];
        var cubins = new byte[todo.Length][];
        try
        {
            Parallel.For(0, todo.Length, new ParallelOptions { MaxDegreeOfParallelism = parallelism > 0 ? parallelism : Environment.ProcessorCount }, i =>
            {
                var source = KernelSources.File(todo[i]);
                cubins[i] = Cubin(_directory, source, source.Target?.Arch ?? _context.Arch);
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw(); // the compile error itself
        }
        lock (_modules)
            for (int i = 0; i < todo.Length; i++)
                if (!_modules.ContainsKey(todo[i])) _modules[todo[i]] = new CudaModule(_context, cubins[i]);
    }

    private byte[] Cubin(KernelFile file, string arch) => Cubin(_directory, file, arch);

    /// <summary>
    /// The CUBIN of <paramref name="file"/> for <paramref name="arch"/> from <paramref name="directory"/>, compiled and
    /// stored there first when missing (atomically: concurrent compiles of one file by several processes are safe).
    /// </summary>
    internal static byte[] Cubin(string directory, KernelFile file, string arch)
    {
        string path = Path.Combine(directory, $"{Path.GetFileNameWithoutExtension(file.Name)}-{arch}-{Key(file, arch)}.cubin");
        if (File.Exists(path)) return File.ReadAllBytes(path);
        var compiled = KernelCompiler.Compile(file, arch);
        Directory.CreateDirectory(directory);
        string tmp = path + $".{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp";
        File.WriteAllBytes(tmp, compiled.Cubin);
        File.Move(tmp, path, overwrite: true); // atomic: concurrent processes never see half a file
        return compiled.Cubin;
    }

    /// <summary>Unloads every module loaded so far; the CUBIN files on disk stay. <see cref="CudaFunction"/>s obtained from this cache must not be launched afterwards.</summary>
    public void Dispose()
    {
        lock (_modules)
        {
            foreach (var m in _modules.Values) m.Dispose();
            _modules.Clear();
        }
    }
}
