using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Owl3Native.Cuda.Kernels;
using Xunit;

namespace Owl3Native.Cuda.Tests.Abi;

/// <summary>
/// Each params struct of kernels/*.cu and its C# mirror have the same fields in the same order at the same offsets:
/// offsets are recomputed from the C declaration with the natural-alignment rules both compilers use, and the size is
/// also taken from the .cu's own `static_assert(sizeof(...) == N)`, which NVRTC enforces at compile time.
/// </summary>
public sealed partial class ParamsLayoutTests
{
    public static TheoryData<string, Type> Structs => new()
    {
        { "norm.cu", typeof(NormParams) },
        { "activation.cu", typeof(ActivationParams) },
        { "rope.cu", typeof(RopeParams) },
        { "embedding.cu", typeof(EmbeddingParams) },
        { "embedding.cu", typeof(ConvertParams) },
        { "sampling.cu", typeof(ArgmaxParams) },
        { "sampling.cu", typeof(SampleParams) },
        { "decode.cuh", typeof(DecodeParams) },
        { "attention.cuh", typeof(PrefillParams) },
        { "kv_write.cu", typeof(KvWriteParams) },
        { "gemv.cu", typeof(GemvParams) },
        { "hyper.cu", typeof(GateMixParams) },
        { "diagnostics.cu", typeof(DelayParams) },
        { "diagnostics.cu", typeof(ReadParams) },
    };

    [Theory]
    [MemberData(nameof(Structs))]
    public void Csharp_mirror_matches_the_kernel_struct(string file, Type mirror)
    {
        string source = file.EndsWith(".cuh", StringComparison.Ordinal) ? KernelSources.Headers.Single(h => h.Name == file).Source : KernelSources.File(file).Source;
        var body = Regex.Match(source, $@"struct\s+{mirror.Name}\s*\{{(.*?)\}};", RegexOptions.Singleline);
        Assert.True(body.Success, $"{file} declares no struct {mirror.Name}");
        var cFields = new List<(string Name, int Size)>();
        foreach (Match m in FieldLine().Matches(body.Groups[1].Value))
        {
            int size = m.Groups[1].Value.Contains('*') || m.Groups[1].Value.StartsWith("long long", StringComparison.Ordinal) ? 8 : 4;
            foreach (var name in m.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries)) cFields.Add((name, size));
        }
        var csFields = mirror.GetFields().ToArray();
        Assert.Equal(cFields.Count, csFields.Length);
        int offset = 0, align = 1;
        for (int i = 0; i < cFields.Count; i++)
        {
            var (name, size) = cFields[i];
            offset = (offset + size - 1) / size * size;
            align = Math.Max(align, size);
            Assert.Equal(Pascal(name), csFields[i].Name);
            Assert.Equal(offset, (int)Marshal.OffsetOf(mirror, csFields[i].Name));
            Assert.Equal(size, Marshal.SizeOf(csFields[i].FieldType));
            offset += size;
        }
        int cSize = (offset + align - 1) / align * align;
        Assert.Equal(cSize, Marshal.SizeOf(mirror));
        var asserted = Regex.Match(source, $@"static_assert\(sizeof\({mirror.Name}\)\s*==\s*(\d+)");
        Assert.True(asserted.Success, $"{file} has no static_assert on sizeof({mirror.Name})");
        Assert.Equal(cSize, int.Parse(asserted.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string Pascal(string snake) => string.Concat(snake.Split('_').Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    // "const bf16* x;", "int rows;", "long long count;", "float eps;"  (comments after the semicolon are ignored)
    [GeneratedRegex(@"^\s*((?:const\s+)?(?:unsigned long long\*|long long|int|float|unsigned int|void\*|[\w]+\*)(?:\s*\*)?)\s+([\w\s,]+?);", RegexOptions.Multiline)]
    private static partial Regex FieldLine();
}

/// <summary>The driver structs passed by pointer to cuLaunchKernelEx have cuda.h's x86-64 layout.</summary>
public sealed class LaunchConfigLayoutTests
{
    [Fact]
    public void Launch_config_and_attribute_match_cuda_h()
    {
        // CUlaunchConfig: seven unsigned ints, CUstream at 32, CUlaunchAttribute* at 40, unsigned numAttrs at 48; 56 bytes.
        Assert.Equal(56, Marshal.SizeOf<Owl3Native.Cuda.Interop.CUlaunchConfig>());
        Assert.Equal(24, (int)Marshal.OffsetOf<Owl3Native.Cuda.Interop.CUlaunchConfig>(nameof(Owl3Native.Cuda.Interop.CUlaunchConfig.SharedMemBytes)));
        Assert.Equal(32, (int)Marshal.OffsetOf<Owl3Native.Cuda.Interop.CUlaunchConfig>(nameof(Owl3Native.Cuda.Interop.CUlaunchConfig.HStream)));
        Assert.Equal(40, (int)Marshal.OffsetOf<Owl3Native.Cuda.Interop.CUlaunchConfig>(nameof(Owl3Native.Cuda.Interop.CUlaunchConfig.Attrs)));
        Assert.Equal(48, (int)Marshal.OffsetOf<Owl3Native.Cuda.Interop.CUlaunchConfig>(nameof(Owl3Native.Cuda.Interop.CUlaunchConfig.NumAttrs)));
        // CUlaunchAttribute: the id, 4 bytes of padding, a 64-byte value union.
        Assert.Equal(72, Marshal.SizeOf<Owl3Native.Cuda.Interop.CUlaunchAttribute>());
        Assert.Equal(8, (int)Marshal.OffsetOf<Owl3Native.Cuda.Interop.CUlaunchAttribute>(nameof(Owl3Native.Cuda.Interop.CUlaunchAttribute.Value)));
    }
}

/// <summary>cuBLASLt's heuristic result, filled by cublasLtMatmulAlgoGetHeuristic, has cublasLt.h's x86-64 layout.</summary>
public sealed class CublasLtLayoutTests
{
    [Fact]
    public void Heuristic_result_matches_cublasLt_h()
    {
        // cublasLtMatmulAlgo_t (uint64_t data[8]) first — its address is the algorithm cublasLtMatmul takes —, then
        // size_t workspaceSize, cublasStatus_t state, float wavesCount, int reserved[4]: 96 bytes.
        Assert.Equal(96, Marshal.SizeOf<Owl3Native.Cuda.Interop.HeuristicResult>());
        Assert.Equal(64, (int)Marshal.OffsetOf<Owl3Native.Cuda.Interop.HeuristicResult>(nameof(Owl3Native.Cuda.Interop.HeuristicResult.WorkspaceSize)));
        Assert.Equal(72, (int)Marshal.OffsetOf<Owl3Native.Cuda.Interop.HeuristicResult>(nameof(Owl3Native.Cuda.Interop.HeuristicResult.State)));
        Assert.Equal(76, (int)Marshal.OffsetOf<Owl3Native.Cuda.Interop.HeuristicResult>(nameof(Owl3Native.Cuda.Interop.HeuristicResult.WavesCount)));
    }
}
