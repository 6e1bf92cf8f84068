using System.IO.MemoryMappedFiles;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.SafeTensors;

/// <summary>
/// One safetensors file, validated and memory-mapped read-only. Tensor data is never copied:
/// <see cref="Get"/> returns views into the mapping. 64-bit offsets throughout (7B files are 16 GB).
/// </summary>
public sealed unsafe class SafeTensorFile : ITensorSource, IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly Dictionary<string, TensorInfo> _byName;
    private readonly long _dataStart;
    private byte* _base;
    private int _disposed;

    private SafeTensorFile(string path, FileStream stream, long dataStart, SafeTensorsHeader header)
    {
        Path = path;
        FileLength = stream.Length;
        _dataStart = dataStart;
        Header = header;
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        try
        {
            // Map the very file that was validated (not the path again: it may have been replaced meanwhile).
            _map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _base = p + _view.PointerOffset;
        }
        catch
        {
            _view?.Dispose();
            _map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Full path of the file.</summary>
    public string Path { get; }

    /// <summary>Size of the file in bytes.</summary>
    public long FileLength { get; }

    /// <summary>The validated header.</summary>
    public SafeTensorsHeader Header { get; }

    /// <inheritdoc/>
    public IReadOnlyCollection<string> Names => _byName.Keys;

    /// <summary>`__metadata__` of the header.</summary>
    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;

    internal byte* BasePointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            return _base;
        }
    }

    /// <summary>Opens, validates and maps <paramref name="path"/>.</summary>
    /// <exception cref="CheckpointNotFoundException">The file does not exist.</exception>
    /// <exception cref="SafeTensorsFormatException">The file is not a well-formed safetensors file.</exception>
    public static SafeTensorFile Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path))
            throw new CheckpointNotFoundException(path, "file not found");
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        try
        {
            long length = stream.Length;
            Span<byte> first8 = stackalloc byte[8];
            int got = length >= 8 ? RandomAccess.Read(stream.SafeFileHandle, first8, 0) : 0;
            long n = SafeTensorsHeader.ValidateHeaderLength(path, first8[..got], length);
            var json = new byte[n];
            ReadExactly(stream.SafeFileHandle, json, 8);
            var header = SafeTensorsHeader.Parse(path, json, length - 8 - n);
            return new SafeTensorFile(path, stream, 8 + n, header);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private static void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        while (buffer.Length > 0)
        {
            int n = RandomAccess.Read(handle, buffer, offset);
            if (n == 0) throw new EndOfStreamException();
            buffer = buffer[n..];
            offset += n;
        }
    }

    /// <inheritdoc/>
    public bool TryGetInfo(string name, out TensorInfo info) => _byName.TryGetValue(name, out info!);

    /// <inheritdoc/>
    public string FileOf(string name) => Path;

    /// <inheritdoc/>
    public TensorView Get(string name)
    {
        if (!_byName.TryGetValue(name, out var info))
            throw new KeyNotFoundException($"{Path}: no tensor named `{name}`");
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return new TensorView(this, info, _dataStart + info.DataBegin);
    }

    /// <summary>
    /// Unmaps the file. Idempotent. Views taken from it throw on their next access, but spans and pointers already
    /// obtained from a view must not outlive the file: whoever owns the file (the checkpoint) outlives every user.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _base = null;
        _view?.SafeMemoryMappedViewHandle.ReleasePointer();
        _view?.Dispose();
        _map?.Dispose();
    }
}
