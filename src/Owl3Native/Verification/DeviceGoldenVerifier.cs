using System.Text.Json;
using Owl3Native.Core.Tensors;
using Owl3Native.Engine;
using Owl3Native.Models.Owl3;

namespace Owl3Native.Verification;

/// <summary>
/// The GPU path (`--device cuda`: the device's vision tower, language model and paged cache behind the engine's runner)
/// against the original implementation's golden outputs, fed the golden inputs as given. The device returns what the
/// engine uses — image features and each sequence's last-row logits — so it checks: `vision.image_embeds` and each case's
/// `image_embeds`; the last row of each case's `logits` per batch row; `gen.*.step_logits` fed the golden's own tokens
/// (teacher forced) and `gen.*.new_tokens` as the device's greedy choice at each of those steps; `cache.*` (the prefill's
/// last row, then single steps). Intermediates (hidden states, hyper-layer tensors) stay the CPU verifier's.
/// </summary>
/// <remarks>
/// Floats are judged by NMSE = Σ(ours − golden)² / Σ golden² ≤ <see cref="NmseBound"/> (bf16 weights and activations on
/// the device; max-abs and max-rel are reported as on the CPU). A greedy token that differs passes only where the
/// golden's own logits make it a near-tie within that same error budget: the two tokens' golden logits at most
/// 2·√<see cref="NmseBound"/> × the row's RMS apart (≈ 0.063 of it: twice the per-logit error NMSE 1e-3 allows). Our own
/// per-row error is not the yardstick — any flip is within it.
/// </remarks>
public sealed class DeviceGoldenVerifier(Owl3Model model, GoldenSet golden, ModelRunner runner)
{
    /// <summary>NMSE bound of a float tensor (bf16 on the device against the original's fp32).</summary>
    public const double NmseBound = 1e-3;

    /// <summary>A differing greedy token is a near-tie when the golden logits of both tokens differ by at most this × the row's RMS (2·√NmseBound).</summary>
    public static double TieTolerance => 2 * Math.Sqrt(NmseBound);

    /// <summary>Runs every check; <paramref name="onResult"/> sees each comparison as it is made.</summary>
    /// <exception cref="InvalidOperationException">The runner is not on the device.</exception>
    public List<Comparison> Run(Action<Comparison>? onResult = null)
    {
        var device = runner.Device ?? throw new InvalidOperationException("the device verifier needs a runner on the device (--device cuda)");
        var results = new List<Comparison>();
        void Add(Comparison c) { results.Add(c); onResult?.Invoke(c); }
        if (golden.Has("vision.pixel_values") && golden.Has("vision.image_embeds"))
            Add(Floats("vision.image_embeds", device.EncodeImages(golden.Floats("vision.pixel_values")).Data));
        foreach (var (name, c) in golden.Cases)
        {
            FullPass(name, c, Add);
            if (golden.Has($"gen.{name}.new_tokens")) Generation(name, c, Add);
            if (c.TryGetProperty("cache_check", out var cache)) Cache(name, c, cache, Add);
        }
        return results;
    }

    private void FullPass(string name, JsonElement c, Action<Comparison> add)
    {
        long[] ids = golden.Longs($"case.{name}.input_ids");
        int[] shape = golden.Shape($"case.{name}.input_ids");
        int rows = shape[0], length = shape[1], vocab = model.Config.Vocab;
        var starts = GoldenSet.MarkerStarts(c, rows);
        var pixels = golden.Has($"case.{name}.pixel_values") ? golden.Floats($"case.{name}.pixel_values") : null;
        if (pixels is not null && golden.Has($"case.{name}.image_embeds"))
            add(Floats($"case.{name}.image_embeds", runner.Device!.EncodeImages(pixels).Data));
        var seqs = Admit(name, starts);
        try
        {
            var logits = runner.Step([.. seqs.Select((s, r) => new StepInput(s, Row(ids, r, length)))]);
            // The golden's logits [rows, length, vocab]: the last position of each row is what the engine computes.
            var all = golden.Floats($"case.{name}.logits").Data;
            var expected = new float[rows * vocab];
            for (int r = 0; r < rows; r++) all.AsSpan(checked((int)(((long)r * length + length - 1) * vocab)), vocab).CopyTo(expected.AsSpan(r * vocab, vocab));
            add(Floats($"case.{name}.logits", logits.Data.AsSpan(0, rows * vocab), expected, $"[{rows}, last of {length}, {vocab}]"));
        }
        finally
        {
            foreach (var s in seqs) runner.Release(s);
        }
    }

    private void Generation(string name, JsonElement c, Action<Comparison> add)
    {
        long[] ids = golden.Longs($"case.{name}.input_ids");
        long[] goldenTokens = golden.Longs($"gen.{name}.new_tokens");
        var goldenLogits = golden.Floats($"gen.{name}.step_logits").Data;
        int steps = goldenTokens.Length, vocab = model.Config.Vocab;
        var seq = Admit(name, GoldenSet.MarkerStarts(c, 1))[0];
        var ours = new float[steps * vocab];
        var tokens = new long[steps];
        try
        {
            var logits = runner.Step([new StepInput(seq, Row(ids, 0, ids.Length))]);
            for (int k = 0; k < steps; k++)
            {
                logits.Row(0).CopyTo(ours.AsSpan(k * vocab, vocab));
                tokens[k] = ArgMax(logits.Row(0));
                if (k + 1 < steps) logits = runner.Step([new StepInput(seq, [checked((int)goldenTokens[k])])]); // the golden's token: the rows stay aligned
            }
        }
        finally
        {
            runner.Release(seq);
        }
        add(Tokens($"gen.{name}.new_tokens", tokens, goldenTokens, goldenLogits, vocab));
        add(Floats($"gen.{name}.step_logits", ours, goldenLogits));
    }

    private void Cache(string name, JsonElement c, JsonElement cache, Action<Comparison> add)
    {
        long[] ids = golden.Longs($"case.{name}.input_ids");
        int p = cache.GetProperty("prefill_len").GetInt32(), length = ids.Length, vocab = model.Config.Vocab, steps = length - p;
        var seq = Admit(name, GoldenSet.MarkerStarts(c, 1))[0];
        var ours = new float[steps * vocab];
        try
        {
            var prefill = runner.Step([new StepInput(seq, Row(ids, 0, length)[..p])]);
            var all = golden.Floats($"cache.{name}.prefill_logits").Data;
            add(Floats($"cache.{name}.prefill_logits", prefill.Data.AsSpan(0, vocab), all.AsSpan(all.Length - vocab, vocab), $"[last of {p}, {vocab}]"));
            for (int j = 0; j < steps; j++)
                runner.Step([new StepInput(seq, [checked((int)ids[p + j])])]).Row(0).CopyTo(ours.AsSpan(j * vocab, vocab));
        }
        finally
        {
            runner.Release(seq);
        }
        add(Floats($"cache.{name}.step_logits", ours, golden.Floats($"cache.{name}.step_logits").Data));
    }

    private List<SequenceState> Admit(string name, int[][] starts)
    {
        var sequences = new List<SequenceState>();
        try
        {
            var rows = golden.RowPixels(name, starts);
            for (int r = 0; r < rows.Length; r++) sequences.Add(runner.Admit(rows[r], starts[r]));
            return sequences;
        }
        catch
        {
            foreach (var s in sequences) runner.Release(s);
            throw;
        }
    }

    private Comparison Floats(string goldenName, ReadOnlySpan<float> ours) => Floats(goldenName, ours, golden.Floats(goldenName).Data);

    private Comparison Floats(string goldenName, ReadOnlySpan<float> ours, ReadOnlySpan<float> expected, string? shape = null)
    {
        var c = JudgeFloats(goldenName, golden.Shape(goldenName), ours, expected);
        return shape is null ? c : c with { Shape = shape };
    }

    /// <summary>Floats judged by NMSE ≤ <see cref="NmseBound"/> (max-abs and max-rel reported as on the CPU).</summary>
    internal static Comparison JudgeFloats(string goldenName, int[] goldenShape, ReadOnlySpan<float> ours, ReadOnlySpan<float> expected)
    {
        var c = Comparison.Floats(goldenName, goldenShape, ours, expected, double.PositiveInfinity);
        if (c.Mismatches < 0) return c with { Status = ComparisonStatus.Fail };
        double err = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)ours[i] - expected[i];
            err += d * d;
            norm += (double)expected[i] * expected[i];
        }
        double nmse = norm == 0 ? (err == 0 ? 0 : double.PositiveInfinity) : err / norm;
        if (double.IsNaN(nmse)) nmse = double.PositiveInfinity;
        return c with { Status = nmse <= NmseBound ? ComparisonStatus.Pass : ComparisonStatus.Fail, Note = $"nmse {nmse:0.00e+00} (bound {NmseBound:0e0})", Nmse = nmse };
    }

    private Comparison Tokens(string goldenName, long[] ours, long[] expected, float[] goldenLogits, int vocab) =>
        JudgeTokens(goldenName, golden.Shape(goldenName), ours, expected, goldenLogits, vocab);

    /// <summary>Greedy tokens: identical, or each difference a near-tie of the golden's own logits (<see cref="TieTolerance"/>).</summary>
    internal static Comparison JudgeTokens(string goldenName, int[] goldenShape, long[] ours, long[] expected, float[] goldenLogits, int vocab)
    {
        var c = Comparison.Integers(goldenName, goldenShape, ours, expected);
        if (c.Mismatches <= 0) return c;
        int ties = 0;
        for (int k = 0; k < ours.Length; k++)
        {
            if (ours[k] == expected[k]) continue;
            var row = goldenLogits.AsSpan(k * vocab, vocab);
            double squares = 0;
            foreach (float v in row) squares += (double)v * v;
            double rms = Math.Sqrt(squares / vocab);
            if (Math.Abs(row[(int)ours[k]] - row[(int)expected[k]]) <= TieTolerance * rms) ties++;
        }
        return c with
        {
            Status = ties == c.Mismatches ? ComparisonStatus.Pass : ComparisonStatus.Fail,
            Note = $"{ours.Length - c.Mismatches}/{ours.Length} greedy tokens agree; {ties} of the {c.Mismatches} that differ are near-ties of the golden's own logits",
        };
    }

    private static int[] Row(long[] ids, int row, int length) => ids.AsSpan(row * length, length).ToArray().Select(v => checked((int)v)).ToArray();

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
