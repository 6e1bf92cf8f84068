namespace Owl3Native.Core.Tensors;

/// <summary>Element types Owl3Native reads from and writes to safetensors files.</summary>
public enum DType
{
    /// <summary>bfloat16: 1 sign, 8 exponent, 7 mantissa bits (2 bytes); the dtype the mPLUG-Owl3 checkpoints store their weights in.</summary>
    BF16,
    /// <summary>IEEE 754 half precision (2 bytes); F16 weights are widened to F32 when loaded.</summary>
    F16,
    /// <summary>IEEE 754 single precision (4 bytes).</summary>
    F32,
    /// <summary>IEEE 754 double precision (8 bytes).</summary>
    F64,
    /// <summary>Signed 64-bit integer (8 bytes).</summary>
    I64,
    /// <summary>Signed 32-bit integer (4 bytes).</summary>
    I32,
    /// <summary>Signed 16-bit integer (2 bytes).</summary>
    I16,
    /// <summary>Signed 8-bit integer (1 byte).</summary>
    I8,
    /// <summary>Unsigned 8-bit integer (1 byte).</summary>
    U8,
    /// <summary>Boolean, one byte per element (0 or 1); spelled <c>BOOL</c> in safetensors headers.</summary>
    Bool,
}

/// <summary>Sizes and safetensors spellings of <see cref="DType"/>.</summary>
public static class DTypeInfo
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this DType dtype) => dtype switch
    {
        DType.BF16 or DType.F16 or DType.I16 => 2,
        DType.F32 or DType.I32 => 4,
        DType.F64 or DType.I64 => 8,
        DType.I8 or DType.U8 or DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>The dtype string used in safetensors headers (`BF16`, `BOOL`, ...).</summary>
    public static string SafeTensorsName(this DType dtype) => dtype == DType.Bool ? "BOOL" : dtype.ToString();

    /// <summary>True for the floating-point types a weight may be stored in.</summary>
    public static bool IsFloat(this DType dtype) => dtype is DType.BF16 or DType.F16 or DType.F32 or DType.F64;

    /// <summary>Every dtype we support, as spelled in headers, for error messages.</summary>
    public static string SupportedList { get; } = string.Join(", ", Enum.GetValues<DType>().Select(d => d.SafeTensorsName()));

    /// <summary>Parses a safetensors dtype string; false for strings that are not a supported dtype.</summary>
    public static bool TryParseSafeTensors(string name, out DType dtype)
    {
        switch (name)
        {
            case "BF16": dtype = DType.BF16; return true;
            case "F16": dtype = DType.F16; return true;
            case "F32": dtype = DType.F32; return true;
            case "F64": dtype = DType.F64; return true;
            case "I64": dtype = DType.I64; return true;
            case "I32": dtype = DType.I32; return true;
            case "I16": dtype = DType.I16; return true;
            case "I8": dtype = DType.I8; return true;
            case "U8": dtype = DType.U8; return true;
            case "BOOL": dtype = DType.Bool; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>
    /// Dtypes that the safetensors format defines but Owl3Native does not read
    /// (so a file using them is valid, yet unsupported rather than unknown).
    /// </summary>
    public static bool IsValidSafeTensorsButUnsupported(string name) => name is
        "U16" or "U32" or "U64" or "F8_E4M3" or "F8_E5M2" or "F8_E8M0" or "F6_E2M3" or "F6_E3M2" or "F4" or "C64";
}
