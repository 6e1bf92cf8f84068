namespace Owl3Native;

/// <summary>What the engine is busy with when it reports progress.</summary>
public enum EngineStage
{
    /// <summary>Opening and validating the checkpoint, building the model (Done/Total = steps).</summary>
    Loading,
    /// <summary>Decoding a video's sampled frames with ffmpeg (Done/Total = frames of that video).</summary>
    DecodingVideo,
    /// <summary>Running the vision tower over the crops a request needs encoded (Done/Total = crops; crops served by the
    /// image cache are not counted).</summary>
    EncodingImages,
}

/// <summary>One progress report: <paramref name="Done"/> of <paramref name="Total"/> units of <paramref name="Stage"/>.</summary>
/// <param name="Stage">The stage.</param>
/// <param name="Done">Units finished (0 at the start of a stage, Total at its end).</param>
/// <param name="Total">Units of the stage.</param>
/// <param name="Item">What is being worked on (a file name), when there is one.</param>
public readonly record struct EngineProgress(EngineStage Stage, int Done, int Total, string? Item = null);
