using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Owl3Native.Core.Config;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Engine;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Owl3;
using Owl3Native.TestKit;
using Xunit;
using Xunit.Sdk;

namespace Owl3Native.Models.Tests;

/// <summary>
/// The engine (<see cref="Owl3Model"/> on <see cref="CpuBackend"/>, driven by <see cref="ModelRunner"/> over the paged
/// cache) against <see cref="NaiveOwl3"/>, the scalar forward written straight from spec/MODEL.md, on random
/// checkpoints of all three variants and of edited configs (one kv head, kvHeads = heads, head dims 24 and 12, hyper
/// layers at the first and last layer, tied lm_head, another SigLIP grid). Metric: max |actual − expected| / max |expected|
/// over the compared logits ≤ 1e-4, and the same ≤ 1e-5 for the image embeddings (fp32 engine vs double reference:
/// observed ~5e-7 on the logits; a wrong mask, position, split or gate moves them by 1e-2 or more).
/// </summary>
public sealed class ReferenceModelTests : IDisposable
{
    private const double LogitsBound = 1e-4;
    private const double EmbedsBound = 1e-5;
    private const int BlockSize = 4;

    private readonly TempDirectory _dir = new("owl3-reference");

    public void Dispose() => _dir.Dispose();

    /// <summary>Config edits applied to the tiny checkpoint (weights rewritten to match).</summary>
    public enum ConfigEdit
    {
        /// <summary>The tiny config as made: hidden 64, 4 heads, 2 kv heads (D = 16), 5 layers, 3×3 patches.</summary>
        None,
        /// <summary>GQA with one kv head; hyper layers 1 and 5 (the first and the last).</summary>
        OneKvHead,
        /// <summary>kvHeads = heads = 4; hyper layers 1, 3, 5.</summary>
        KvHeadsEqualHeads,
        /// <summary>hidden 48, 2 heads, 1 kv head (D = 24), 3 layers all hyper-listed at the ends, intermediate 100, vocab 300, tied lm_head.</summary>
        HeadDim24Tied,
        /// <summary>hidden 60, 5 heads = 5 kv heads (D = 12), 4 layers, hyper 1 and 4; SigLIP 40 wide with head dim 10, 4×4 patches of 10 px on 45 px crops.</summary>
        HeadDim12OtherVision,
    }

    /// <summary>A prompt: its length and the marker starts s_j (one crop per marker).</summary>
    public sealed record Prompt(string Name, int Length, int[] MarkerStarts);

    private static readonly Prompt[] Prompts =
    [
        new("text only", 12, []),
        new("image at the start", 16, [0]),
        new("image in the middle", 21, [8]),
        new("three images", 30, [3, 11, 19]),
        new("image marker at the end", 14, [9]),
    ];

    public static TheoryData<Owl3Variant, ConfigEdit> AllConfigs()
    {
        var data = new TheoryData<Owl3Variant, ConfigEdit>();
        foreach (var variant in Enum.GetValues<Owl3Variant>())
            foreach (var edit in Enum.GetValues<ConfigEdit>())
                data.Add(variant, edit);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllConfigs))]
    public void Full_prefill_logits_match_the_naive_reference(Owl3Variant variant, ConfigEdit edit)
    {
        string dir = MakeCheckpoint(variant, edit, seed: 11);
        using var naive = new NaiveOwl3(dir);
        using var engine = new Engine(dir);
        Assert.Equal(variant, engine.Checkpoint.Variant);
        var rng = new Random(7);
        foreach (var prompt in Prompts)
        {
            var (ids, pixels) = Inputs(naive.Config, prompt, rng);
            var expected = naive.Forward(ids, pixels?.Data, prompt.MarkerStarts);

            var trace = new DictionaryTrace();
            var seq = engine.Runner.Admit(pixels, prompt.MarkerStarts, trace);
            var logits = engine.Runner.Step([new StepInput(seq, ids)], allLogits: true, trace);
            engine.Runner.Release(seq);

            if (expected.ImageEmbeds is { } embeds)
            {
                // Checked on their own as well: a wrong projector GELU (tanh for erf) changes them by ~1e-4 but the logits of
                // the tiny model by less than the logits bound.
                var actual = trace.Values["vision.image_embeds"].Data;
                ReferenceAssert.MaxRelBelow(actual, embeds, EmbedsBound, floor: ReferenceAssert.MaxAbs(embeds), $"{variant} {edit}, {prompt.Name}: image_embeds");
            }

            AssertLogits(logits, expected, 0, $"{variant} {edit}, {prompt.Name}", () => LayerReport(trace, expected, naive.Config));
        }
    }

    [Theory]
    [MemberData(nameof(AllConfigs))]
    public void Chunked_prefill_matches_the_naive_full_pass(Owl3Variant variant, ConfigEdit edit)
    {
        string dir = MakeCheckpoint(variant, edit, seed: 23);
        using var naive = new NaiveOwl3(dir);
        using var engine = new Engine(dir);
        var rng = new Random(3);
        foreach (var prompt in Prompts.Where(p => p.MarkerStarts.Length > 0))
        {
            var (ids, pixels) = Inputs(naive.Config, prompt, rng);
            var expected = naive.Forward(ids, pixels?.Data, prompt.MarkerStarts);
            foreach (var (how, chunks) in Chunkings(prompt, rng))
            {
                var seq = engine.Runner.Admit(pixels, prompt.MarkerStarts);
                int start = 0;
                for (int c = 0; c < chunks.Length; c++)
                {
                    // Alternate all-rows logits with the default last-row logits; the final chunk always uses the default.
                    bool allRows = c % 2 == 0 && c < chunks.Length - 1;
                    int n = chunks[c];
                    var logits = engine.Runner.Step([new StepInput(seq, ids[start..(start + n)])], allLogits: allRows);
                    int first = allRows ? start : start + n - 1;
                    AssertLogits(logits, expected, first, $"{variant} {edit}, {prompt.Name}, chunks {how} [{string.Join(",", chunks)}], rows {first}..{start + n - 1}");
                    start += n;
                }
                Assert.Equal(prompt.Length, start);
                engine.Runner.Release(seq);
            }
        }
    }

    [Theory]
    [InlineData(Owl3Variant.V240728)]
    [InlineData(Owl3Variant.V241014)]
    [InlineData(Owl3Variant.V241101)]
    public void Sequences_batched_in_one_step_each_match_the_naive_reference(Owl3Variant variant)
    {
        string dir = MakeCheckpoint(variant, ConfigEdit.None, seed: 5);
        using var naive = new NaiveOwl3(dir);
        using var engine = new Engine(dir);
        var rng = new Random(9);
        var prompts = new[] { Prompts[3], Prompts[0], Prompts[1], Prompts[2] };
        var inputs = prompts.Select(p => Inputs(naive.Config, p, rng)).ToArray();
        var expected = prompts.Select((p, i) => naive.Forward(inputs[i].Ids, inputs[i].Pixels?.Data, p.MarkerStarts)).ToArray();
        var seqs = prompts.Select((p, i) => engine.Runner.Admit(inputs[i].Pixels, p.MarkerStarts)).ToArray();

        // Each step feeds the next chunk (1..6 tokens) of every sequence that still has prompt left, all in one batch.
        var fed = new int[prompts.Length];
        for (int step = 0; fed.Where((f, i) => f < prompts[i].Length).Any(); step++)
        {
            var active = Enumerable.Range(0, prompts.Length).Where(i => fed[i] < prompts[i].Length).ToArray();
            var sizes = active.Select(i => Math.Min(prompts[i].Length - fed[i], 1 + (step + i) % 6)).ToArray();
            var logits = engine.Runner.Step([.. active.Select((i, k) => new StepInput(seqs[i], inputs[i].Ids[fed[i]..(fed[i] + sizes[k])]))], allLogits: true);
            int row = 0;
            for (int k = 0; k < active.Length; k++)
            {
                int i = active[k];
                AssertLogits(logits.SliceRows(row, sizes[k]), expected[i], fed[i], $"{variant}, batched step {step}, {prompts[i].Name}, rows {fed[i]}..{fed[i] + sizes[k] - 1}");
                row += sizes[k];
                fed[i] += sizes[k];
            }
        }
    }

    // ---- Checkpoints and inputs ----------------------------------------------------------------------------------

    /// <summary>Writes a tiny random checkpoint; for an edit, rewrites config.json and then the weights to match it.</summary>
    private string MakeCheckpoint(Owl3Variant variant, ConfigEdit edit, ulong seed)
    {
        string dir = _dir.File($"{variant}-{edit}");
        CheckpointMaker.Write(dir, new MakeTinyOptions(variant, Seed: seed));
        if (edit == ConfigEdit.None) return dir;
        string path = Path.Combine(dir, Owl3Checkpoint.ConfigFile);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var vision = json["vision_config"]!.AsObject();
        switch (edit)
        {
            case ConfigEdit.OneKvHead:
                json["num_key_value_heads"] = 1;
                json["hyper_layers"] = new JsonArray(1, 5);
                break;
            case ConfigEdit.KvHeadsEqualHeads:
                json["num_key_value_heads"] = 4;
                json["hyper_layers"] = new JsonArray(1, 3, 5);
                break;
            case ConfigEdit.HeadDim24Tied:
                (json["hidden_size"], json["num_attention_heads"], json["num_key_value_heads"]) = (48, 2, 1);
                (json["intermediate_size"], json["num_hidden_layers"], json["max_window_layers"]) = (100, 3, 3);
                (json["vocab_size"], json["tie_word_embeddings"]) = (300, true);
                json["hyper_layers"] = new JsonArray(3, 1);
                break;
            case ConfigEdit.HeadDim12OtherVision:
                (json["hidden_size"], json["num_attention_heads"], json["num_key_value_heads"]) = (60, 5, 5);
                (json["intermediate_size"], json["num_hidden_layers"], json["max_window_layers"]) = (52, 4, 4);
                json["hyper_layers"] = new JsonArray(1, 4);
                (vision["hidden_size"], vision["num_attention_heads"], vision["intermediate_size"]) = (40, 4, 36);
                (vision["num_hidden_layers"], vision["image_size"], vision["patch_size"]) = (2, 45, 10);
                break;
        }
        File.WriteAllText(path, json.ToJsonString());
        var config = ConfigLoader.LoadModelConfig(path, new List<string>());
        CheckpointMaker.WriteWeights(dir, config, variant, seed);
        return dir;
    }

    /// <summary>Random ids in [0, vocab) and random pixels in [−1, 1) for one crop per marker (null without markers).</summary>
    private static (int[] Ids, Tensor? Pixels) Inputs(Owl3Config config, Prompt prompt, Random rng)
    {
        var ids = Enumerable.Range(0, prompt.Length).Select(_ => rng.Next(config.Vocab)).ToArray();
        int crops = prompt.MarkerStarts.Length, s = config.Vision.ImageSize;
        if (crops == 0) return (ids, null);
        var pixels = new Tensor(crops, 3, s, s);
        for (int i = 0; i < pixels.Length; i++) pixels.Data[i] = (float)(rng.NextDouble() * 2 - 1);
        return (ids, pixels);
    }

    /// <summary>
    /// Ways to cut a prompt into chunks of 1..7 tokens: two random ones; one with a boundary right before and right
    /// after every marker start s_j and at s_j + 1 (where A variants start seeing crop j); one token at a time.
    /// </summary>
    private static IEnumerable<(string How, int[] Chunks)> Chunkings(Prompt prompt, Random rng)
    {
        for (int r = 0; r < 2; r++)
            yield return ($"random {r}", CutAt(prompt.Length, new HashSet<int>(), rng));
        var cuts = prompt.MarkerStarts.SelectMany(s => new[] { s, s + 1, s + 2 }).ToHashSet();
        yield return ("at markers", CutAt(prompt.Length, cuts, rng));
        yield return ("one by one", Enumerable.Repeat(1, prompt.Length).ToArray());
    }

    /// <summary>Chunk sizes 1..7 that add up to <paramref name="length"/> and put a boundary at every index in <paramref name="cuts"/>.</summary>
    private static int[] CutAt(int length, ISet<int> cuts, Random rng)
    {
        var chunks = new List<int>();
        int start = 0;
        while (start < length)
        {
            int end = Math.Min(length, start + rng.Next(1, 8));
            for (int c = start + 1; c < end; c++)
                if (cuts.Contains(c)) { end = c; break; }
            chunks.Add(end - start);
            start = end;
        }
        return [.. chunks];
    }

    // ---- Comparison -----------------------------------------------------------------------------------------------

    /// <summary>Compares `[rows, vocab]` logits with the reference rows starting at <paramref name="firstRow"/>.</summary>
    private static void AssertLogits(Tensor actual, NaiveOwl3Result expected, int firstRow, string what, Func<string>? diagnostics = null)
    {
        Assert.Equal(expected.Vocab, actual.Cols);
        var reference = expected.Logits.AsSpan(firstRow * expected.Vocab, actual.Length);
        double scale = ReferenceAssert.MaxAbs(reference);
        var (err, _) = ReferenceAssert.MaxRel(actual.Data, reference, floor: scale);
        if (err <= LogitsBound) return;
        string report = ReferenceAssert.Report($"{what}: logits max-abs/max|expected| {err:G4} > {LogitsBound:G4}", actual.Data, reference);
        throw new XunitException(report + (diagnostics?.Invoke() ?? ""));
    }

    /// <summary>Per decoder layer, the engine's hidden state against the reference (finds the first layer that goes wrong).</summary>
    private static string LayerReport(DictionaryTrace trace, NaiveOwl3Result expected, Owl3Config config)
    {
        var sb = new StringBuilder("  hidden states, max-abs/max|expected| per layer input (last = final norm):\n");
        for (int l = 0; l <= config.Layers; l++)
        {
            if (!trace.Values.TryGetValue($"hidden_states.{l}", out var h)) continue;
            double scale = ReferenceAssert.MaxAbs(expected.HiddenStates[l]);
            var (err, at) = ReferenceAssert.MaxRel(h.Data, expected.HiddenStates[l], scale);
            sb.AppendLine(CultureInfo.InvariantCulture, $"    {l}{(config.IsHyperLayer(l) ? " (hyper)" : "")}: {err:G4} at token {at / config.Hidden}");
        }
        return sb.ToString();
    }

    /// <summary>An opened checkpoint, its model on a one-thread-per-core CPU backend, and a runner over a small paged cache.</summary>
    private sealed class Engine : IDisposable
    {
        public Engine(string dir)
        {
            Checkpoint = Owl3Checkpoint.Open(dir);
            Runner = new ModelRunner(new Owl3Model(Checkpoint, new CpuBackend()), numBlocks: 64, BlockSize);
        }

        public Owl3Checkpoint Checkpoint { get; }
        public ModelRunner Runner { get; }

        public void Dispose()
        {
            Runner.Dispose();
            Checkpoint.Dispose();
        }
    }
}
