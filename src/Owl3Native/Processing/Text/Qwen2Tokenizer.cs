using System.Buffers;
using System.Collections.Frozen;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Owl3Native.Processing.Text;

/// <summary>
/// The Qwen2 byte-level BPE tokenizer of an mPLUG-Owl3 folder (spec/PROCESSOR.md §6), on Microsoft.ML.Tokenizers'
/// <see cref="BpeTokenizer"/>: NFC over the whole input, then the added tokens split out by exact match, then the
/// Qwen2 pre-tokenizer regex, the byte-level map and rank-ordered merges. No BOS/EOS is added. Immutable and
/// thread-safe.
/// </summary>
public sealed class Qwen2Tokenizer
{
    /// <summary>The Qwen2 pre-tokenizer pattern (alternatives tried in order).</summary>
    public const string PreTokenizerPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private readonly BpeTokenizer _bpe;
    private readonly FrozenDictionary<string, int> _vocabulary;
    private readonly FrozenDictionary<string, int> _addedTokens;
    private readonly byte[] _idBytes;   // the bytes of every id, concatenated
    private readonly int[] _idOffsets;  // id → start in _idBytes; [maxId + 2]; an unused id has an empty range

    private Qwen2Tokenizer(Qwen2TokenizerFiles files, BpeTokenizer bpe)
    {
        _bpe = bpe;
        _vocabulary = files.Vocabulary.ToFrozenDictionary(StringComparer.Ordinal);
        _addedTokens = files.AddedTokens.ToFrozenDictionary(StringComparer.Ordinal);
        VocabularySize = files.Vocabulary.Values.Concat(files.AddedTokens.Values).Distinct().Count();

        var bytesOfId = new Dictionary<int, byte[]>(files.Vocabulary.Count + files.AddedTokens.Count);
        foreach (var (token, id) in files.Vocabulary)
            bytesOfId[id] = ByteLevel.TryGetBytes(token, out var b) ? b : Encoding.UTF8.GetBytes(token);
        foreach (var (text, id) in files.AddedTokens) bytesOfId[id] = Encoding.UTF8.GetBytes(text);
        int maxId = bytesOfId.Keys.Max();
        _idOffsets = new int[maxId + 2];
        var all = new List<byte>(bytesOfId.Values.Sum(b => b.Length));
        for (int id = 0; id <= maxId; id++)
        {
            _idOffsets[id] = all.Count;
            if (bytesOfId.TryGetValue(id, out var b)) all.AddRange(b);
        }
        _idOffsets[maxId + 1] = all.Count;
        _idBytes = all.ToArray();
    }

    /// <summary>
    /// Loads the tokenizer files of <paramref name="folder"/>: `vocab.json` and `merges.txt` (with or without a
    /// `#version` header line; `tokenizer.json`'s `model` section when they are absent) plus the added tokens of
    /// `tokenizer_config.json` (`added_tokens_decoder`) and `tokenizer.json` (`added_tokens`). The folder may hold
    /// only tokenizer files.
    /// </summary>
    /// <exception cref="TokenizerFileException">A file is missing, unreadable or malformed; the message names it.</exception>
    public static Qwen2Tokenizer Load(string folder)
    {
        var files = Qwen2TokenizerFiles.Read(folder);
        var specials = files.AddedTokens;
        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(new BpeOptions(files.Vocabulary)
            {
                Merges = files.Merges,
                ByteLevel = true,
                SpecialTokens = specials,
                PreTokenizer = new RegexPreTokenizer(new Regex(PreTokenizerPattern, RegexOptions.Compiled), specials),
            });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new TokenizerFileException(Path.Combine(folder, Qwen2TokenizerFiles.MergesFile),
                $"the vocabulary and merges do not form a BPE model ({e.Message})", e);
        }
        return new Qwen2Tokenizer(files, bpe);
    }

    /// <summary>
    /// Number of distinct token ids (vocabulary entries plus added tokens; 151,646 for Qwen2). The model's
    /// embedding may have more rows (spec/PROCESSOR.md §11.16); those ids decode to "".
    /// </summary>
    public int VocabularySize { get; }

    /// <summary>The added (special) tokens and their ids, e.g. `&lt;|im_end|&gt;` → 151645.</summary>
    public IReadOnlyDictionary<string, int> AddedTokens => _addedTokens;

    /// <summary>
    /// Token ids of <paramref name="text"/> (NFC-normalised first), exactly as the original tokenizer. A lone surrogate
    /// (which the original cannot encode at all) is encoded as U+FFFD.
    /// </summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) return [];
        var ids = _bpe.EncodeToIds(ReplaceLoneSurrogates(Nfc.Normalize(text)));
        var result = new int[ids.Count];
        for (int i = 0; i < result.Length; i++) result[i] = ids[i];
        return result;
    }

    /// <summary>
    /// Text of <paramref name="ids"/>: their bytes joined and decoded as UTF-8, each invalid sequence replaced by
    /// U+FFFD; added tokens as their literal text; no space clean-up. Ids without an entry (negative, beyond the
    /// tokenizer, unused rows) contribute nothing.
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var buffer = new ArrayBufferWriter<byte>(256);
        foreach (int id in ids) buffer.Write(TokenBytes(id));
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The id of an added token (`&lt;|im_end|&gt;`) or of a vocabulary entry whose text is <paramref name="token"/>.</summary>
    /// <exception cref="KeyNotFoundException">No single token has that text.</exception>
    public int TokenId(string token) =>
        TryGetTokenId(token, out int id) ? id : throw new KeyNotFoundException($"`{token}` is not a single token of this tokenizer");

    /// <summary>Like <see cref="TokenId"/>, without throwing.</summary>
    public bool TryGetTokenId(string token, out int id)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _addedTokens.TryGetValue(token, out id)
            || _vocabulary.TryGetValue(ByteLevel.ToToken(Encoding.UTF8.GetBytes(token)), out id);
    }

    private static string ReplaceLoneSurrogates(string text)
    {
        int first = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
        if (first < 0) return text;
        var chars = text.ToCharArray();
        for (int i = first; i < chars.Length; i++)
        {
            if (!char.IsSurrogate(chars[i])) continue;
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) i++;
            else chars[i] = '\uFFFD';
        }
        return new string(chars);
    }

    /// <summary>The raw bytes of one id (empty for an id without an entry).</summary>
    internal ReadOnlySpan<byte> TokenBytes(int id) =>
        (uint)id < (uint)(_idOffsets.Length - 1)
            ? _idBytes.AsSpan(_idOffsets[id], _idOffsets[id + 1] - _idOffsets[id])
            : [];
}
