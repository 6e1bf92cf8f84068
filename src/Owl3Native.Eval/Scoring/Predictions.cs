namespace Owl3Native.Eval.Scoring;

/// <summary>
/// Reading predictions files and joining them to ground truth (CLI.md <c>owl3 eval score</c>: joined on <c>key</c>,
/// falling back to <c>index</c>).
/// </summary>
public static class Predictions
{
    /// <summary>Reads a predictions JSONL file (blank lines ignored).</summary>
    public static IReadOnlyList<ScoredAnswer> ReadJsonl(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return ParseJsonl(File.ReadLines(path), path);
    }

    /// <summary>
    /// Parses predictions lines: each a JSON object with <c>raw_model_answer</c> (string, required) and at least one of
    /// <c>key</c> (string or number; a number keeps its JSON spelling, e.g. <c>201</c> → "201") and <c>index</c>
    /// (non-negative integer). <c>null</c> counts as absent. Other fields are ignored.
    /// </summary>
    /// <param name="lines">The lines.</param>
    /// <param name="source">A name for messages (the file path).</param>
    /// <exception cref="ScoringException">A line that is not such an object, naming the line and the field.</exception>
    public static IReadOnlyList<ScoredAnswer> ParseJsonl(IEnumerable<string> lines, string source = "predictions")
    {
        ArgumentNullException.ThrowIfNull(lines);
        var result = new List<ScoredAnswer>();
        int lineNo = 0;
        foreach (string line in lines)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            Running.PredictionLine p;
            try
            {
                p = Running.PredictionLine.Parse(line, $"{source}:{lineNo}"); // the one parser of the format
            }
            catch (FormatException e)
            {
                throw new ScoringException(e.Message, e);
            }
            result.Add(new ScoredAnswer(p.Key, p.Index >= 0 ? p.Index : null, p.RawModelAnswer));
        }
        return result;
    }

    /// <summary>
    /// Joins predictions to ground truth. A prediction whose key names exactly one record goes to that record; otherwise
    /// (no key, a key no record has, or a key several records share) its index is used, which must lie inside the list.
    /// <paramref name="groundTruth"/>[i] must be dataset record i (the list may be a prefix, e.g. under <c>--limit</c>).
    /// </summary>
    /// <returns>The joined pairs in dataset order (scoring never depends on the order predictions were written in).</returns>
    /// <exception cref="ScoringException">A prediction that matches no record, or two predictions for one record.</exception>
    public static IReadOnlyList<Joined<T>> Join<T>(IReadOnlyList<ScoredAnswer> predictions, IReadOnlyList<T> groundTruth)
        where T : IGroundTruth
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(groundTruth);
        var byKey = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < groundTruth.Count; i++)
        {
            string key = groundTruth[i].Key ?? throw new ScoringException($"ground truth record {i} has no key");
            byKey[key] = byKey.ContainsKey(key) ? -1 : i; // -1: shared key, join by index
        }
        var taken = new ScoredAnswer?[groundTruth.Count];
        foreach (ScoredAnswer p in predictions)
        {
            ArgumentNullException.ThrowIfNull(p);
            int pos;
            if (p.Key is not null && byKey.TryGetValue(p.Key, out int found) && found >= 0) pos = found;
            else if (p.Index is int i)
            {
                if (i >= groundTruth.Count)
                    throw new ScoringException(
                        $"prediction {Describe(p)}: {(p.Key is null ? "" : "key matches no record and ")}index {i} is outside the {groundTruth.Count} ground-truth records");
                pos = i;
            }
            else if (p.Key is not null && byKey.ContainsKey(p.Key))
                throw new ScoringException($"prediction {Describe(p)}: several records share this key and the line has no index");
            else
                throw new ScoringException($"prediction {Describe(p)}: key matches no ground-truth record and the line has no index");
            if (taken[pos] is ScoredAnswer earlier)
                throw new ScoringException($"two predictions for record {pos} (key '{groundTruth[pos].Key}'): {Describe(earlier)} and {Describe(p)}");
            taken[pos] = p;
        }
        var joined = new List<Joined<T>>(predictions.Count);
        for (int i = 0; i < taken.Length; i++)
            if (taken[i] is ScoredAnswer p) joined.Add(new Joined<T>(groundTruth[i], p, i));
        return joined;
    }

    /// <summary>
    /// Throws unless every ground-truth record has a prediction (VQA accuracy asserts equal id sets; NExT-QA iterates the
    /// dataset rows).
    /// </summary>
    internal static void RequireComplete<T>(string task, IReadOnlyList<Joined<T>> joined, IReadOnlyList<T> groundTruth) where T : IGroundTruth
    {
        if (joined.Count == groundTruth.Count) return;
        var answered = new HashSet<int>(joined.Select(j => j.Position));
        var missing = Enumerable.Range(0, groundTruth.Count).Where(i => !answered.Contains(i)).Take(5).Select(i => $"'{groundTruth[i].Key}'");
        throw new ScoringException(
            $"{task}: {groundTruth.Count - joined.Count} of {groundTruth.Count} records have no prediction (e.g. {string.Join(", ", missing)}); " +
            "the reference scorer requires every record (pass only the records that were run)");
    }

    private static string Describe(ScoredAnswer p) =>
        p.Key is null ? $"index {p.Index}" : p.Index is null ? $"key '{p.Key}'" : $"key '{p.Key}' / index {p.Index}";
}
