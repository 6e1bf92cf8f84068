namespace Owl3Native.Eval.Running;

/// <summary>Combines the predictions of shard runs of one task into dataset order.</summary>
public static class PredictionMerge
{
    /// <summary>
    /// Reads every shard's file, keeps one line per index (the same answer twice is fine: a resumed or repeated shard),
    /// and returns them sorted by index.
    /// </summary>
    /// <exception cref="FileNotFoundException">A shard folder lacks the task's file.</exception>
    /// <exception cref="InvalidDataException">Two shards answered one record differently, or a line has no index.</exception>
    public static IReadOnlyList<PredictionLine> Merge(IEnumerable<string> files)
    {
        var byIndex = new SortedDictionary<int, (PredictionLine Line, string File)>();
        foreach (var file in files)
            foreach (var line in PredictionLog.ReadAll(file))
            {
                if (line.Index < 0) throw new InvalidDataException($"{file}: line for key {line.Key} has no \"index\"; shards are merged by index");
                if (byIndex.TryGetValue(line.Index, out var seen))
                {
                    if (seen.Line.RawModelAnswer != line.RawModelAnswer || seen.Line.Key != line.Key)
                        throw new InvalidDataException($"record {line.Index} is answered differently in {seen.File} and {file}");
                    continue;
                }
                byIndex[line.Index] = (line, file);
            }
        return byIndex.Values.Select(v => v.Line).ToArray();
    }

    /// <summary>Indices in [0, expected) with no prediction (sorted).</summary>
    public static IReadOnlyList<int> Missing(IReadOnlyList<PredictionLine> merged, int expected)
    {
        var have = merged.Select(p => p.Index).ToHashSet();
        return Enumerable.Range(0, expected).Where(i => !have.Contains(i)).ToArray();
    }
}

/// <summary>Progress of one task: records done, records per second, time left; printed at most once a second.</summary>
public sealed class EvalProgress(string task, int total, int alreadyDone, TextWriter output, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly long _start = (time ?? TimeProvider.System).GetTimestamp();
    private long _lastPrint;
    private int _doneThisRun;

    /// <summary>Records answered so far (including those of earlier runs).</summary>
    public int Done => alreadyDone + _doneThisRun;

    /// <summary>Counts one answered record and prints a line when a second has passed since the last (or at the end).</summary>
    public void Tick()
    {
        _doneThisRun++;
        long now = _time.GetTimestamp();
        if (Done < total && _time.GetElapsedTime(_lastPrint, now).TotalSeconds < 1 && _lastPrint != 0) return;
        _lastPrint = now;
        output.WriteLine(Line());
    }

    /// <summary>`task: done/total (pct), r rec/s, ETA h:mm:ss` (slow tasks: `s s/rec` instead of the rate).</summary>
    public string Line()
    {
        double seconds = _time.GetElapsedTime(_start).TotalSeconds;
        double rate = seconds > 0 ? _doneThisRun / seconds : 0;
        string eta = rate > 0 ? TimeSpan.FromSeconds(Math.Ceiling((total - Done) / rate)).ToString(@"h\:mm\:ss", System.Globalization.CultureInfo.InvariantCulture) : "-";
        double pct = total == 0 ? 100 : 100.0 * Done / total;
        string speed = rate is > 0 and < 1 ? $"{1 / rate:F1} s/rec" : $"{rate:F2} rec/s";
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{task}: {Done}/{total} ({pct:F1} %), {speed}, ETA {eta}");
    }
}
