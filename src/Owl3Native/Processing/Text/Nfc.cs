using System.Collections.Frozen;
using System.Text;

namespace Owl3Native.Processing.Text;

/// <summary>
/// Unicode NFC (canonical decomposition, canonical ordering, canonical composition; UAX #15) in managed code.
/// The repository builds with <c>InvariantGlobalization</c>, where <see cref="string.Normalize()"/> returns its input
/// unchanged, yet the Qwen2 tokenizer NFC-normalises every input (spec/PROCESSOR.md §6). Tables: <see cref="NfcData"/>.
/// </summary>
internal static class Nfc
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Tables s_tables = new();

    /// <summary>NFC of <paramref name="text"/>; the same instance when it is already NFC (the common case, checked fast).</summary>
    public static string Normalize(string text)
    {
        int first = FirstUnstable(text);
        return first < 0 ? text : NormalizeFrom(text, first);
    }

    /// <summary>
    /// Index of the first character that could change under NFC, or −1. Stable text is NFC already: every
    /// character has combining class 0, is its own NFC, and cannot combine with a preceding character.
    /// </summary>
    private static int FirstUnstable(string text)
    {
        var tables = s_tables;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c < 0x300) continue;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                if (tables.IsUnstable(char.ConvertToUtf32(c, text[i + 1]))) return i;
                i++;
            }
            else if (tables.IsUnstable(c)) return i;
        }
        return -1;
    }

    private static string NormalizeFrom(string text, int firstUnstable)
    {
        // Everything before the first unstable character is stable (class 0, never combines with what precedes it),
        // so only the code point just before it can take part in a composition: restart there.
        int start = firstUnstable;
        if (start > 0) start--;
        if (start > 0 && char.IsLowSurrogate(text[start]) && char.IsHighSurrogate(text[start - 1])) start--;

        var cps = new List<int>(text.Length - start + 8);
        for (int i = start; i < text.Length; i++)
        {
            int cp = text[i];
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                cp = char.ConvertToUtf32(text[i], text[++i]);
            Decompose(cp, cps);
        }
        ReorderCanonically(cps);
        Compose(cps);

        var sb = new StringBuilder(text.Length);
        sb.Append(text, 0, start);
        foreach (int cp in cps)
        {
            if (cp is >= 0xD800 and <= 0xDFFF) sb.Append((char)cp); // a lone surrogate passes through unchanged
            else sb.Append(char.ConvertFromUtf32(cp));
        }
        return sb.ToString();
    }

    private static void Decompose(int cp, List<int> output)
    {
        if (cp is >= SBase and < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        if (s_tables.Decomposition.TryGetValue(cp, out var pair))
        {
            Decompose(pair.First, output);
            if (pair.Second != 0) Decompose(pair.Second, output);
            return;
        }
        output.Add(cp);
    }

    /// <summary>Stable sort of every run of non-starters by combining class.</summary>
    private static void ReorderCanonically(List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int cc = CombiningClass(cps[i]);
            if (cc == 0) continue;
            int cp = cps[i], j = i;
            while (j > 0 && CombiningClass(cps[j - 1]) > cc)
            {
                cps[j] = cps[j - 1];
                j--;
            }
            cps[j] = cp;
        }
    }

    private static void Compose(List<int> cps)
    {
        int starter = -1, write = 0, lastClass = 0;
        for (int read = 0; read < cps.Count; read++)
        {
            int cp = cps[read], cc = CombiningClass(cp);
            // Not blocked: adjacent to the starter, or every character between has a lower non-zero class.
            bool adjacent = starter == write - 1;
            if (starter >= 0 && (adjacent || (lastClass != 0 && lastClass < cc))
                && TryCompose(cps[starter], cp, out int composite))
            {
                cps[starter] = composite;
                continue;
            }
            if (cc == 0) starter = write;
            lastClass = cc;
            cps[write++] = cp;
        }
        cps.RemoveRange(write, cps.Count - write);
    }

    private static bool TryCompose(int first, int second, out int composite)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
        {
            composite = SBase + ((first - LBase) * VCount + second - VBase) * TCount;
            return true;
        }
        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0 && second is > TBase and < TBase + TCount)
        {
            composite = first + second - TBase;
            return true;
        }
        return s_tables.Composition.TryGetValue(((long)first << 21) | (uint)second, out composite);
    }

    /// <summary>Canonical combining class of a code point (0 for lone surrogates).</summary>
    internal static int CombiningClass(int cp)
    {
        var ranges = NfcData.CombiningClassRanges;
        int lo = 0, hi = ranges.Length / 3 - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (cp < ranges[mid * 3]) hi = mid - 1;
            else if (cp > ranges[mid * 3 + 1]) lo = mid + 1;
            else return ranges[mid * 3 + 2];
        }
        return 0;
    }

    private sealed class Tables
    {
        public readonly FrozenDictionary<int, (int First, int Second)> Decomposition;
        public readonly FrozenDictionary<long, int> Composition;
        private readonly ulong[] _unstableBmp = new ulong[0x10000 / 64];
        private readonly FrozenSet<int> _unstableAstral;

        public bool IsUnstable(int cp) =>
            cp < 0x10000 ? (_unstableBmp[cp >> 6] & (1UL << (cp & 63))) != 0 : _unstableAstral.Contains(cp);

        public Tables()
        {
            var decomposition = new Dictionary<int, (int, int)>();
            var excluded = new HashSet<int>(NfcData.CompositionExclusions.ToArray());
            var composition = new Dictionary<long, int>();
            var unstable = new HashSet<int>();
            var d = NfcData.Decompositions;
            for (int i = 0; i < d.Length; i += 3)
            {
                int cp = d[i], first = d[i + 1], second = d[i + 2];
                decomposition[cp] = (first, second);
                if (second != 0 && !excluded.Contains(cp))
                {
                    composition[((long)first << 21) | (uint)second] = cp;
                    unstable.Add(second); // "maybe": may combine with what precedes it
                }
                else unstable.Add(cp);     // singletons and exclusions never survive NFC
            }
            var ccc = NfcData.CombiningClassRanges;
            for (int i = 0; i < ccc.Length; i += 3)
                for (int cp = ccc[i]; cp <= ccc[i + 1]; cp++) unstable.Add(cp);
            for (int cp = VBase; cp < VBase + VCount; cp++) unstable.Add(cp);
            for (int cp = TBase + 1; cp < TBase + TCount; cp++) unstable.Add(cp);
            Decomposition = decomposition.ToFrozenDictionary();
            Composition = composition.ToFrozenDictionary();
            foreach (int cp in unstable)
                if (cp < 0x10000) _unstableBmp[cp >> 6] |= 1UL << (cp & 63);
            _unstableAstral = unstable.Where(cp => cp >= 0x10000).ToFrozenSet();
        }
    }
}
