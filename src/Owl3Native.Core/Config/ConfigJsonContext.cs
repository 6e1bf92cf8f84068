using System.Text.Json.Serialization;

namespace Owl3Native.Core.Config;

/// <summary>Source-generated JSON metadata (trim- and AOT-safe: the GPU check bundle is a trimmed publish).</summary>
[JsonSourceGenerationOptions(ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow, AllowTrailingCommas = false,
    NumberHandling = JsonNumberHandling.Strict, WriteIndented = true, AllowDuplicateProperties = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Owl3Config))]
[JsonSerializable(typeof(GenerationConfig))]
internal sealed partial class ConfigJsonContext : JsonSerializerContext;
