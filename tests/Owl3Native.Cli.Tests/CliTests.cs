using System.Text.Json;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Cli.Tests;

public sealed class CliTests
{
    [Theory]
    [InlineData("tiny-a", "241101", new[] { 2, 4 }, new[] { 1, 3 }, 135)]
    [InlineData("tiny-c", "240728", new[] { 1, 4 }, new[] { 0, 3 }, 137)]
    public void Inspect_json_reports_the_golden_configs(string golden, string variant, int[] config, int[] zeroBased, int tensors)
    {
        var r = CliRunner.Run("inspect", SharedData.Golden(golden), "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out); // stdout is exactly one JSON document
        var root = doc.RootElement;
        Assert.Equal(variant, root.GetProperty("variant").GetString());
        Assert.Equal(config, root.GetProperty("hyper_layers_config").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(zeroBased, root.GetProperty("hyper_layers_zero_based").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(tensors, root.GetProperty("tensors").GetInt32());
        Assert.Equal(512, root.GetProperty("vocab_rows").GetInt32());
        Assert.Equal(64, root.GetProperty("hidden").GetInt32());
        Assert.Equal(4, root.GetProperty("heads").GetInt32());
        Assert.Equal(2, root.GetProperty("kv_heads").GetInt32());
        Assert.Equal(16, root.GetProperty("head_dim").GetInt32());
        Assert.Equal(9, root.GetProperty("image_tokens_per_crop").GetInt32());
        Assert.Equal(640, root.GetProperty("kv_bytes_per_text_token").GetInt64());
        Assert.Equal(tensors, root.GetProperty("dtypes").GetProperty("BF16").GetInt32());
        Assert.True(root.GetProperty("parameters").GetProperty("total").GetProperty("parameters").GetInt64() > 0);
        Assert.Equal("", r.Error);
    }

    [Fact]
    public void Inspect_text_names_variant_and_hyper_layers()
    {
        var r = CliRunner.Run("inspect", SharedData.Golden("tiny-c"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("240728 (A-dyn", r.Out);
        Assert.Contains("[1, 4] in config.json (1-based) = layers [0, 3] (0-based)", r.Out);
        Assert.Contains("6 edge pixels unused", r.Out);
    }

    [Fact]
    public void Inspect_of_a_broken_folder_exits_1_with_one_line()
    {
        using var dir = new TempDirectory();
        foreach (var f in new[] { "config.json", "generation_config.json" })
            File.Copy(Path.Combine(SharedData.Golden("tiny-a"), f), Path.Combine(dir.Path, f));
        byte[] weights = File.ReadAllBytes(Path.Combine(SharedData.Golden("tiny-a"), "model.safetensors"));
        File.WriteAllBytes(Path.Combine(dir.Path, "model.safetensors"), weights[..1000]);
        var r = CliRunner.Run("inspect", dir.Path);
        Assert.Equal(1, r.ExitCode);
        string line = Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: " + Path.Combine(dir.Path, "model.safetensors") + ":", line);
        Assert.DoesNotContain("   at ", r.Error); // no stack trace without --verbose
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void Inspect_of_an_empty_weights_file_and_a_missing_folder_exit_1()
    {
        using var dir = new TempDirectory();
        Assert.Equal(1, CliRunner.Run("inspect", Path.Combine(dir.Path, "missing")).ExitCode);
        File.Copy(Path.Combine(SharedData.Golden("tiny-a"), "config.json"), Path.Combine(dir.Path, "config.json"));
        File.WriteAllBytes(Path.Combine(dir.Path, "model.safetensors"), []);
        var r = CliRunner.Run("inspect", dir.Path, "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("file is empty", r.Error);
    }

    [Fact]
    public void Inspect_lists_warnings_and_exits_0()
    {
        using var dir = new TempDirectory();
        foreach (var f in Directory.EnumerateFiles(SharedData.Golden("tiny-a")).Where(f => !Path.GetFileName(f).StartsWith("golden", StringComparison.Ordinal)))
            File.Copy(f, Path.Combine(dir.Path, Path.GetFileName(f)));
        File.Delete(Path.Combine(dir.Path, "generation_config.json"));
        var r = CliRunner.Run("inspect", dir.Path, "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Contains(doc.RootElement.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("generation_config.json"));
    }

    [Theory]
    [InlineData("241101", "1")]
    [InlineData("240728", "3")]
    [InlineData("241014", "2")]
    public void MakeTiny_then_inspect(string variant, string shards)
    {
        using var dir = new TempDirectory();
        var make = CliRunner.Run("make-tiny", dir.Path, "--variant", variant, "--shards", shards, "--seed", "11", "--json");
        Assert.Equal(0, make.ExitCode);
        using (var doc = JsonDocument.Parse(make.Out))
            Assert.Equal(variant, doc.RootElement.GetProperty("variant").GetString());
        var r = CliRunner.Run("inspect", dir.Path, "--json");
        Assert.Equal(0, r.ExitCode);
        using var inspect = JsonDocument.Parse(r.Out);
        Assert.Equal(variant, inspect.RootElement.GetProperty("variant").GetString());
        Assert.Equal(int.Parse(shards, System.Globalization.CultureInfo.InvariantCulture), inspect.RootElement.GetProperty("weight_files").GetArrayLength());
        Assert.Empty(inspect.RootElement.GetProperty("warnings").EnumerateArray());
    }

    [Theory]
    [InlineData("inspect")]                                   // missing positional
    [InlineData("inspect", "a", "--bogus")]                   // unknown option
    [InlineData("make-tiny", "x", "--variant", "999999")]      // bad value
    [InlineData("make-tiny", "x", "--shape", "13b")]
    [InlineData("make-tiny", "x", "--shards", "0")]
    [InlineData("make-tiny", "x", "--seed")]                  // missing value
    [InlineData("frobnicate")]                                // unknown command
    public void Usage_errors_exit_2(params string[] args)
    {
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.ExitCode);
        Assert.NotEqual("", r.Error);
    }

    [Theory]
    [InlineData("inspect")]
    [InlineData("make-tiny")]
    [InlineData("doctor")]
    [InlineData("demo")]
    public void Every_command_has_help(string command)
    {
        var r = CliRunner.Run(command, "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith($"usage: owl3 {command}", r.Out);
    }

    [Theory]
    [InlineData("--plan is required", "eval", "run")]
    [InlineData("sub-command", "eval")]
    [InlineData("unknown eval sub-command", "eval", "fly")]
    [InlineData("exactly one --task", "eval", "score", "--predictions", "p.jsonl", "--data", ".")]
    [InlineData("--protocol must be", "eval", "score", "--task", "pope_random", "--predictions", "p.jsonl", "--data", ".", "--protocol", "lenient")]
    [InlineData("merge needs the shard output folders", "eval", "merge", "--out", "o", "--data", ".")]
    public void Eval_usage_errors_exit_2_and_say_what_is_missing(string message, params string[] args)
    {
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Error);
    }

    [Fact]
    public void Doctor_reports_the_machine_as_json()
    {
        var r = CliRunner.Run("doctor", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(4, doc.RootElement.GetProperty("libraries").GetArrayLength());
        Assert.Equal(Environment.ProcessorCount, doc.RootElement.GetProperty("cores").GetInt32());
        Assert.StartsWith("cpu", doc.RootElement.GetProperty("default_device").GetString());
        // Whether kernels compile here, and whether --device cuda could run (with the reason when it cannot).
        string kernels = doc.RootElement.GetProperty("kernels").GetString()!;
        if (Owl3Native.Cuda.Runtime.NativeLibraryResolver.Probe(Owl3Native.Cuda.Runtime.CudaLibrary.Nvrtc).Found) Assert.StartsWith("compile: ok", kernels);
        else Assert.StartsWith("cannot compile: NVRTC not found", kernels);
        if (NoGpu() is { } why) Assert.Contains("`--device cuda` cannot run here", doc.RootElement.GetProperty("default_device").GetString());
    }

    [Fact]
    public void Demo_runs_an_image_chat_on_a_tiny_checkpoint_and_says_the_weights_are_random()
    {
        var r = CliRunner.Run("demo");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("making a tiny random-weight checkpoint", r.Out);
        Assert.Contains("text is meaningless", r.Out);
        Assert.Contains("Assistant: ", r.Out);
        Assert.Contains("(7 image crops), 24 new tokens", r.Out); // a 320x240 image cut 2x3 + the global view
        if (NoGpu() is not null) Assert.Equal(1, CliRunner.Run("demo", "--device", "cuda").ExitCode);
    }

    /// <summary>Why no GPU can be used here (null: one can).</summary>
    private static string? NoGpu()
    {
        try
        {
            using var ctx = Owl3Native.Cuda.Runtime.CudaContext.Open();
            return null;
        }
        catch (Owl3Native.Cuda.Runtime.GpuUnavailableException e)
        {
            return e.Reason;
        }
    }

    [Fact]
    public void Device_cuda_without_a_gpu_exits_1_saying_why_and_a_bad_device_is_a_usage_error()
    {
        foreach (var command in new[] { "generate", "bench", "verify" })
        {
            // Where a GPU exists, verify --device cuda checks the GPU path against the goldens, and must pass.
            string[] args = command switch
            {
                "generate" => ["generate", "--model", SharedData.Golden("tiny-a"), "--prompt", "hi", "--max-new-tokens", "2", "--device", "cuda", "--json"],
                "bench" => ["bench", "--model", SharedData.Golden("tiny-a"), "--prompt-tokens", "4", "--new-tokens", "2", "--no-vision", "--device", "cuda", "--json"],
                _ => ["verify", "--model", SharedData.Golden("tiny-a"), "--golden", SharedData.Golden("tiny-a"), "--device", "cuda", "--json"],
            };
            var r = CliRunner.Run(args);
            if (NoGpu() is { } why)
            {
                Assert.Equal(1, r.ExitCode);
                Assert.Contains("--device cuda: no usable GPU: " + why, r.Error);
                Assert.Contains("no usable GPU", JsonDocument.Parse(r.Out).RootElement.GetProperty("error").GetString());
            }
            else Assert.Equal(0, r.ExitCode);
        }
        Assert.Equal(2, CliRunner.Run("generate", "--model", SharedData.Golden("tiny-a"), "--prompt", "hi", "--device", "tpu").ExitCode);
        Assert.Equal(2, CliRunner.Run("verify", "--model", SharedData.Golden("tiny-a"), "--golden", SharedData.Golden("tiny-a"), "--device", "cuda", "--dump", "x.safetensors").ExitCode);
        Assert.Equal(2, CliRunner.Run("serve", "--model", SharedData.Golden("tiny-a"), "--device", "tpu").ExitCode);
    }

    [Fact]
    public void Generate_json_reproduces_the_golden_greedy_tokens_from_the_image_file()
    {
        string image = Path.Combine(SharedData.Root, "golden", "processor", "images", "grad_500x500.png");
        var r = CliRunner.Run("generate", "--model", SharedData.Golden("tiny-a"), "--image", image, "--prompt", "<|image|>Describe this image.",
            "--max-new-tokens", "16", "--temperature", "0", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        using var golden = Owl3Native.Verification.GoldenSet.Open(SharedData.Golden("tiny-a"));
        Assert.Equal(golden.Longs("gen.processor_cut_image.new_tokens").Select(v => (int)v), doc.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal("length", doc.RootElement.GetProperty("finish_reason").GetString());
        Assert.Equal(39, doc.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public void Generate_refuses_bad_media_with_one_line()
    {
        using var dir = new TempDirectory();
        string bad = Path.Combine(dir.Path, "x.png");
        File.WriteAllBytes(bad, [1, 2, 3, 4]);
        var r = CliRunner.Run("generate", "--model", SharedData.Golden("tiny-a"), "--image", bad, "--prompt", "hi");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("x.png", r.Error);
        var two = CliRunner.Run("generate", "--model", SharedData.Golden("tiny-a"), "--image", bad, "--prompt", "<|image|><|image|>two markers, one image");
        Assert.Equal(1, two.ExitCode);
    }

    [Fact]
    public void Tokenize_and_preprocess_follow_the_contract()
    {
        var t = CliRunner.Run("tokenize", "--model", Path.Combine(SharedData.Root, "tokenizer", "qwen2"), "--text", "Hello world");
        Assert.Equal(0, t.ExitCode);
        using (var doc = JsonDocument.Parse(t.Out))
            Assert.Equal([9707, 1879], doc.RootElement[0].GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
        using var dir = new TempDirectory();
        string dump = Path.Combine(dir.Path, "p.safetensors");
        var p = CliRunner.Run("preprocess", "--model", SharedData.Golden("tiny-c"), "--image",
            Path.Combine(SharedData.Root, "golden", "processor", "images", "grad_1280x720.png"), "--dump", dump, "--json");
        Assert.Equal(0, p.ExitCode);
        using (var doc = JsonDocument.Parse(p.Out))
        {
            Assert.Equal(2, doc.RootElement.GetProperty("grid_rows").GetInt32());
            Assert.Equal(3, doc.RootElement.GetProperty("grid_cols").GetInt32());
            Assert.Contains("Cut to 2 rows 3 columns", doc.RootElement.GetProperty("expanded_text").GetString());
        }
        using var file = Owl3Native.Core.SafeTensors.SafeTensorFile.Open(dump);
        Assert.Equal(new Owl3Native.Core.Tensors.Shape(7, 3, 48, 48), file.Get("pixel_values").Shape);
    }

    [Theory]
    [InlineData("tiny-a")]
    [InlineData("tiny-c")]
    public void Verify_passes_on_the_goldens_and_dumps_what_it_compared(string golden)
    {
        using var dir = new TempDirectory();
        string dump = Path.Combine(dir.Path, "dump.safetensors");
        var r = CliRunner.Run("verify", "--model", SharedData.Golden(golden), "--golden", SharedData.Golden(golden), "--dump", dump);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains(" 0 failed", r.Out);
        using var file = Owl3Native.Core.SafeTensors.SafeTensorFile.Open(dump);
        using var g = Owl3Native.Core.SafeTensors.SafeTensorFile.Open(Path.Combine(SharedData.Golden(golden), "golden.safetensors"));
        foreach (var name in file.Names)
        {
            Assert.Equal(g.Get(name).Shape, file.Get(name).Shape);
            Assert.Equal(g.Get(name).DType == Owl3Native.Core.Tensors.DType.I64 ? Owl3Native.Core.Tensors.DType.I64 : Owl3Native.Core.Tensors.DType.F32, file.Get(name).DType);
        }
        Assert.Contains("case.one_image.logits", file.Names);
    }

    [Fact]
    public void Verify_of_a_mismatched_golden_exits_1()
    {
        var r = CliRunner.Run("verify", "--model", SharedData.Golden("tiny-c"), "--golden", SharedData.Golden("tiny-a"), "--json");
        Assert.Equal(1, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.True(doc.RootElement.GetProperty("failed").GetInt32() > 0);
    }

    [Fact]
    public void Kernels_reports_every_kernel_as_json_or_says_nvrtc_is_missing()
    {
        var r = CliRunner.Run("kernels", "--json");
        if (!Owl3Native.Cuda.Runtime.NativeLibraryResolver.Probe(Owl3Native.Cuda.Runtime.CudaLibrary.Nvrtc).Found)
        {
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("NVRTC not found", r.Error);
            return;
        }
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var rows = doc.RootElement.EnumerateArray().ToArray();
        Assert.Contains(rows, row => row.GetProperty("kernel").GetString() == "rms_norm_bf16" && row.GetProperty("arch").GetString() == "sm_90");
        Assert.All(rows, row => Assert.True(row.GetProperty("ok").GetBoolean()));
        Assert.All(rows, row => Assert.Equal(0, row.GetProperty("spill_store_bytes").GetInt32()));
        Assert.Equal(2, CliRunner.Run("kernels", "--arch", "x86").ExitCode);
    }
}
