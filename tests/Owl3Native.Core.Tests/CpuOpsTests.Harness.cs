using Owl3Native.Core.Backend;
using Owl3Native.Core.Cpu;
using Owl3Native.Core.Tensors;
using Owl3Native.TestKit;

namespace Owl3Native.Core.Tests;

// The paged/cross attention harness of CpuOpsTests (cases in CpuOpsTests.cs).
public sealed partial class CpuOpsTests
{
    /// <summary>
    /// Two sequences in one step over a paged cache with blockSize 3 and scattered block tables: A has 5 cached tokens and
    /// 3 new ones, B 0 cached and 4 new. Every cache slot starts as NaN, so reading a slot nobody wrote shows up. Each
    /// sequence has 2 crops of 3 visual tokens, visible from positions 2 and 6.
    /// </summary>
    /// <summary>
    /// Two sequences over a scattered, NaN-filled paged cache, each with its own images. Small: 5 + 3 and 0 + 4 tokens,
    /// 2 crops of 3 tokens visible from 2 and 6. Large (the blocked paths): 20 + 50 and 0 + 90 tokens, 4 crops of 25
    /// (75 seen image tokens: two 32-key panels and a remainder) visible from 2, 30, 60 and 1000, so visibility changes
    /// inside the new rows, a KV head's group × new tokens spans several row blocks, and the last crop — NaN — is seen
    /// by no row.
    /// </summary>
    private sealed class PagedHarness
    {
        private const int BlockSize = 3;
        private readonly int TokensPerCrop;
        private readonly int _heads, _kvHeads, _headDim;
        private readonly Dictionary<AttentionSequence, (double[] K, double[] V, VisualKv Visual)> _all = [];

        public PagedHarness(CpuBackend cpu, int heads, int kvHeads, int headDim, int seed, bool large = false)
        {
            (_heads, _kvHeads, _headDim) = (heads, kvHeads, headDim);
            TokensPerCrop = large ? 25 : 3;
            int[] visibleFrom = large ? [2, 30, 60, 1000] : [2, 6];
            var rng = new Random(seed);
            int numBlocks = large ? 60 : 8;
            var cache = (CpuKvCache)cpu.CreateKvCache(layers: 1, numBlocks, BlockSize, kvHeads, headDim);
            Array.Fill(cache.K[0], float.NaN);
            Array.Fill(cache.V[0], float.NaN);
            int width = kvHeads * headDim;
            var scattered = Enumerable.Range(0, numBlocks).OrderBy(_ => rng.Next()).ToArray();
            var seqA = large ? (Cached: 20, New: 50, Table: scattered[..24]) : (Cached: 5, New: 3, Table: new[] { 6, 1, 4 });
            var seqB = large ? (Cached: 0, New: 90, Table: scattered[24..54]) : (Cached: 0, New: 4, Table: new[] { 0, 5 });
            var sequences = new List<AttentionSequence>();
            int row = 0;
            foreach (var (cached, fresh, table) in new[] { seqA, seqB })
            {
                int total = cached + fresh;
                var k = RandomTensor(rng, [total, width], 2);
                var v = RandomTensor(rng, [total, width]);
                int imageTokens = visibleFrom.Length * TokensPerCrop;
                var vk = RandomTensor(rng, [kvHeads, imageTokens, headDim], 2);
                var vv = RandomTensor(rng, [kvHeads, imageTokens, headDim]);
                // A crop no row of this step sees is NaN: the ops must never read it (0·NaN would show).
                for (int c = 0; c < visibleFrom.Length; c++)
                    if (visibleFrom[c] > total - 1)
                        for (int g = 0; g < kvHeads; g++)
                        {
                            vk.Data.AsSpan((g * imageTokens + c * TokensPerCrop) * headDim, TokensPerCrop * headDim).Fill(float.NaN);
                            vv.Data.AsSpan((g * imageTokens + c * TokensPerCrop) * headDim, TokensPerCrop * headDim).Fill(float.NaN);
                        }
                var visual = new VisualKv(vk, vv, TokensPerCrop, visibleFrom);
                // Write the whole sequence's K/V through the op (one step of `total` tokens), then present the last `fresh` as new.
                var prefill = new AttentionSequence(0, total, 0, table, [visual]);
                cpu.WriteKv(new AttentionBatch([prefill], cache), 0, k, v);
                var s = new AttentionSequence(row, fresh, cached, table, [visual]);
                sequences.Add(s);
                _all[s] = (NaiveOps.ToDouble(k.Data), NaiveOps.ToDouble(v.Data), visual);
                row += fresh;
            }
            Sequences = sequences;
            Batch = new AttentionBatch(sequences, cache);
            Q = RandomTensor(rng, [Batch.Tokens, heads * headDim], 2);
        }

        public IReadOnlyList<AttentionSequence> Sequences { get; }
        public AttentionBatch Batch { get; }
        public Tensor Q { get; }

        private double[] QueriesOf(AttentionSequence s) => NaiveOps.ToDouble(Q.Data.AsSpan(s.TokenStart * _heads * _headDim, s.TokenCount * _heads * _headDim));

        /// <summary>Causal over text 0..t; with <paramref name="fused"/>, visual keys first, crop j iff t ≥ VisibleFrom[j].</summary>
        public double[] ReferenceSelfAttention(AttentionSequence s, bool fused)
        {
            var (k, v, visual) = _all[s];
            int imageTokens = fused ? visual.ImageTokens : 0, text = s.TotalLength;
            var vk = fused ? HeadMajorToRows(visual.Keys, _kvHeads, imageTokens, _headDim) : [];
            var vv = fused ? HeadMajorToRows(visual.Values, _kvHeads, imageTokens, _headDim) : [];
            double[] keys = [.. NaiveOps.ToDouble(vk), .. k], values = [.. NaiveOps.ToDouble(vv), .. v];
            return NaiveOps.Attention(QueriesOf(s), s.TokenCount, _heads, keys, values, imageTokens + text, _kvHeads, _headDim, (i, u) =>
            {
                int t = s.CachedLength + i;
                return u < imageTokens ? t >= visual.VisibleFrom[u / TokensPerCrop] : u - imageTokens <= t;
            });
        }

        /// <summary>Visual keys only; rows that see no crop are zero. Also the visible-crop count per row.</summary>
        public (double[] Output, int[] Counts) ReferenceCrossAttention(AttentionSequence s)
        {
            var visual = _all[s].Visual;
            var keys = NaiveOps.ToDouble(HeadMajorToRows(visual.Keys, _kvHeads, visual.ImageTokens, _headDim));
            var values = NaiveOps.ToDouble(HeadMajorToRows(visual.Values, _kvHeads, visual.ImageTokens, _headDim));
            var y = NaiveOps.Attention(QueriesOf(s), s.TokenCount, _heads, keys, values, visual.ImageTokens, _kvHeads, _headDim,
                (i, u) => s.CachedLength + i >= visual.VisibleFrom[u / TokensPerCrop]);
            var counts = Enumerable.Range(0, s.TokenCount).Select(i => visual.VisibleFrom.Count(f => s.CachedLength + i >= f)).ToArray();
            return (y, counts);
        }
    }

    /// <summary>`[kvHeads, tokens, headDim]` → `[tokens, kvHeads·headDim]`.</summary>
    private static float[] HeadMajorToRows(Tensor t, int kvHeads, int tokens, int headDim)
    {
        var y = new float[tokens * kvHeads * headDim];
        for (int g = 0; g < kvHeads; g++)
            for (int u = 0; u < tokens; u++)
                for (int d = 0; d < headDim; d++)
                    y[(u * kvHeads + g) * headDim + d] = t.Data[(g * tokens + u) * headDim + d];
        return y;
    }
}
