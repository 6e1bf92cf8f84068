using BenchmarkDotNet.Attributes;
using Owl3Native.Core.Backend;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;

namespace Owl3Native.Benchmarks;

/// <summary>
/// The CPU backend's attention at the 1B checkpoint's shapes, two threads: one SigLIP layer's dense attention (one crop,
/// 729 tokens, 16 × 72), and one 241101 hyper layer's fused attention (14 query / 2 KV heads × 64, four crops = 2,916
/// image tokens in front of the text) for a 128-token prefill and for one decode step after 200 tokens, and plain text
/// attention for a 1,024-token prefill and one decode step after 2,000 tokens. Random fp32 operands.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 5, iterationCount: 15)]
public class CpuAttentionBench
{
    private readonly CpuBackend _cpu = new(2);
    private Tensor _q = null!, _k = null!, _v = null!;
    private (Tensor Q, AttentionBatch Batch) _prefill, _decode, _textPrefill, _textDecode;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        Tensor R(int rows, int cols)
        {
            var t = new Tensor(rows, cols);
            for (int i = 0; i < t.Length; i++) t.Data[i] = (float)rng.NextDouble() - 0.5f;
            return t;
        }
        (_q, _k, _v) = (R(729, 1152), R(729, 1152), R(729, 1152));
        int heads = 14, kvHeads = 2, d = 64, tokens = 4 * 729;
        var visual = new VisualKv(R(kvHeads * tokens, d), R(kvHeads * tokens, d), 729, [1, 2, 3, 4]);
        (Tensor, AttentionBatch) Step(int cached, int fresh, VisualKv? images)
        {
            int total = cached + fresh, blocks = (total + 15) / 16;
            var cache = _cpu.CreateKvCache(1, blocks, 16, kvHeads, d);
            var table = Enumerable.Range(0, blocks).ToArray();
            _cpu.WriteKv(new AttentionBatch([new AttentionSequence(0, total, 0, table, [images])], cache), 0, R(total, kvHeads * d), R(total, kvHeads * d));
            return (R(fresh, heads * d), new AttentionBatch([new AttentionSequence(0, fresh, cached, table, [images])], cache));
        }
        _prefill = Step(0, 128, visual);
        _decode = Step(200, 1, visual);
        _textPrefill = Step(0, 1024, null);
        _textDecode = Step(2000, 1, null);
    }

    [Benchmark(Description = "SigLIP dense attention, one layer, one crop (729 × 16 × 72)")]
    public Tensor VisionLayerAttention() => _cpu.DenseAttention(_q, _k, _v, 729, 16, 72);

    [Benchmark(Description = "hyper fused attention, 128-token prefill, 2,916 image tokens")]
    public Tensor HyperPrefill() => _cpu.PagedAttention(_prefill.Q, _prefill.Batch, 0, 14, fusedVisual: true);

    [Benchmark(Description = "hyper fused attention, one decode step, 2,916 image tokens")]
    public Tensor HyperDecode() => _cpu.PagedAttention(_decode.Q, _decode.Batch, 0, 14, fusedVisual: true);

    [Benchmark(Description = "text attention, 1,024-token prefill (causal)")]
    public Tensor TextPrefill() => _cpu.PagedAttention(_textPrefill.Q, _textPrefill.Batch, 0, 14, fusedVisual: true);

    [Benchmark(Description = "text attention, one decode step after 2,000 tokens")]
    public Tensor TextDecode() => _cpu.PagedAttention(_textDecode.Q, _textDecode.Batch, 0, 14, fusedVisual: true);
}
