using Owl3Native.Core.Cpu;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Owl3;
using Owl3Native.TestKit;
using Owl3Native.Verification;
using Xunit;

namespace Owl3Native.Tests.Verification;

/// <summary>`owl3 verify` on the original implementation's goldens: every case, every tensor, fp32 max-rel ≤ 1e-4.</summary>
public sealed class GoldenVerificationTests
{
    private static List<Comparison> Verify(string name, int threads)
    {
        using var ckpt = Owl3Checkpoint.Open(SharedData.Golden(name));
        using var golden = GoldenSet.Open(SharedData.Golden(name));
        return new GoldenVerifier(new Owl3Model(ckpt, new CpuBackend(threads)), golden, ckpt.Weights).Run();
    }

    [Theory]
    [InlineData("tiny-a", 1)]
    [InlineData("tiny-a", 2)]
    [InlineData("tiny-c", 2)]
    public void Every_golden_tensor_matches(string name, int threads)
    {
        var results = Verify(name, threads);
        var failures = results.Where(r => r.Status == ComparisonStatus.Fail).Select(r => $"{r.Name}: max-rel {r.MaxRel:g3} {r.Note}").ToArray();
        Assert.True(failures.Length == 0, string.Join("\n", failures));
        using var golden = GoldenSet.Open(SharedData.Golden(name));
        // Every case was exercised: its logits, its hidden states, and its generation / cache checks where it has them.
        foreach (var (c, _) in golden.Cases)
            Assert.Contains(results, r => r.Name == $"case.{c}.logits" && r.Status == ComparisonStatus.Pass);
        Assert.Equal(golden.Names.Count(n => n.StartsWith("gen.", StringComparison.Ordinal)),
            results.Count(r => r.Name.StartsWith("gen.", StringComparison.Ordinal) && r.Status == ComparisonStatus.Pass));
        Assert.Equal(golden.Names.Count(n => n.StartsWith("cache.", StringComparison.Ordinal)),
            results.Count(r => r.Name.StartsWith("cache.", StringComparison.Ordinal) && r.Status == ComparisonStatus.Pass));
        Assert.Equal(3, results.Count(r => r.Status == ComparisonStatus.Unused)); // last SigLIP layer, post-layernorm, head
        Assert.All(results.Where(r => r.Status == ComparisonStatus.Pass), r => Assert.True(r.MaxRel < 1e-5, $"{r.Name} {r.MaxRel}"));
    }

    [Fact]
    public void The_240728_hyper_intermediates_match_and_only_v_kv_is_flagged()
    {
        var results = Verify("tiny-c", 2);
        foreach (var part in new[] { "context_in", "gate", "context_out" })
            Assert.Contains(results, r => r.Name == $"case.two_images.hyper.0.{part}" && r.Status == ComparisonStatus.Pass);
        // The golden's v_kv tensors contradict their own definition (see GoldenVerifier.CompareVisualKv); ours match an
        // independent fp64 recomputation, and everything downstream of v_kv matches the golden.
        Assert.All(results.Where(r => r.Status == ComparisonStatus.Inconsistent), r => Assert.EndsWith(".v_kv", r.Name));
    }

    [Fact]
    public void A_wrong_model_fails_verification()
    {
        // Guard against a verifier that cannot fail: tiny-c's checkpoint against tiny-a's goldens.
        using var ckpt = Owl3Checkpoint.Open(SharedData.Golden("tiny-c"));
        using var golden = GoldenSet.Open(SharedData.Golden("tiny-a"));
        var results = new GoldenVerifier(new Owl3Model(ckpt, new CpuBackend(2)), golden, ckpt.Weights).Run();
        Assert.Contains(results, r => r.Name == "case.one_image.logits" && r.Status == ComparisonStatus.Fail);
    }
}
