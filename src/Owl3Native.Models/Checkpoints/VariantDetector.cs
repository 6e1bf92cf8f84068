using System.Text.RegularExpressions;
using Owl3Native.Core;
using Owl3Native.Core.Config;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Models.Checkpoints;

/// <summary>What the weight keys say about a checkpoint.</summary>
public sealed record VariantDetection(Owl3Variant Variant, ProjectorKind Projector, IReadOnlyList<string> Warnings);

/// <summary>
/// Decides the hyper variant and projector from weight keys (spec/MODEL.md §1, rules 1–5). Gate keys count
/// only with their expected shapes; gate-like keys of any other shape are ignored with a warning.
/// </summary>
public static partial class VariantDetector
{
    /// <summary>Detects the variant and cross-checks the hyper layers against the config.</summary>
    /// <exception cref="CheckpointFormatException">No projector, an ambiguous projector, or `v_kv_proj` in other layers than `hyper_layers` says.</exception>
    public static VariantDetection Detect(Owl3Config c, ITensorSource weights, string path)
    {
        var warnings = new List<string>();
        var dynGate = new SortedSet<int>();
        var staticGate = new SortedSet<int>();
        var vkv = new SortedSet<int>();
        var gateDim = new Shape(c.HeadDim, c.HeadDim);
        foreach (var name in weights.Names)
        {
            var m = LayerKey().Match(name);
            if (!m.Success) continue;
            int layer = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            string rest = m.Groups[2].Value;
            weights.TryGetInfo(name, out var info);
            switch (rest)
            {
                case "v_kv_proj.weight":
                    vkv.Add(layer);
                    break;
                case "gate_proj.0.weight":
                    if (info.Shape.Equals(gateDim) && weights.TryGetInfo(name[..^"weight".Length] + "bias", out var b) && b.Shape.Equals(new Shape(c.HeadDim)))
                        dynGate.Add(layer);
                    else
                        warnings.Add($"`{name}` has shape {info.Shape} (expected {gateDim} with a [{c.HeadDim}] bias); ignored as a gate");
                    break;
                case "gate":
                    if (info.Shape.Equals(new Shape(c.Hidden)))
                        staticGate.Add(layer);
                    else
                        warnings.Add($"`{name}` has shape {info.Shape} (expected [{c.Hidden}]); ignored as a gate");
                    break;
            }
        }

        var variant = dynGate.Count > 0 ? Owl3Variant.V240728 : staticGate.Count > 0 ? Owl3Variant.V241014 : Owl3Variant.V241101;
        if (dynGate.Count > 0 && staticGate.Count > 0)
            warnings.Add($"both dynamic (`gate_proj.0`) and static (`gate`) gate keys are present; using the dynamic gate (240728), static gates ignored");

        var expected = new SortedSet<int>(c.HyperLayerIndices);
        if (!vkv.SetEquals(expected))
            throw new CheckpointFormatException(path,
                $"layers holding `self_attn.v_kv_proj.weight` are {Fmt(vkv)} (0-based) but config `hyper_layers` {Fmt(c.HyperLayers)} (1-based) means {Fmt(expected)}");

        bool linear = weights.TryGetInfo("vision2text_model.weight", out _);
        bool mlp = weights.TryGetInfo("vision2text_model.0.weight", out _) || weights.TryGetInfo("vision2text_model.2.weight", out _);
        if (linear && mlp)
            throw new CheckpointFormatException(path, "both `vision2text_model.weight` (Linear projector) and `vision2text_model.0/2.weight` (MLP projector) are present") { TensorName = "vision2text_model.weight" };
        if (!linear && !mlp)
            throw new CheckpointFormatException(path, "no projector: neither `vision2text_model.weight` nor `vision2text_model.0.weight` is present") { TensorName = "vision2text_model.weight" };
        return new VariantDetection(variant, linear ? ProjectorKind.Linear : ProjectorKind.Mlp, warnings);
    }

    private static string Fmt(IEnumerable<int> xs) => "[" + string.Join(", ", xs) + "]";

    [GeneratedRegex(@"^language_model\.model\.layers\.([0-9]{1,9})\.self_attn\.(v_kv_proj\.weight|gate_proj\.0\.weight|gate)$")]
    private static partial Regex LayerKey();
}
