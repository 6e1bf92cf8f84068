using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Tiff.Constants;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;

namespace Owl3Native.Processing.Images;

/// <summary>
/// Decodes with ImageSharp and converts to 8-bit RGB the way PIL's <c>Image.open(f).convert("RGB")</c> does
/// (Pillow 9.4, the Debian version this was checked against; spec/PROCESSOR.md §2):
/// <list type="bullet">
/// <item>alpha is dropped, never composited (RGBA, LA, palette or colour-key transparency keep their stored colour);</item>
/// <item>palette images expand to their palette colours, grayscale (L, 1-, 2-, 4-bit) is replicated into R = G = B;</item>
/// <item>16-bit grayscale without alpha is <b>clipped</b>: v ≥ 255 → 255, so most of a 16-bit range turns white,
///   as PIL's conversions of mode "I" (Pillow 9) and "I;16" (newer Pillow, <c>I16_RGB</c>) both do;</item>
/// <item>16-bit RGB, RGBA and gray+alpha (PIL unpackers "RGB;16B", "RGBA;16B", "LA;16B") keep the high byte
///   (v >> 8, truncation, not ImageSharp's rounding);</item>
/// <item>EXIF orientation is ignored (ImageSharp does not rotate on decode); ICC profiles and gamma are ignored.</item>
/// </list>
/// Known differences: JPEG (ImageSharp's IDCT and chroma upsampling are not libjpeg-turbo's), CMYK/YCCK JPEG
/// rounding. Transparent GIF pixels take the palette colour of the transparent index, as in PIL
/// (<see cref="GifStructure"/>).
/// </summary>
internal static class PilRgbConversion
{
    private enum Kind
    {
        /// <summary>8 bits per channel or fewer: decode to Rgba32, drop alpha.</summary>
        Rgba8,
        /// <summary>PNG 16-bit grayscale: clip to 255.</summary>
        Gray16Clip,
        /// <summary>PNG 16-bit with colour or alpha: high byte.</summary>
        Rgba16HighByte,
        /// <summary>TIFF: decoded as Rgba64, the frame's metadata says whether it is 16-bit gray.</summary>
        Tiff,
    }

    /// <summary>Decodes the first frame of <paramref name="data"/> (format and header already checked) to RGB.</summary>
    public static RgbImage Decode(Configuration config, byte[] data, IImageFormat format, IImageInfo info)
    {
        var kind = KindOf(format, info.Metadata);
        using var stream = new MemoryStream(data, writable: false);
        IImageDecoder decoder = format switch
        {
            GifFormat => new GifDecoder { DecodingMode = FrameDecodingMode.First },
            TiffFormat => new TiffDecoder { DecodingMode = FrameDecodingMode.First },
            _ => config.ImageFormatsManager.FindDecoder(format),
        };
        switch (kind)
        {
            case Kind.Rgba8:
            {
                using var image = Image.Load<Rgba32>(config, stream, decoder);
                var transparent = format is GifFormat ? GifStructure.Read(data).TransparentColor : null;
                return FromRgba32(image.Frames.RootFrame, transparent);
            }
            case Kind.Gray16Clip:
            {
                using var image = Image.Load<Rgba64>(config, stream, decoder);
                return FromRgba64(image.Frames.RootFrame, clipGray: true);
            }
            case Kind.Rgba16HighByte:
            {
                using var image = Image.Load<Rgba64>(config, stream, decoder);
                return FromRgba64(image.Frames.RootFrame, clipGray: false);
            }
            default:
            {
                using var image = Image.Load<Rgba64>(config, stream, decoder);
                var frame = image.Frames.RootFrame;
                return FromRgba64(frame, clipGray: IsTiffGray16(frame.Metadata.GetTiffMetadata()));
            }
        }
    }

    private static Kind KindOf(IImageFormat format, ImageMetadata metadata)
    {
        if (format is TiffFormat)
            return Kind.Tiff;
        if (format is not PngFormat)
            return Kind.Rgba8;
        var png = metadata.GetPngMetadata();
        if (png.BitDepth != PngBitDepth.Bit16)
            return Kind.Rgba8;
        return png.ColorType == PngColorType.Grayscale ? Kind.Gray16Clip : Kind.Rgba16HighByte;
    }

    // PIL opens 16-bit one-channel TIFFs as "I;16" (converted to RGB by clipping) and multi-channel 16-bit ones
    // through "…;16" unpackers that keep the high byte; 8-bit TIFFs decoded to Rgba64 hold v·257, whose high byte is v.
    private static bool IsTiffGray16(TiffFrameMetadata tiff) =>
        tiff.BitsPerSample is { } bits && bits.Channels == 1 && bits.Channel0 == 16
        && tiff.PhotometricInterpretation == TiffPhotometricInterpretation.BlackIsZero;

    // transparent: the colour of fully transparent pixels (GIF), or null to keep the stored colour.
    private static RgbImage FromRgba32(ImageFrame<Rgba32> frame, (byte R, byte G, byte B)? transparent)
    {
        int width = frame.Width, height = frame.Height;
        var rgb = new byte[checked((long)width * height * RgbImage.Channels)];
        frame.ProcessPixelRows(accessor =>
        {
            for (int y = 0; y < height; y++)
            {
                var row = accessor.GetRowSpan(y);
                var dst = rgb.AsSpan(y * width * RgbImage.Channels, width * RgbImage.Channels);
                for (int x = 0; x < width; x++)
                {
                    var p = row[x];
                    (dst[3 * x], dst[3 * x + 1], dst[3 * x + 2]) = p.A == 0 && transparent is { } t ? t : (p.R, p.G, p.B);
                }
            }
        });
        return new RgbImage(width, height, rgb);
    }

    private static RgbImage FromRgba64(ImageFrame<Rgba64> frame, bool clipGray)
    {
        int width = frame.Width, height = frame.Height;
        var rgb = new byte[checked((long)width * height * RgbImage.Channels)];
        frame.ProcessPixelRows(accessor =>
        {
            for (int y = 0; y < height; y++)
            {
                var row = accessor.GetRowSpan(y);
                var dst = rgb.AsSpan(y * width * RgbImage.Channels, width * RgbImage.Channels);
                for (int x = 0; x < width; x++)
                {
                    var p = row[x];
                    if (clipGray)
                    {
                        byte v = (byte)Math.Min(p.R, (ushort)255);
                        dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = v;
                    }
                    else
                    {
                        dst[3 * x] = (byte)(p.R >> 8);
                        dst[3 * x + 1] = (byte)(p.G >> 8);
                        dst[3 * x + 2] = (byte)(p.B >> 8);
                    }
                }
            }
        });
        return new RgbImage(width, height, rgb);
    }
}
