using System.Text.Json;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;
using Owl3Native.Engine;
using Owl3Native.Models;
using Owl3Native.Models.Owl3;

namespace Owl3Native.Verification;

/// <summary>
/// Runs every case of a golden folder through the model — vision tensors, full-prompt logits and hidden states,
/// hyper-layer intermediates, greedy generation through the cache path, cached prefill plus single steps, and
/// batches of sequences with different image counts — feeding the golden inputs as given (never re-running the
/// processor), and compares each tensor the golden holds.
/// </summary>
public sealed class GoldenVerifier(Owl3Model model, GoldenSet golden, ITensorSource weights)
{
    private const int BlockSize = 16;

    /// <summary>Every tensor we produced, under the golden's name (for `--dump`).</summary>
    public Dictionary<string, (int[] Shape, float[]? Floats, long[]? Longs)> Produced { get; } = new(StringComparer.Ordinal);

    /// <summary>Runs everything; <paramref name="onResult"/> sees each comparison as it is made.</summary>
    public List<Comparison> Run(Action<Comparison>? onResult = null)
    {
        var results = new List<Comparison>();
        void Add(Comparison c) { results.Add(c); onResult?.Invoke(c); }
        VerifyVision(Add);
        foreach (var (name, c) in golden.Cases)
        {
            VerifyFullPass(name, c, Add);
            if (golden.Has($"gen.{name}.new_tokens")) VerifyGeneration(name, c, Add);
            if (c.TryGetProperty("cache_check", out var cache)) VerifyCache(name, c, cache, Add);
        }
        var covered = results.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var n in golden.Names.Where(n => !covered.Contains(n) && !IsInput(n)))
            Add(new Comparison(n, "-", ComparisonStatus.Fail, double.NaN, double.NaN, -1, "golden tensor not covered by any check"));
        return results;
    }

    private static bool IsInput(string n) =>
        n.EndsWith(".input_ids", StringComparison.Ordinal) || n.EndsWith(".pixel_values", StringComparison.Ordinal) || n.EndsWith(".media_offset", StringComparison.Ordinal);

    private void VerifyVision(Action<Comparison> add)
    {
        if (!golden.Has("vision.pixel_values")) return;
        var trace = new DictionaryTrace();
        model.EncodeImages(golden.Floats("vision.pixel_values"), trace);
        int layers = model.Config.Vision.Layers;
        foreach (var name in golden.Names.Where(n => n.StartsWith("vision.", StringComparison.Ordinal) && n != "vision.pixel_values"))
        {
            if (name == $"vision.hidden_states.{layers}")
                add(Comparison.UnusedTensor(name, golden.Shape(name), "output of the last SigLIP layer: the model uses hidden_states[-2]"));
            else if (name is "vision.last_hidden_state_post_layernorm" or "vision.pooler_output_head")
                add(Comparison.UnusedTensor(name, golden.Shape(name), "post-layernorm / pooling head: never used by mPLUG-Owl3"));
            else
                Compare(add, name, trace.Values.GetValueOrDefault(name));
        }
    }

    private void VerifyFullPass(string name, JsonElement c, Action<Comparison> add)
    {
        long[] ids = golden.Longs($"case.{name}.input_ids");
        int[] shape = golden.Shape($"case.{name}.input_ids");
        int rows = shape[0], length = shape[1];
        var starts = GoldenSet.MarkerStarts(c, rows);
        var trace = rows == 1 ? new DictionaryTrace() : null;
        using var runner = new ModelRunner(model, numBlocks: rows * (length / BlockSize + 2), BlockSize);
        var inputs = Admit(runner, name, starts, trace);
        var stepInputs = inputs.Select((s, r) => new StepInput(s, Row(ids, r, length))).ToArray();
        var logits = runner.Step(stepInputs, allLogits: true, trace);
        Compare(add, $"case.{name}.logits", logits);
        if (trace is null) return;
        foreach (var (traceName, value) in trace.Values)
        {
            string goldenName = traceName switch
            {
                "vision.image_embeds" => $"case.{name}.image_embeds",
                _ when traceName.StartsWith("hidden_states.", StringComparison.Ordinal) || traceName.StartsWith("hyper.", StringComparison.Ordinal) => $"case.{name}.{traceName}",
                _ => "",
            };
            if (goldenName.Length == 0 || !golden.Has(goldenName)) continue;
            if (traceName.StartsWith("hyper.", StringComparison.Ordinal) && traceName.EndsWith(".v_kv", StringComparison.Ordinal))
                CompareVisualKv(add, name, goldenName, int.Parse(traceName.Split('.')[1], System.Globalization.CultureInfo.InvariantCulture), value);
            else
                Compare(add, goldenName, value);
        }
    }

    private void VerifyGeneration(string name, JsonElement c, Action<Comparison> add)
    {
        long[] ids = golden.Longs($"case.{name}.input_ids");
        int length = ids.Length, steps = golden.Shape($"gen.{name}.new_tokens")[1];
        using var runner = new ModelRunner(model, numBlocks: (length + steps) / BlockSize + 2, BlockSize);
        var seq = Admit(runner, name, GoldenSet.MarkerStarts(c, 1), null)[0];
        int vocab = model.Config.Vocab;
        var stepLogits = new float[steps * vocab];
        var tokens = new long[steps];
        var logits = runner.Step([new StepInput(seq, Row(ids, 0, length))]);
        for (int k = 0; k < steps; k++)
        {
            logits.Row(0).CopyTo(stepLogits.AsSpan(k * vocab, vocab));
            tokens[k] = ArgMax(logits.Row(0)); // greedy: the original's generate(do_sample=False)
            if (k + 1 < steps) logits = runner.Step([new StepInput(seq, [(int)tokens[k]])]);
        }
        Compare(add, $"gen.{name}.new_tokens", tokens);
        Compare(add, $"gen.{name}.step_logits", new Tensor(stepLogits, 1, steps, vocab));
    }

    private void VerifyCache(string name, JsonElement c, JsonElement cache, Action<Comparison> add)
    {
        long[] ids = golden.Longs($"case.{name}.input_ids");
        int p = cache.GetProperty("prefill_len").GetInt32(), length = ids.Length;
        using var runner = new ModelRunner(model, numBlocks: length / BlockSize + 2, BlockSize);
        var seq = Admit(runner, name, GoldenSet.MarkerStarts(c, 1), null)[0];
        var prefill = runner.Step([new StepInput(seq, Row(ids, 0, length)[..p])], allLogits: true);
        Compare(add, $"cache.{name}.prefill_logits", prefill);
        int vocab = model.Config.Vocab, steps = length - p;
        var stepLogits = new float[steps * vocab];
        for (int j = 0; j < steps; j++)
            runner.Step([new StepInput(seq, [(int)ids[p + j]])]).Row(0).CopyTo(stepLogits.AsSpan(j * vocab, vocab));
        Compare(add, $"cache.{name}.step_logits", new Tensor(stepLogits, 1, steps, vocab));
    }

    private List<SequenceState> Admit(ModelRunner runner, string name, int[][] starts, ITrace? trace) =>
        [.. golden.RowPixels(name, starts).Select((pixels, r) => runner.Admit(pixels, starts[r], trace))];

    /// <summary>
    /// `v_kv_proj(input_layernorm(image_embeds))` of a hyper layer. Besides the golden, it is recomputed here by a plain
    /// fp64 loop from the golden's own image_embeds and the checkpoint weights, so a golden that contradicts its stated
    /// definition is told apart from a model bug (spec/MODEL.md §4.1).
    /// </summary>
    private void CompareVisualKv(Action<Comparison> add, string caseName, string goldenName, int layer, Tensor ours)
    {
        var vsGolden = Comparison.Floats(goldenName, golden.Shape(goldenName), ours.Data, golden.Floats(goldenName).Data);
        Produced[goldenName] = (golden.Shape(goldenName), ours.Data, null);
        if (vsGolden.Status == ComparisonStatus.Pass || !golden.Has($"case.{caseName}.image_embeds"))
        {
            add(vsGolden);
            return;
        }
        float[] reference = VisualKvReference(golden.Floats($"case.{caseName}.image_embeds"), layer);
        var vsReference = Comparison.Floats(goldenName, golden.Shape(goldenName), ours.Data, reference);
        var goldenVsReference = Comparison.Floats(goldenName, golden.Shape(goldenName), golden.Floats(goldenName).Data, reference);
        add(vsReference.Status == ComparisonStatus.Pass && goldenVsReference.Status == ComparisonStatus.Fail
            ? vsGolden with
            {
                Status = ComparisonStatus.Inconsistent,
                Note = $"golden differs from its definition recomputed in fp64 from its own image_embeds (max-rel {goldenVsReference.MaxRel:0.00e+00}); ours matches it (max-rel {vsReference.MaxRel:0.00e+00})",
            }
            : vsGolden);
    }

    private float[] VisualKvReference(Tensor imageEmbeds, int layer)
    {
        string p = $"language_model.model.layers.{layer}.";
        float[] norm = weights.Get(p + "input_layernorm.weight").ToFloatArray();
        float[] w = weights.Get(p + "self_attn.v_kv_proj.weight").ToFloatArray();
        float[] b = weights.Get(p + "self_attn.v_kv_proj.bias").ToFloatArray();
        int hidden = norm.Length, outF = b.Length, rows = imageEmbeds.Length / hidden;
        double eps = model.Config.RmsNormEps;
        var y = new float[rows * outF];
        var n = new double[hidden];
        for (int r = 0; r < rows; r++)
        {
            double ss = 0;
            for (int i = 0; i < hidden; i++) ss += (double)imageEmbeds.Data[r * hidden + i] * imageEmbeds.Data[r * hidden + i];
            double inv = 1 / Math.Sqrt(ss / hidden + eps);
            for (int i = 0; i < hidden; i++) n[i] = imageEmbeds.Data[r * hidden + i] * inv * norm[i];
            for (int o = 0; o < outF; o++)
            {
                double acc = b[o];
                for (int i = 0; i < hidden; i++) acc += n[i] * w[o * hidden + i];
                y[r * outF + o] = (float)acc;
            }
        }
        return y;
    }

    private void Compare(Action<Comparison> add, string goldenName, Tensor? ours)
    {
        int[] shape = golden.Shape(goldenName);
        if (ours is null)
        {
            add(new Comparison(goldenName, "[" + string.Join(", ", shape) + "]", ComparisonStatus.Fail, double.NaN, double.NaN, -1, "not produced by the model"));
            return;
        }
        Produced[goldenName] = (shape, ours.Data, null);
        add(Comparison.Floats(goldenName, shape, ours.Data, golden.Floats(goldenName).Data));
    }

    private void Compare(Action<Comparison> add, string goldenName, long[] ours)
    {
        int[] shape = golden.Shape(goldenName);
        Produced[goldenName] = (shape, null, ours);
        add(Comparison.Integers(goldenName, shape, ours, golden.Longs(goldenName)));
    }

    private static int[] Row(long[] ids, int row, int length) => ids.AsSpan(row * length, length).ToArray().Select(v => checked((int)v)).ToArray();

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
