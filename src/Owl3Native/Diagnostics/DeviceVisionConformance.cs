using System.Diagnostics;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.Cuda.Checks;
using Owl3Native.Cuda.Model;
using Owl3Native.Cuda.Runtime;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Models.Owl3;

namespace Owl3Native.Diagnostics;

/// <summary>
/// The vision tower and projector on the device (<see cref="DeviceSiglipTower"/>) against the CPU engine's
/// <see cref="Owl3Model.EncodeImages"/> on a real-format checkpoint (random weights): the image_embeds of random crops,
/// encoded in passes of fewer crops than the request has (so a pass boundary falls inside it), judged by NMSE. With a
/// benchmark: device milliseconds per crop at 16 crops a pass (the reference's vision_batch_size) and 64, against the CPU
/// tower's time per crop in the same run. Used by owl3-gpu-check.
/// </summary>
public static class DeviceVisionConformance
{
    /// <summary>Writes a <paramref name="shape"/> checkpoint of <paramref name="variant"/> under the temp folder and judges it (<see cref="Run(CudaContext, KernelCache, Owl3Checkpoint, double, bool)"/>).</summary>
    public static IReadOnlyList<ConformanceResult> Run(CudaContext context, KernelCache cache, ModelShape shape, Owl3Variant variant, double nmseBound = 1e-3)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"owl3-device-vision-{shape.Name()}-{variant}-{Environment.ProcessId}");
        try
        {
            CheckpointMaker.Write(dir, new MakeTinyOptions(variant, shape, Seed: 9, Overwrite: true));
            using var checkpoint = Owl3Checkpoint.Open(dir);
            return [Run(context, cache, checkpoint, nmseBound, bench: false).Result];
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Three random crops of <paramref name="checkpoint"/>'s image size through the device tower in passes of two crops and
    /// through the CPU model; with <paramref name="bench"/>, the timing rows as well.
    /// </summary>
    public static (ConformanceResult Result, IReadOnlyList<AttentionBenchRow> Bench) Run(CudaContext context, KernelCache cache, Owl3Checkpoint checkpoint,
        double nmseBound, bool bench)
    {
        var model = new Owl3Model(checkpoint, new CpuBackend(Math.Max(1, Environment.ProcessorCount)));
        var weights = VisionWeights.Of(checkpoint);
        var sh = weights.Shape;
        var pixels = EndToEndBench.RandomPixels(new Random(17), 3, sh.ImageSize);
        model.EncodeImages(EndToEndBench.RandomPixels(new Random(3), 1, sh.ImageSize)); // untimed: page-in of the mapped weights, JIT
        var cpuClock = Stopwatch.StartNew();
        var expected = model.EncodeImages(pixels);
        double cpuMsPerCrop = cpuClock.Elapsed.TotalMilliseconds / 3;

        using var kernels = new DeviceLayerKernels(cache, context);
        using var tower = new DeviceSiglipTower(context, weights);
        using var stream = new CudaStream(context);
        var attention = kernels.Attention.DevicePrefillVariant(sh.HeadDim);
        ConformanceResult result;
        using (var ws = new VisionWorkspace(context, sh, crops: 2, attention))
        {
            var actual = tower.Encode(kernels, stream, ws, pixels);
            string label = $"{checkpoint.Variant} {(sh.MlpProjector ? "MLP" : "Linear")} projector";
            result = DeviceData.Judge($"vision tower + projector ({label})", $"3 crops of {sh.ImageSize}² in passes of 2; {sh.Layers} layers, {sh.Heads}×{sh.HeadDim}, → {sh.OutHidden}; image_embeds",
                actual.Data, expected.Data, nmseBound);
        }
        if (!bench) return (result, []);

        var rows = new List<AttentionBenchRow>();
        double flopsPerCrop = FlopsPerCrop(sh);
        foreach (int crops in new[] { 16, 64 })
        {
            using var ws = new VisionWorkspace(context, sh, crops, attention);
            var many = EndToEndBench.RandomPixels(new Random(crops), crops, sh.ImageSize);
            ws.UploadPatches(DeviceSiglipTower.PackPatches(many, sh));
            tower.Forward(kernels, stream, ws, ws.Patches, crops, ws.Output); // warm-up: plans, modules
            stream.Synchronize();
            float ms = stream.Time(() => tower.Forward(kernels, stream, ws, ws.Patches, crops, ws.Output));
            rows.Add(new AttentionBenchRow($"vision tower + projector (device), {crops} crops a pass",
                $"{sh.Layers} layers, {sh.ImageSize}² crops, {attention.Kernel}; device time per crop (CPU tower in this run: {cpuMsPerCrop:F0} ms a crop, {Environment.ProcessorCount} threads)",
                ms / crops, flopsPerCrop * crops / (ms / 1000) / 1e12, null, null));
            var clock = Stopwatch.StartNew();
            tower.Encode(kernels, stream, ws, many);
            double endToEnd = clock.Elapsed.TotalMilliseconds;
            rows.Add(new AttentionBenchRow($"vision encode end to end (device), {crops} crops",
                "host patch packing + upload + tower + download + fp32 conversion, per crop", endToEnd / crops, flopsPerCrop * crops / (endToEnd / 1000) / 1e12, null, null));
        }
        return (result, rows);
    }

    /// <summary>GEMM and attention FLOPs of one crop: patch embedding, the layers that run, the projector.</summary>
    public static double FlopsPerCrop(SiglipShape sh)
    {
        double n = sh.Patches, h = sh.Hidden;
        double layer = 2 * n * (4 * h * h + 2 * h * sh.Intermediate) + 4 * n * n * h;
        double projector = 2 * n * h * sh.OutHidden + (sh.MlpProjector ? 2 * n * sh.OutHidden * (double)sh.OutHidden : 0);
        return 2 * n * sh.PatchInputs * h + sh.Layers * layer + projector;
    }
}
