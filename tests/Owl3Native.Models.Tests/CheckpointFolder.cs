using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models.Tests;

/// <summary>Copies a checkpoint folder and rewrites its weights with edits, to build broken folders.</summary>
internal static class CheckpointFolder
{
    public static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from))
        {
            string name = Path.GetFileName(f);
            if (name.StartsWith("golden", StringComparison.Ordinal)) continue;
            File.Copy(f, Path.Combine(to, name), overwrite: true);
            File.SetAttributes(Path.Combine(to, name), FileAttributes.Normal);
        }
    }

    /// <summary>Rewrites model.safetensors: drop tensors, replace some, add others.</summary>
    public static void RewriteWeights(string dir, Func<string, bool>? keep = null,
        IReadOnlyDictionary<string, (DType DType, Shape Shape)>? replace = null,
        IReadOnlyDictionary<string, (DType DType, Shape Shape)>? add = null)
    {
        string path = Path.Combine(dir, "model.safetensors");
        var writer = new SafeTensorWriter();
        using (var file = SafeTensorFile.Open(path))
        {
            foreach (var name in file.Names.Order(StringComparer.Ordinal))
            {
                if (keep is not null && !keep(name)) continue;
                if (replace is not null && replace.TryGetValue(name, out var r))
                    writer.Add(name, r.DType, r.Shape, new byte[r.Shape.ElementCount * r.DType.SizeOf()]);
                else
                    writer.Add(name, file.Get(name).DType, file.Get(name).Shape, file.Get(name).Bytes.ToArray());
            }
        }
        foreach (var (name, (dtype, shape)) in add ?? new Dictionary<string, (DType, Shape)>())
            writer.Add(name, dtype, shape, new byte[shape.ElementCount * dtype.SizeOf()]);
        writer.WriteTo(path);
    }

    public static void EditConfig(string dir, Action<System.Text.Json.Nodes.JsonObject> edit)
    {
        string path = Path.Combine(dir, "config.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }
}
