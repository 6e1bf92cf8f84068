using Owl3Native.Cuda.Kernels;
using Xunit;

namespace Owl3Native.Cuda.Tests.Compile;

/// <summary>Every kernel compiles through NVRTC for sm_80 and sm_90, spill-free and within its declared budget (no GPU).</summary>
public sealed class KernelCompileTests
{
    [RequiresNvrtcFact]
    public void Every_kernel_compiles_spill_free_within_budget_for_sm80_and_sm90()
    {
        var rows = KernelCheck.Run();
        Assert.NotEmpty(rows);
        var failures = rows.Where(r => !r.Ok).Select(r => $"{r.File}/{r.Kernel}/{r.Arch}: {r.Problem}").ToArray();
        Assert.True(failures.Length == 0, string.Join("\n", failures));
        // Every budgeted kernel appears for both architectures; an architecture-specific one once, for its target:
        // assembled by ptxas where this NVRTC can, else its C++ compiled to PTX (the row says so).
        foreach (var file in KernelSources.Files)
            foreach (var b in file.Budgets)
            {
                var mine = rows.Where(r => r.Kernel == b.Kernel).ToArray();
                if (file.Target is not { } t) { Assert.Equal(2, mine.Length); continue; }
                var row = Assert.Single(mine);
                if (t.Unavailable(file.Name, t.Family, KernelCompiler.NvrtcVersion()) is null) Assert.Equal(t.Arch, row.Arch);
                else Assert.True(row.Arch == t.Virtual && row.Note!.StartsWith("PTX only", StringComparison.Ordinal), $"{b.Kernel}: {row}");
            }
    }

    /// <summary>
    /// The disk cache a loading engine warms several files at a time (KernelCache.Warm): concurrent compiles of different
    /// files each land whole under their key, and a second pass reads them back without compiling.
    /// </summary>
    [RequiresNvrtcFact]
    public void Concurrent_compiles_into_the_disk_cache_each_land_whole_and_are_read_back_the_second_time()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"owl3-kernel-cache-{Guid.NewGuid():N}");
        try
        {
            var files = new[] { "norm.cu", "activation.cu", "rope.cu", "kv_write.cu" }.Select(KernelSources.File).ToArray();
            var first = new byte[files.Length][];
            Parallel.For(0, files.Length, new ParallelOptions { MaxDegreeOfParallelism = files.Length }, i => first[i] = Runtime.KernelCache.Cubin(dir, files[i], "sm_80"));
            var stored = Directory.GetFiles(dir);
            Assert.Equal(files.Length, stored.Length); // no temporary file left, one CUBIN per file
            Assert.All(stored, f => Assert.EndsWith(".cubin", f));
            var written = stored.ToDictionary(f => f, File.GetLastWriteTimeUtc);
            for (int i = 0; i < files.Length; i++)
            {
                Assert.Equal(0x7F, first[i][0]); // an ELF image
                Assert.Equal(first[i], Runtime.KernelCache.Cubin(dir, files[i], "sm_80"));
            }
            Assert.All(written, w => Assert.Equal(w.Value, File.GetLastWriteTimeUtc(w.Key))); // read back, not rewritten
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The warpgroup-MMA prefill's PTX carries the Hopper instructions it is written for (the C++ front end of any
    /// NVRTC emits the inline PTX as written; ptxas ≥ 12 assembles it on the device).
    /// </summary>
    [RequiresNvrtcFact]
    public void The_sm90a_prefill_compiles_to_ptx_with_its_warpgroup_instructions()
    {
        var file = KernelSources.File("attention_prefill_sm90.cu");
        Assert.Equal(new KernelTarget("sm_90a", 12, 0), file.Target);
        string ptx = KernelCompiler.CompilePtx(file, file.Target!.Virtual);
        Assert.Contains(".entry attention_prefill_wgmma_ws3_d128_bf16(", ptx);
        Assert.Contains(".entry attention_prefill_wgmma_ws3p_d128_bf16(", ptx);
        Assert.Contains(".entry attention_prefill_wgmma_ws3p_d64_bf16(", ptx);
        Assert.Contains("wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16", ptx);
        foreach (var instruction in new[] { "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16", "wgmma.fence.sync.aligned", "wgmma.commit_group.sync.aligned",
                     "wgmma.wait_group.sync.aligned", "fence.proxy.async.shared::cta", "cp.async.cg.shared.global",
                     "cp.async.mbarrier.arrive.noinc.shared.b64", "mbarrier.try_wait.parity.shared.b64", "mbarrier.init.shared.b64" })
            Assert.Contains(instruction, ptx);
        // Every variant fits one CTA per multiprocessor on Hopper (227 KiB of shared memory with the static part).
        foreach (var v in Owl3Native.Cuda.Kernels.AttentionKernels.PrefillExperiments.Where(v => v.Engine == PrefillEngine.Wgmma))
            Assert.True(v.SharedBytes + 256 <= 227 * 1024, $"{v.Kernel}: {v.SharedBytes} B");
    }

    /// <summary>
    /// Programmatic dependent launch: the decode, combine and K/V-write kernels wait for the previous kernel and let the
    /// next start early on sm_90 (griddepcontrol); below sm_90 the hooks compile away.
    /// </summary>
    [RequiresNvrtcFact]
    public void Pdl_hooks_are_compiled_for_sm90_only()
    {
        foreach (var name in new[] { "attention_decode_paged.cu", "kv_write.cu" })
        {
            var file = KernelSources.File(name);
            string sm90 = KernelCompiler.CompilePtx(file, "compute_90"), sm80 = KernelCompiler.CompilePtx(file, "compute_80");
            Assert.Contains("griddepcontrol.wait", sm90);
            Assert.Contains("griddepcontrol.launch_dependents", sm90);
            Assert.DoesNotContain("griddepcontrol", sm80);
        }
    }

    /// <summary>
    /// The cluster decode is an sm_90 file (no sm_80 build, the portable decode serves there) whose PTX merges through
    /// distributed shared memory between two cluster barriers, and never touches the global partials' combine path.
    /// </summary>
    [RequiresNvrtcFact]
    public void Cluster_decode_is_sm90_only_and_merges_through_distributed_shared_memory()
    {
        var file = KernelSources.File(AttentionKernels.ClusterDecodeFile);
        Assert.Equal(("sm_90", "sm_90"), (file.Target?.Arch, file.Target?.Family));
        Assert.Contains("runs only on sm_90 devices", file.Target!.Unavailable(file.Name, "sm_80", (11, 8)));
        Assert.Null(file.Target.Unavailable(file.Name, "sm_90", (11, 8)));
        string ptx = KernelCompiler.CompilePtx(file, "compute_90");
        foreach (string instruction in new[] { "mapa.shared::cluster.u32", "ld.shared::cluster.v4.f32", "ld.shared::cluster.v2.f32", "barrier.cluster.arrive", "barrier.cluster.wait", "%cluster_ctarank" })
            Assert.Contains(instruction, ptx);
        foreach (int dp in new[] { 16, 64, 80, 128, 256 })
        {
            var entry = System.Text.RegularExpressions.Regex.Match(ptx, $@"\.entry attention_decode_cluster_d{dp}_bf16\((?s:.*?)\n}}");
            Assert.True(entry.Success, $"no entry for d{dp}");
            // Two cluster barriers (after the partials are written, before the CTA leaves); no atomics, no global partials.
            Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(entry.Value, "barrier.cluster.wait").Count);
            Assert.DoesNotContain("atom.", entry.Value);
        }
        // The portable decode file stays free of cluster instructions (it runs on sm_80 too).
        Assert.DoesNotContain("shared::cluster", KernelCompiler.CompilePtx(KernelSources.File("attention_decode_paged.cu"), "compute_80"));
    }

    [Fact]
    public void Arch_lines_name_a_target_and_refuse_other_devices_and_old_nvrtc()
    {
        Assert.Null(KernelSources.ParseTarget("a.cu", "// budget: k registers<=1 smem<=0\n"));
        var t = KernelSources.ParseTarget("a.cu", "// x\n// arch: sm_90a nvrtc>=12.0\n")!;
        Assert.Equal(("sm_90a", "sm_90", "compute_90"), (t.Arch, t.Family, t.Virtual));
        Assert.Null(t.Unavailable("a.cu", "sm_90", (13, 0)));
        Assert.Null(t.Unavailable("a.cu", "sm_90", (12, 0)));
        Assert.Contains("needs NVRTC ≥ 12.0 for sm_90a (found 11.8)", t.Unavailable("a.cu", "sm_90", (11, 8)));
        Assert.Contains("runs only on sm_90 devices", t.Unavailable("a.cu", "sm_80", (13, 0)));
        Assert.Contains("NVRTC not found", t.Unavailable("a.cu", "sm_90", null));
        Assert.Throws<FormatException>(() => KernelSources.ParseTarget("a.cu", "// arch: sm_90a\n"));
        Assert.Throws<FormatException>(() => KernelSources.ParseTarget("a.cu", "// arch: sm_90a nvrtc>=12.0\n// arch: sm_90a nvrtc>=12.0\n"));
    }

    [RequiresNvrtcFact]
    public void A_broken_kernel_reports_the_file_and_the_log()
    {
        var bad = new KernelFile("broken.cu", "extern \"C\" __global__ void broken_bf16(int x) { undefined_thing(x); }\n", []);
        var e = Assert.Throws<Runtime.KernelCompileException>(() => KernelCompiler.Compile(bad, "sm_80"));
        Assert.Equal("broken.cu", e.File);
        Assert.Contains("undefined_thing", e.Log);
    }

    [Fact]
    public void Ptxas_report_is_parsed_per_kernel()
    {
        const string log = """
            ptxas info    : 0 bytes gmem
            ptxas info    : Compiling entry function 'a_bf16' for 'sm_90'
            ptxas info    : Function properties for a_bf16
            ptxas         .     8 bytes stack frame, 12 bytes spill stores, 16 bytes spill loads
            ptxas info    : Used 71 registers, 4096 bytes smem, 408 bytes cmem[0]
            ptxas info    : Compiling entry function 'b_bf16' for 'sm_90'
            ptxas info    : Function properties for b_bf16
            ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 13 registers, 380 bytes cmem[0]
            """;
        var r = KernelCompiler.ParseReport(log, "sm_90");
        Assert.Equal(new KernelResources("a_bf16", "sm_90", 71, 4096, 8, 12, 16), r[0]);
        Assert.Equal(new KernelResources("b_bf16", "sm_90", 13, 0, 0, 0, 0), r[1]);
    }

    [Fact]
    public void Every_entry_point_declares_a_budget()
    {
        Assert.All(KernelSources.Files, f => Assert.NotEmpty(f.Budgets));
        var e = Assert.Throws<FormatException>(() => KernelSources.ParseBudgets("x.cu", "extern \"C\" __global__ void k_bf16(int a) {}"));
        Assert.Contains("kernel `k_bf16` has no `// budget:", e.Message);
        Assert.Contains(KernelSources.Headers, h => h.Name == "common.cuh");
    }
}
