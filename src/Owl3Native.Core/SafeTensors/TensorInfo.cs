using Owl3Native.Core.Tensors;

namespace Owl3Native.Core.SafeTensors;

/// <summary>One header entry: name, dtype, shape, and its byte range relative to the start of the data region.</summary>
public sealed record TensorInfo(string Name, DType DType, Shape Shape, long DataBegin, long DataEnd)
{
    /// <summary>Bytes the tensor occupies.</summary>
    public long ByteLength => DataEnd - DataBegin;

    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.ElementCount;
}
