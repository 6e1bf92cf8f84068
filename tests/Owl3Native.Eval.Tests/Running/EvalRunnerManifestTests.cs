using Owl3Native.Eval.Data;
using Owl3Native.Eval.Prompts;
using Owl3Native.Eval.Running;
using Owl3Native.Eval.Tests.Data;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Eval.Tests.Running;

public sealed class EvalRunnerManifestTests
{
    private sealed class Canned : IEvalModel
    {
        public string Name => "canned";
        public string Answer(EvalInputs inputs, CancellationToken cancellation) => "yes";
    }

    [Fact]
    public void A_rerun_with_another_plan_in_the_same_out_folder_is_refused()
    {
        using var dir = new TempDirectory("owl3-eval-manifest");
        string planA = Path.Combine(dir.Path, "a.yaml"), planB = Path.Combine(dir.Path, "b.yaml");
        File.WriteAllText(planA, "- type: VQATask\n  ds_name: pope_random\n  cut_cfg: {anchors: grid_squ_6, anchor_strategy: docowl, cut_prompt: v2, add_global: True, cut_prob: 1.0}\n");
        File.WriteAllText(planB, "- type: VQATask\n  ds_name: pope_random\n");
        string outDir = Path.Combine(dir.Path, "out");
        var runner = new EvalRunner(new Canned(), (_, _) => null, TextWriter.Null);
        runner.Run(new EvalRunOptions(planA, DataFixtures.Root, outDir, Shard.All, Limit: 2));
        string predictions = Path.Combine(outDir, "pope_random.jsonl");
        File.WriteAllText(predictions, File.ReadAllLines(predictions)[0] + "\n"); // interrupted after one record
        // The same ds_name under another plan (other prompt settings) would be appended to the same predictions file.
        var e = Assert.Throws<InvalidOperationException>(() => runner.Run(new EvalRunOptions(planB, DataFixtures.Root, outDir, Shard.All, Limit: 2)));
        Assert.Contains("plan", e.Message);
        Assert.Single(File.ReadAllLines(predictions));
    }
}
