namespace Owl3Native.Processing.Text;

/// <summary>The media placeholders of the messages and the supplied media disagree in number or kind.</summary>
public sealed class MediaMismatchException : ArgumentException
{
    /// <summary>Creates the exception; the message states both sides.</summary>
    public MediaMismatchException(string message, int placeholders, int mediaItems) : base(message)
    {
        Placeholders = placeholders;
        MediaItems = mediaItems;
    }

    /// <summary>`&lt;|image|&gt;` + `&lt;|video|&gt;` placeholders found in the user messages.</summary>
    public int Placeholders { get; }

    /// <summary>Media items supplied.</summary>
    public int MediaItems { get; }
}
