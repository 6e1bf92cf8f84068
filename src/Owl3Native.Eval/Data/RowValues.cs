using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Owl3Native.Eval.Data;

/// <summary>Conversions between source values (JSON, parquet) and the normalised values of <see cref="DataRow"/>.</summary>
internal static class RowValues
{
    /// <summary>A JSON element as a normalised value.</summary>
    public static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long l) ? (object)l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.Object => FromJsonObject(e),
        _ => null,
    };

    public static Dictionary<string, object?> FromJsonObject(JsonElement e)
    {
        var d = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject()) d[p.Name] = FromJson(p.Value);
        return d;
    }

    /// <summary>A value from Parquet.Net's untyped deserialiser as a normalised value.</summary>
    public static object? FromParquet(object? v) => v switch
    {
        null => null,
        string s => s,
        ReadOnlyMemory<char> m => m.ToString(),
        byte[] b => b,
        bool b => b,
        sbyte or byte or short or ushort or int or uint or long => Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture),
        ulong u => u <= long.MaxValue ? (long)u : (double)u,
        float f => (double)f,
        double d => d,
        decimal m => (double)m,
        DateTime t => t.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        DateTimeOffset t => t.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        IDictionary d => FromParquetMap(d),
        IEnumerable e => e.Cast<object?>().Select(FromParquet).ToList(),
        _ => v.ToString(),
    };

    private static Dictionary<string, object?> FromParquetMap(IDictionary d)
    {
        var r = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (DictionaryEntry kv in d) r[kv.Key.ToString()!] = FromParquet(kv.Value);
        return r;
    }

    /// <summary>A normalised value as JSON; binary values (and object members holding them) are left out.</summary>
    public static JsonNode? ToJson(object? v) => v switch
    {
        null => null,
        string s => JsonValue.Create(s),
        long l => JsonValue.Create(l),
        double d => double.IsFinite(d) ? JsonValue.Create(d) : JsonValue.Create(PyText.Repr(d)),
        bool b => JsonValue.Create(b),
        IReadOnlyDictionary<string, object?> m => ToJsonObject(m),
        IReadOnlyList<object?> list => new JsonArray(list.Where(x => x is not (byte[] or LazyBytes)).Select(ToJson).ToArray()),
        _ => JsonValue.Create(v.ToString()),
    };

    private static JsonObject ToJsonObject(IReadOnlyDictionary<string, object?> m)
    {
        var o = new JsonObject();
        foreach (var (k, x) in m)
            if (x is not (byte[] or LazyBytes)) o[k] = ToJson(x);
        return o;
    }
}
