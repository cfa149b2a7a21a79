//! What an upload is (sniffed from its bytes), and an image's renditions. Synchronous and
//! CPU-bound: run only on the bounded pool (`FileService`), never on the async runtime.
use crate::domain::Invalid;
use bytes::Bytes;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// A side of an image above this is refused before decoding.
pub const MAX_SIDE: u32 = 16_384;
/// An image of more pixels than this is refused before decoding (a decompression bomb:
/// a few kilobytes that decode to gigabytes).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Memory one decode may take.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// The type of `bytes`, from their magic numbers; `None` for anything Fold does not take.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let t = infer::get(bytes)?.mime_type();
    super::super::flocks::FILE_TYPES
        .iter()
        .copied()
        .find(|known| *known == t)
}

/// One rendition of an image.
#[derive(Debug, Clone)]
pub struct Rendition {
    pub name: &'static str,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: Bytes,
}

/// An upload made ready to store: the original (metadata stripped, orientation applied)
/// and, for an image, its renditions.
#[derive(Debug)]
pub struct Prepared {
    pub content_type: &'static str,
    pub original: Bytes,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub renditions: Vec<Rendition>,
}

fn format_of(content_type: &str) -> Option<ImageFormat> {
    match content_type {
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/png" => Some(ImageFormat::Png),
        "image/webp" => Some(ImageFormat::WebP),
        "image/gif" => Some(ImageFormat::Gif),
        _ => None,
    }
}

fn bad_image(message: impl Into<String>) -> Invalid {
    Invalid::new("invalid_image", "file", message)
}

/// Prepares `bytes` of the sniffed `content_type`; `sizes` are the long edges of `s`, `m`
/// and `l`.
pub fn prepare(
    bytes: Bytes,
    content_type: &'static str,
    sizes: [u32; 3],
) -> Result<Prepared, Invalid> {
    let Some(format) = format_of(content_type) else {
        return Ok(Prepared {
            content_type,
            original: bytes,
            width: None,
            height: None,
            renditions: Vec::new(),
        });
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    // The header alone first: a bomb is refused before a pixel is decoded.
    let (w, h) = ImageReader::with_format(Cursor::new(&bytes[..]), format)
        .into_dimensions()
        .map_err(|e| bad_image(format!("the image cannot be read: {e}")))?;
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS
    {
        return Err(Invalid::new(
            "image_too_large",
            "file",
            format!(
                "images are at most {MAX_SIDE} pixels a side and {MAX_PIXELS} pixels in all; this one is {w}x{h}"
            ),
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(&bytes[..]), format);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| bad_image(format!("the image cannot be read: {e}")))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder)
        .map_err(|e| bad_image(format!("the image cannot be decoded: {e}")))?;
    img.apply_orientation(orientation);
    // The original is re-encoded from the pixels, so nothing of the upload but the image
    // survives: no EXIF, XMP or IPTC block, wherever it hid (between progressive scans,
    // in an appended second image, after the end marker), and the orientation is in the
    // pixels. JPEG stays JPEG (quality 92); other images become PNG (lossless).
    let jpeg = format == ImageFormat::Jpeg;
    let (content_type, original) = encode(&img, jpeg, 92)?;
    // Each rendition from the next larger one, by area averaging: no full-size float
    // buffer, whatever the original's size.
    let mut renditions = Vec::with_capacity(3);
    let mut source = img;
    let (width, height) = (source.width(), source.height());
    for (name, edge) in [("l", sizes[2]), ("m", sizes[1]), ("s", sizes[0])] {
        if source.width().max(source.height()) > edge {
            source = source.thumbnail(edge, edge);
        }
        // Renditions: JPEG unless there is transparency to keep.
        let (content_type, bytes) = encode(&source, jpeg || !source.color().has_alpha(), 85)?;
        renditions.push(Rendition {
            name,
            content_type,
            width: source.width(),
            height: source.height(),
            bytes,
        });
    }
    renditions.reverse();
    Ok(Prepared {
        content_type,
        original,
        width: Some(width),
        height: Some(height),
        renditions,
    })
}

/// JPEG at `quality`, or PNG; neither carries metadata.
fn encode(img: &DynamicImage, jpeg: bool, quality: u8) -> Result<(&'static str, Bytes), Invalid> {
    let mut out = Vec::new();
    let internal = |e: image::ImageError| Invalid::new("invalid_image", "file", e.to_string());
    if jpeg {
        let rgb = img.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(&rgb)
            .map_err(internal)?;
        Ok(("image/jpeg", Bytes::from(out)))
    } else {
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(internal)?;
        Ok(("image/png", Bytes::from(out)))
    }
}

/// A file name safe to store and to send back in `Content-Disposition`: the last path
/// part, Unicode NFC, no control or reserved characters, at most 200 bytes, and the
/// extension of the sniffed type.
pub fn clean_name(given: Option<&str>, content_type: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let ext = match content_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "application/pdf" => "pdf",
        _ => "bin",
    };
    let base = given
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .nfc()
        .filter(|c| !c.is_control() && !"<>:\"|?*;%".contains(*c))
        .collect::<String>();
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) => stem,
        None => base.as_str(),
    };
    let stem = stem.trim_matches(|c: char| c == '.' || c.is_whitespace());
    let mut stem = if stem.is_empty() { "file" } else { stem }.to_owned();
    while stem.len() > 200 {
        stem.pop();
    }
    format!("{stem}.{ext}")
}

#[cfg(test)]
mod tests {
    use super::clean_name;

    #[test]
    fn names_are_cleaned_and_take_the_sniffed_extension() {
        assert_eq!(
            clean_name(Some("../../etc/passwd"), "image/png"),
            "passwd.png"
        );
        assert_eq!(
            clean_name(Some("C:\\x\\evil.html"), "image/jpeg"),
            "evil.jpg"
        );
        assert_eq!(
            clean_name(Some("a\u{0}b\r\n.pdf"), "application/pdf"),
            "ab.pdf"
        );
        assert_eq!(clean_name(None, "image/gif"), "file.gif");
        assert_eq!(clean_name(Some("..."), "image/gif"), "file.gif");
        assert_eq!(
            clean_name(Some("Jose\u{301}  photo.JPG"), "image/jpeg"),
            "Jos\u{e9} photo.jpg"
        );
        assert!(clean_name(Some(&"é".repeat(300)), "image/png").len() <= 204);
    }
}
