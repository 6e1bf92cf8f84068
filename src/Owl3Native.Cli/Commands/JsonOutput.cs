using System.Text.Json;
using System.Text.Json.Serialization;
using Owl3Native.Models.Checkpoints;

namespace Owl3Native.Cli.Commands;

/// <summary>`--json` documents: snake_case keys, source-generated (the CLI is published trimmed).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, UseStringEnumConverter = true)]
[JsonSerializable(typeof(CheckpointSummary))]
[JsonSerializable(typeof(MakeTinyResult))]
[JsonSerializable(typeof(DoctorReport))]
[JsonSerializable(typeof(ErrorDocument))]
[JsonSerializable(typeof(VerifyReport))]
[JsonSerializable(typeof(GenerateResult))]
[JsonSerializable(typeof(PreprocessResult))]
[JsonSerializable(typeof(IReadOnlyList<Owl3Native.Cuda.Kernels.KernelCheckRow>))]
[JsonSerializable(typeof(Owl3Native.Diagnostics.BenchResult))]
internal sealed partial class JsonOutput : JsonSerializerContext
{
    public static void Write<T>(Console console, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) =>
        console.Out.WriteLine(JsonSerializer.Serialize(value, info));
}

internal sealed record MakeTinyResult(string Directory, string Variant, string Shape, ulong Seed, int Shards, IReadOnlyList<string> Files, long Bytes);

internal sealed record ErrorDocument(string Error);
