using Owl3Native.Processing;

namespace Owl3Native.Eval.Data;

/// <summary>
/// One image of a record: a file (VQA sets, MMBench JSONL, MM-Vet, Interleave, HF folders holding files) or encoded
/// bytes embedded in the data (HF parquet image columns, MMBench TSV base64). Bytes are kept encoded; the engine's image
/// loader decodes them when the record is run.
/// </summary>
public sealed class EvalImage
{
    private readonly Func<byte[]>? _bytes;

    private EvalImage(string name, string? path, Func<byte[]>? bytes)
    {
        Name = name;
        Path = path;
        _bytes = bytes;
    }

    /// <summary>An image file at <paramref name="path"/>.</summary>
    public static EvalImage File(string path) => new(path, path, null);

    /// <summary>Encoded image bytes; <paramref name="name"/> says where they came from (`file.parquet#row 3, image`).</summary>
    public static EvalImage Embedded(byte[] data, string name)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new(name, null, () => data);
    }

    /// <summary>Encoded image bytes read on demand by <paramref name="load"/>.</summary>
    public static EvalImage Embedded(Func<byte[]> load, string name) => new(name, null, load);

    /// <summary>The file path, or a description of where embedded bytes came from.</summary>
    public string Name { get; }

    /// <summary>The file path; null for embedded bytes.</summary>
    public string? Path { get; }

    /// <summary>True when the image is embedded bytes rather than a file.</summary>
    public bool IsEmbedded => _bytes is not null;

    /// <summary>The encoded bytes (read from the file for a file image).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public byte[] ReadBytes()
    {
        if (_bytes is not null) return _bytes();
        if (!System.IO.File.Exists(Path)) throw new FileNotFoundException($"image file not found: {Path}", Path);
        return System.IO.File.ReadAllBytes(Path!);
    }

    /// <summary>
    /// The engine's media source for this image. A missing file fails here, loudly (the original retried 10 times and
    /// then passed a null image on silently, spec/EVAL.md §1.3 step 1).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public MediaSource ToMediaSource()
    {
        if (_bytes is not null) return MediaSource.ImageBytes(_bytes(), Name);
        if (!System.IO.File.Exists(Path)) throw new FileNotFoundException($"image file not found: {Path}", Path);
        return MediaSource.ImageFile(Path!);
    }

    /// <inheritdoc/>
    public override string ToString() => IsEmbedded ? $"<embedded {Name}>" : Name;
}

/// <summary>A clip of a video in seconds (MVBench `start`/`end`, LongVideoBench `[0, duration]`).</summary>
/// <param name="Start">Start time in seconds.</param>
/// <param name="End">End time in seconds.</param>
public readonly record struct VideoBound(double Start, double End)
{
    /// <summary>
    /// True when the sampler uses the clip (segment mode): both ends truthy, i.e. non-zero, as the original's
    /// `if bound[0] and bound[1]` (a start of 0 falls through to whole-video sampling, spec/EVAL.md §3.3 step 1).
    /// </summary>
    public bool IsSegment => Start != 0 && End != 0;
}

/// <summary>
/// One video of a record: a file decoded to <paramref name="NumFrames"/> frames, or (MVBench Episodic Reasoning) a folder
/// of numbered frame images `{i:05d}.jpg` recorded at <paramref name="FrameFolderFps"/> frames per second.
/// </summary>
/// <param name="Path">The video file or frame folder.</param>
/// <param name="NumFrames">Frames to sample.</param>
/// <param name="Bound">The clip, when the dataset gives one.</param>
/// <param name="FrameFolderFps">Frame rate of a frame folder; null for a video file.</param>
public sealed record EvalVideo(string Path, int NumFrames, VideoBound? Bound = null, double? FrameFolderFps = null)
{
    /// <summary>True for a folder of frame images (its frames are passed as images, §4.15).</summary>
    public bool IsFrameFolder => FrameFolderFps is not null;
}
