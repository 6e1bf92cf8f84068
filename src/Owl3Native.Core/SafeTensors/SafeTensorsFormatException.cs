namespace Owl3Native.Core.SafeTensors;

/// <summary>What is wrong with a safetensors file; each value has its own message.</summary>
public enum SafeTensorsError
{
    /// <summary>Zero bytes.</summary>
    EmptyFile,
    /// <summary>Fewer than the 8 bytes of the header length.</summary>
    TruncatedHeaderLength,
    /// <summary>Header length zero or above the format's 100 MB limit.</summary>
    HeaderLengthOutOfBounds,
    /// <summary>Header length larger than what follows it in the file.</summary>
    HeaderLengthExceedsFile,
    /// <summary>Header bytes are not UTF-8.</summary>
    InvalidUtf8,
    /// <summary>Header is not a JSON object of the expected form.</summary>
    InvalidJson,
    /// <summary>A tensor name appears twice.</summary>
    DuplicateTensor,
    /// <summary>A tensor entry lacks a field or has one of the wrong type.</summary>
    InvalidTensorEntry,
    /// <summary>A dtype string that the format does not define.</summary>
    UnknownDType,
    /// <summary>A dtype the format defines but Owl3Native does not read.</summary>
    UnsupportedDType,
    /// <summary>`data_offsets` reversed or beyond the end of the file.</summary>
    OffsetsOutOfFile,
    /// <summary>shape × dtype size differs from the byte span of `data_offsets`.</summary>
    SizeMismatch,
    /// <summary>Two tensors share bytes.</summary>
    OverlappingTensors,
    /// <summary>Bytes of the data region belong to no tensor (a hole, or trailing bytes).</summary>
    UnreferencedBytes,
    /// <summary>`__metadata__` is not an object of strings.</summary>
    InvalidMetadata,
    /// <summary>A sharded checkpoint's index is inconsistent with its shards.</summary>
    InvalidIndex,
}

/// <summary>A safetensors file (or shard index) is malformed; <see cref="Reason"/> says how.</summary>
public class SafeTensorsFormatException : CheckpointException
{
    /// <summary>Creates the exception.</summary>
    public SafeTensorsFormatException(string path, SafeTensorsError reason, string message, string? tensorName = null, Exception? inner = null)
        : base(path, message, inner)
    {
        Reason = reason;
        TensorName = tensorName;
    }

    /// <summary>What is wrong.</summary>
    public SafeTensorsError Reason { get; }

    /// <summary>The tensor at fault, when there is one.</summary>
    public string? TensorName { get; }
}

/// <summary>A tensor uses a dtype that safetensors defines but Owl3Native does not support.</summary>
public sealed class UnsupportedDTypeException(string path, string tensorName, string dtype)
    : SafeTensorsFormatException(path, SafeTensorsError.UnsupportedDType,
        $"tensor `{tensorName}` has dtype {dtype}, which is valid safetensors but not supported (supported: {Tensors.DTypeInfo.SupportedList})",
        tensorName)
{
    /// <summary>The dtype string from the header.</summary>
    public string DTypeName { get; } = dtype;
}
