using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Owl3Native.Eval.Data;

/// <summary>One config of a Hugging Face dataset card: its name and, per split, the data-file patterns.</summary>
/// <param name="Name">`config_name` (`default` when absent).</param>
/// <param name="IsDefault">`default: true`.</param>
/// <param name="Splits">Split name → glob patterns relative to the snapshot folder.</param>
public sealed record HfConfig(string Name, bool IsDefault, IReadOnlyDictionary<string, IReadOnlyList<string>> Splits);

/// <summary>
/// A local snapshot of a Hugging Face dataset repository, read like `datasets.load_dataset(folder[, config])[split]`
/// (spec/EVAL.md §3.1): the README.md YAML front matter's `configs[].data_files` say which files make each split; without
/// it, splits are inferred from file and folder names (`test-00000-of-00001.parquet`, `data/test/…`) as the `datasets`
/// library does, and every data file is `train` when no name matches. Data files may be parquet, JSON or JSON Lines.
/// </summary>
public static class HfSnapshot
{
    private static readonly string[] s_dataExtensions = [".parquet", ".json", ".jsonl"];

    private static readonly Dictionary<string, string[]> s_splitKeywords = new(StringComparer.Ordinal)
    {
        ["train"] = ["train", "training"],
        ["validation"] = ["validation", "valid", "dev", "val"],
        ["test"] = ["test", "testing", "eval", "evaluation"],
    };

    /// <summary>The configs of the folder's README.md front matter (empty when there is no README or no `configs`).</summary>
    /// <exception cref="DatasetFormatException">The front matter is not valid YAML or `configs` is malformed.</exception>
    public static IReadOnlyList<HfConfig> ReadConfigs(string folder)
    {
        string readme = Path.Combine(folder, "README.md");
        if (!File.Exists(readme)) return [];
        string? front = FrontMatter(File.ReadAllText(readme, Encoding.UTF8));
        if (front is null) return [];
        var yaml = new YamlStream();
        try
        {
            yaml.Load(new StringReader(front));
        }
        catch (YamlException e)
        {
            throw new DatasetFormatException(readme, $"invalid YAML front matter (line {e.Start.Line + 1}): {e.Message}", e);
        }
        if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlMappingNode root) return [];
        if (!root.Children.TryGetValue(new YamlScalarNode("configs"), out var configsNode)) return [];
        if (configsNode is not YamlSequenceNode configs) throw new DatasetFormatException(readme, "`configs` must be a list");
        var result = new List<HfConfig>();
        foreach (var item in configs)
        {
            if (item is not YamlMappingNode c) throw new DatasetFormatException(readme, $"line {item.Start.Line + 1}: a config must be a mapping");
            string name = Scalar(c, "config_name") ?? "default";
            bool isDefault = Scalar(c, "default") is "true" or "True";
            if (!c.Children.TryGetValue(new YamlScalarNode("data_files"), out var files))
                throw new DatasetFormatException(readme, $"config `{name}` has no data_files");
            result.Add(new HfConfig(name, isDefault, DataFiles(files, readme, name)));
        }
        return result;
    }

    /// <summary>The data files of <paramref name="split"/> in <paramref name="config"/> (null: the snapshot's only or default config), sorted.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="DatasetFormatException">The config or split does not exist, or its patterns match no file.</exception>
    public static IReadOnlyList<string> DataFiles(string folder, string? config, string split)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"dataset folder not found: {folder}");
        var configs = ReadConfigs(folder);
        string readme = Path.Combine(folder, "README.md");
        IReadOnlyList<string> patterns;
        if (configs.Count > 0)
        {
            var chosen = ChooseConfig(configs, config, readme);
            if (!chosen.Splits.TryGetValue(split, out patterns!))
                throw new DatasetFormatException(readme, $"config `{chosen.Name}` has no split `{split}`; splits: {string.Join(", ", chosen.Splits.Keys)}");
            var all = AllFiles(folder);
            var matched = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var pattern in patterns)
            {
                var regex = GlobToRegex(pattern.TrimStart('/'));
                int before = matched.Count;
                foreach (var f in all.Where(f => regex.IsMatch(f))) matched.Add(f);
                if (matched.Count == before && !all.Any(f => regex.IsMatch(f)))
                    throw new DatasetFormatException(readme, $"config `{chosen.Name}` split `{split}`: pattern `{pattern}` matches no file under {folder}");
            }
            return matched.Select(f => Path.Combine(folder, f)).ToArray();
        }

        string root = folder;
        if (config is not null && Directory.Exists(Path.Combine(folder, config))) root = Path.Combine(folder, config);
        else if (config is not null)
            throw new DatasetFormatException(readme, $"config `{config}` needed but {readme} defines no configs and there is no folder {Path.Combine(folder, config)}");
        var files = AllFiles(root).Where(f => s_dataExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).ToArray();
        var bySplit = InferSplits(files);
        if (!bySplit.TryGetValue(split, out var found))
            throw new DatasetFormatException(readme, $"no data files for split `{split}` under {root}" +
                (bySplit.Count > 0 ? $"; splits found: {string.Join(", ", bySplit.Keys)}" : " (no parquet/JSON files)"));
        return found.Select(f => Path.Combine(root, f)).ToArray();
    }

    /// <summary>Every row of the split, files in sorted order.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="DatasetFormatException">The config or split cannot be resolved, or a file cannot be read.</exception>
    public static IReadOnlyList<DataRow> ReadRows(string folder, string? config, string split)
    {
        var rows = new List<DataRow>();
        foreach (var file in DataFiles(folder, config, split))
            rows.AddRange(ReadFile(file));
        return rows;
    }

    /// <summary>Rows of one data file by extension (parquet with binary cells read on demand as <see cref="LazyBytes"/>, JSON, JSON Lines).</summary>
    /// <exception cref="DatasetFormatException">Unsupported extension or unreadable file.</exception>
    public static IReadOnlyList<DataRow> ReadFile(string file) => Path.GetExtension(file).ToLowerInvariant() switch
    {
        ".parquet" => ParquetRows.Read(file, lazyBinary: true),
        ".json" or ".jsonl" => JsonRows.Read(file),
        var ext => throw new DatasetFormatException(file, $"unsupported data file type `{ext}` (expected .parquet, .json or .jsonl)"),
    };

    internal static string? FrontMatter(string text)
    {
        using var reader = new StringReader(text.TrimStart('\uFEFF'));
        if (reader.ReadLine()?.TrimEnd() != "---") return null;
        var sb = new StringBuilder();
        for (string? line; (line = reader.ReadLine()) is not null;)
        {
            if (line.TrimEnd() == "---") return sb.ToString();
            sb.Append(line).Append('\n');
        }
        return null;
    }

    private static HfConfig ChooseConfig(IReadOnlyList<HfConfig> configs, string? name, string readme)
    {
        if (name is not null)
            return configs.FirstOrDefault(c => c.Name == name)
                ?? throw new DatasetFormatException(readme, $"no config `{name}`; configs: {string.Join(", ", configs.Select(c => c.Name))}");
        if (configs.Count == 1) return configs[0];
        return configs.FirstOrDefault(c => c.IsDefault) ?? configs.FirstOrDefault(c => c.Name == "default")
            ?? throw new DatasetFormatException(readme, $"several configs and none is the default; name one of: {string.Join(", ", configs.Select(c => c.Name))}");
    }

    private static Dictionary<string, IReadOnlyList<string>> DataFiles(YamlNode node, string readme, string config)
    {
        var splits = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        void Add(string split, IEnumerable<string> patterns)
        {
            var list = splits.TryGetValue(split, out var existing) ? existing.ToList() : [];
            list.AddRange(patterns);
            splits[split] = list;
        }
        switch (node)
        {
            case YamlScalarNode s:
                Add("train", [s.Value ?? ""]);
                break;
            case YamlMappingNode m: // {split: pattern(s)}
                foreach (var (k, v) in m.Children) Add(((YamlScalarNode)k).Value ?? "", Patterns(v, readme, config));
                break;
            case YamlSequenceNode q:
                foreach (var item in q)
                {
                    if (item is YamlScalarNode p) Add("train", [p.Value ?? ""]);
                    else if (item is YamlMappingNode entry)
                    {
                        string split = Scalar(entry, "split") ?? "train";
                        if (!entry.Children.TryGetValue(new YamlScalarNode("path"), out var path))
                            throw new DatasetFormatException(readme, $"config `{config}` split `{split}` has no path");
                        Add(split, Patterns(path, readme, config));
                    }
                    else throw new DatasetFormatException(readme, $"config `{config}`: unexpected data_files item at line {item.Start.Line + 1}");
                }
                break;
        }
        return splits;
    }

    private static IEnumerable<string> Patterns(YamlNode node, string readme, string config) => node switch
    {
        YamlScalarNode s => [s.Value ?? ""],
        YamlSequenceNode q => q.Select(p => (p as YamlScalarNode)?.Value ?? throw new DatasetFormatException(readme, $"config `{config}`: a path must be a string")),
        _ => throw new DatasetFormatException(readme, $"config `{config}`: a path must be a string or a list of strings"),
    };

    private static string? Scalar(YamlMappingNode m, string key) =>
        m.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s ? s.Value : null;

    private static List<string> AllFiles(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/'))
            .Where(f => !f.Split('/').Any(part => part.StartsWith('.')))
            .Order(StringComparer.Ordinal)
            .ToList();

    private static SortedDictionary<string, List<string>> InferSplits(IReadOnlyList<string> files)
    {
        var result = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (split, keywords) in s_splitKeywords)
        {
            var re = new Regex($"(^|[-._ 0-9/])({string.Join("|", keywords)})[-._ 0-9/]", RegexOptions.CultureInvariant);
            var matched = files.Where(f => re.IsMatch(f)).ToList();
            if (matched.Count > 0) result[split] = matched;
        }
        if (result.Count == 0 && files.Count > 0) result["train"] = files.ToList();
        // Splits named otherwise (`unbalanced_test_public`, `dev`): files whose name contains the exact split name.
        foreach (var f in files)
        {
            var m = Regex.Match(Path.GetFileNameWithoutExtension(f), @"^(?<split>[A-Za-z_]+?)-\d{5}-of-\d{5}$", RegexOptions.CultureInvariant);
            if (m.Success && !result.ContainsKey(m.Groups["split"].Value))
                result[m.Groups["split"].Value] = files.Where(x => Path.GetFileNameWithoutExtension(x).StartsWith(m.Groups["split"].Value + "-", StringComparison.Ordinal)).ToList();
        }
        return result;
    }

    /// <summary>An fsspec-style glob as an anchored regex: `**` crosses folders, `*` and `?` do not, `[…]` is a class.</summary>
    internal static Regex GlobToRegex(string glob)
    {
        var sb = new StringBuilder("^");
        for (int i = 0; i < glob.Length; i++)
        {
            char c = glob[i];
            if (c == '*' && i + 1 < glob.Length && glob[i + 1] == '*')
            {
                bool slash = i + 2 < glob.Length && glob[i + 2] == '/';
                sb.Append(slash ? "(?:.*/)?" : ".*");
                i += slash ? 2 : 1;
            }
            else if (c == '*') sb.Append("[^/]*");
            else if (c == '?') sb.Append("[^/]");
            else if (c == '[' && glob.IndexOf(']', i + 1) is var end and > 0)
            {
                string cls = glob[(i + 1)..end];
                if (cls.StartsWith('!')) cls = "^" + cls[1..];
                sb.Append('[').Append(cls.Replace("\\", "\\\\", StringComparison.Ordinal)).Append(']');
                i = end;
            }
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant);
    }
}
