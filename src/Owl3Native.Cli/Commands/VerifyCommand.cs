using System.Globalization;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Owl3;
using Owl3Native.Engine;
using Owl3Native.Verification;

namespace Owl3Native.Cli.Commands;

internal sealed record VerifyReport(string Model, string Golden, string Device, int Passed, int Failed, int Unused, int GoldenInconsistent, IReadOnlyList<Comparison> Tensors);

/// <summary>`owl3 verify --model &lt;dir&gt; --golden &lt;dir&gt; [--device cpu|cuda] [--dump &lt;file&gt;]`.</summary>
internal sealed class VerifyCommand : Command
{
    public override string Name => "verify";
    public override string Usage => "verify --model <dir> --golden <dir> [--device cpu|cuda] [--dump <file.safetensors>] [--json]";
    public override string Summary => "run every case of <golden>/golden.json and compare each tensor with the original implementation's";
    public override string? Details =>
        "Feeds each case's golden input_ids, pixel_values and marker starts as given. Per tensor: max-abs = max|ours - golden|,\n" +
        "max-rel = max-abs / max|golden|. Exit 1 when a float tensor exceeds max-rel 1e-4 (fp32 CPU) or an integer tensor differs.\n" +
        "Tensors of parts the model never runs (last SigLIP layer, post-layernorm, pooling head) are reported as unused.\n" +
        "--device cuda checks what the engine computes on the GPU (image features, each sequence's last-row logits, greedy\n" +
        "tokens fed the golden's own, the cache path) by NMSE <= 1e-3 (bf16); a differing greedy token passes only as a near-tie.";
    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("model", true, "checkpoint folder", ValueName: "DIR"),
        new("golden", true, "golden folder (golden.json + golden.safetensors)", ValueName: "DIR"),
        new("device", true, "cpu (default) or cuda", ValueName: "D"),
        new("dump", true, "write every compared tensor we produced, under the golden's name", ValueName: "FILE"),
        new("threads", true, "CPU threads (default: all cores)", ValueName: "N"),
        new("json", false, "print exactly one JSON document on stdout"),
    ];

    public override int Run(ParsedArgs args, Console console)
    {
        args.NoMorePositionals(0);
        string model = args.Value("model") ?? throw new UsageException("--model is required");
        string goldenDir = args.Value("golden") ?? throw new UsageException("--golden is required");
        string device = args.Value("device") ?? "cpu";
        if (device is not ("cpu" or "cuda")) throw new UsageException($"--device must be cpu or cuda, not '{device}'");
        if (device == "cuda" && args.Value("dump") is not null) throw new UsageException("--dump writes the CPU's traced tensors: use it with --device cpu");
        using var ckpt = Owl3Checkpoint.Open(model);
        using var golden = GoldenSet.Open(goldenDir);
        var owl = new Owl3Model(ckpt, new CpuBackend(args.Int("threads", 0, min: 0, max: 1024)));
        bool json = args.Flag("json");
        if (!json) console.Out.WriteLine($"{"tensor",-48} {"shape",-16} {"max-abs",10} {"max-rel",10}  result");
        void Print(Comparison c)
        {
            if (json) return;
            string status = c.Status switch
            {
                ComparisonStatus.Pass => "ok",
                ComparisonStatus.Unused => "unused",
                ComparisonStatus.Inconsistent => "golden inconsistent",
                _ => "FAIL",
            };
            string detail = c.Note is not null ? $" ({c.Note})" : c.Mismatches > 0 ? $" ({c.Mismatches} elements differ)" : "";
            console.Out.WriteLine($"{c.Name,-48} {c.Shape,-16} {Num(c.MaxAbs),10} {Num(c.MaxRel),10}  {status}{detail}");
        }
        List<Comparison> results;
        if (device == "cuda")
        {
            // The GPU path as the engine runs it (tower, language model, paged cache on the device) against the goldens.
            DeviceTextForward gpu;
            try
            {
                gpu = DeviceTextForward.Load(ckpt, numBlocks: 512, blockSize: 16);
            }
            catch (Cuda.Runtime.GpuUnavailableException e)
            {
                throw new UserErrorException($"--device cuda: {e.Message}");
            }
            using var runner = new ModelRunner(owl, gpu); // one that refuses the device disposes it
            results = new DeviceGoldenVerifier(owl, golden, runner).Run(c => { if (!json) Print(c); });
        }
        else
        {
            var verifier = new GoldenVerifier(owl, golden, ckpt.Weights);
            results = verifier.Run(c => { if (!json) Print(c); });
            if (args.Value("dump") is { } dump) Dump(dump, verifier);
        }
        var report = new VerifyReport(ckpt.Directory, golden.Directory, device,
            results.Count(r => r.Status == ComparisonStatus.Pass), results.Count(r => r.Status == ComparisonStatus.Fail),
            results.Count(r => r.Status == ComparisonStatus.Unused), results.Count(r => r.Status == ComparisonStatus.Inconsistent), results);
        if (json) JsonOutput.Write(console, report, JsonOutput.Default.VerifyReport);
        else console.Out.WriteLine($"{report.Passed} passed, {report.Failed} failed, {report.Unused} unused, {report.GoldenInconsistent} golden-inconsistent " +
            (device == "cuda" ? $"(bf16 on the device: nmse bound {DeviceGoldenVerifier.NmseBound:0e0}, greedy tokens or near-ties; intermediates are the CPU verifier's)" : $"(max-rel tolerance {Comparison.Fp32Tolerance:0e0})"));
        if (report.Failed > 0)
        {
            console.Error.WriteLine($"error: {report.Failed} golden tensor(s) differ: {string.Join(", ", results.Where(r => r.Status == ComparisonStatus.Fail).Take(5).Select(r => r.Name))}");
            return 1;
        }
        return 0;
    }

    private static string Num(double v) => double.IsNaN(v) ? "-" : v.ToString("0.00e+00", CultureInfo.InvariantCulture);

    private static void Dump(string path, GoldenVerifier verifier)
    {
        var writer = new SafeTensorWriter();
        foreach (var (name, (shape, floats, longs)) in verifier.Produced.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var dims = new Shape(shape.Select(d => (long)d).ToArray());
            if (floats is not null) writer.AddF32(name, dims, floats);
            else writer.Add(name, DType.I64, dims, System.Runtime.InteropServices.MemoryMarshal.AsBytes(longs.AsSpan()).ToArray());
        }
        writer.WriteTo(path);
    }
}
