//! What a file is, from its first bytes, and what its headers say before anything is decoded:
//! frame counts, animation flags and whether a JPEG is complete. Never looks at a file name.

/// An image format that [`prepare_photo`](super::prepare_photo) accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    Jpeg,
    Png,
    Gif,
    WebP,
}

impl ImageKind {
    /// The format's MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Gif => "image/gif",
            ImageKind::WebP => "image/webp",
        }
    }

    pub(crate) fn format(self) -> image::ImageFormat {
        match self {
            ImageKind::Jpeg => image::ImageFormat::Jpeg,
            ImageKind::Png => image::ImageFormat::Png,
            ImageKind::Gif => image::ImageFormat::Gif,
            ImageKind::WebP => image::ImageFormat::WebP,
        }
    }
}

pub(crate) const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The image format of `input`, by its magic bytes; `None` for anything this crate does not
/// prepare (see [`describe_other`] for a name to show instead).
pub fn sniff(input: &[u8]) -> Option<ImageKind> {
    if input.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageKind::Jpeg)
    } else if input.starts_with(PNG_SIGNATURE) {
        Some(ImageKind::Png)
    } else if input.starts_with(b"GIF87a") || input.starts_with(b"GIF89a") {
        Some(ImageKind::Gif)
    } else if input.len() >= 12 && input.starts_with(b"RIFF") && &input[8..12] == b"WEBP" {
        Some(ImageKind::WebP)
    } else {
        None
    }
}

/// A name for well-known formats that are not accepted, so the error can say "HEIC" rather
/// than "not an image". `None` when the bytes are not recognised at all.
pub(crate) fn describe_other(input: &[u8]) -> Option<&'static str> {
    if input.len() >= 12 && &input[4..8] == b"ftyp" {
        return Some(match &input[8..12] {
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => {
                "HEIC/HEIF"
            }
            b"avif" | b"avis" => "AVIF",
            b"qt  " => "QuickTime video",
            _ => "MP4 video",
        });
    }
    let known: [(&[u8], &'static str); 6] = [
        (b"BM", "BMP"),
        (b"II*\0", "TIFF"),
        (b"MM\0*", "TIFF"),
        (&[0xFF, 0x0A], "JPEG XL"),
        (b"\0\0\0\x0cJXL ", "JPEG XL"),
        (b"%PDF", "PDF"),
    ];
    known
        .iter()
        .find(|(magic, _)| input.starts_with(magic))
        .map(|(_, name)| *name)
}

/// Frames in a GIF, counted by walking its blocks without decompressing any image data.
/// Stops counting past `stop_after` (the limit) so a hostile file costs nothing more. A file cut
/// short counts the frames that start before the cut (the decoder reports the damage).
pub(crate) fn gif_frames(input: &[u8], stop_after: u32) -> u32 {
    // Header (6) + logical screen descriptor (7), then the global colour table if flagged.
    let Some(&flags) = input.get(10) else {
        return 0;
    };
    let mut pos = 13 + colour_table_len(flags);
    let mut frames = 0u32;
    while let Some(&block) = input.get(pos) {
        match block {
            // Extension: label, then sub-blocks.
            0x21 => pos = skip_sub_blocks(input, pos + 2),
            // Image descriptor (10 bytes), local colour table, LZW code size, sub-blocks.
            0x2C => {
                frames += 1;
                if frames > stop_after {
                    break;
                }
                let Some(&local) = input.get(pos + 9) else {
                    break;
                };
                pos = skip_sub_blocks(input, pos + 10 + colour_table_len(local) + 1);
            }
            // Trailer, or garbage: either way no more frames we could show.
            _ => break,
        }
    }
    frames
}

/// The size in bytes of a GIF colour table whose presence and size `flags` (a screen or image
/// descriptor's packed field) declare.
pub(crate) fn colour_table_len(flags: u8) -> usize {
    if flags & 0x80 != 0 {
        3 << ((flags & 0x07) + 1)
    } else {
        0
    }
}

/// The position after a chain of GIF sub-blocks starting at `pos` (or past the end).
pub(crate) fn skip_sub_blocks(input: &[u8], mut pos: usize) -> usize {
    while let Some(&len) = input.get(pos) {
        pos += 1 + usize::from(len);
        if len == 0 {
            return pos;
        }
    }
    usize::MAX
}

/// Whether a WebP file is animated (the VP8X header's animation flag).
pub(crate) fn webp_animated(input: &[u8]) -> bool {
    input.len() > 20 && &input[12..16] == b"VP8X" && input[20] & 0x02 != 0
}

/// Whether a PNG is an APNG (an `acTL` chunk before the image data).
pub(crate) fn png_animated(input: &[u8]) -> bool {
    let mut pos = PNG_SIGNATURE.len();
    while let Some(header) = input.get(pos..pos + 8) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        match &header[4..8] {
            b"acTL" => return true,
            b"IDAT" | b"IEND" => return false,
            _ => pos = pos.saturating_add(12).saturating_add(len),
        }
    }
    false
}

/// Whether a JPEG has its end-of-image marker after the first scan: a file cut off in the
/// middle (an interrupted copy or download) does not. Walks the marker segments up to the first
/// start-of-scan, so an embedded EXIF thumbnail's end marker does not count; entropy-coded data
/// cannot contain `FF D9` (a data `FF` is always followed by `00`).
pub(crate) fn jpeg_complete(input: &[u8]) -> bool {
    let mut pos = 2;
    loop {
        // Markers may be preceded by fill bytes (0xFF).
        while input.get(pos) == Some(&0xFF) && input.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        if input.get(pos) != Some(&0xFF) {
            return false;
        }
        let Some(&marker) = input.get(pos + 1) else {
            return false;
        };
        match marker {
            0xD9 => return false,
            0x01 | 0xD0..=0xD7 => pos += 2,
            _ => {
                let Some(len) = input.get(pos + 2..pos + 4) else {
                    return false;
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                pos += 2 + len;
                if marker == 0xDA {
                    return input
                        .get(pos..)
                        .is_some_and(|rest| rest.windows(2).any(|w| w == [0xFF, 0xD9]));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_magic_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some(ImageKind::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(ImageKind::Png));
        assert_eq!(sniff(b"GIF89a......"), Some(ImageKind::Gif));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageKind::WebP));
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(describe_other(b"\0\0\0\x18ftypheic...."), Some("HEIC/HEIF"));
        assert_eq!(describe_other(b"%PDF-1.7"), Some("PDF"));
        assert_eq!(describe_other(b"hello"), None);
    }

    #[test]
    fn jpeg_completeness_ignores_thumbnail_end_markers() {
        // SOI, APP1 holding an "end marker", SOS with data, EOI.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x04, 0xFF, 0xD9];
        jpeg.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02, 0x12, 0x34, 0xFF, 0x00]);
        assert!(!jpeg_complete(&jpeg));
        jpeg.extend_from_slice(&[0xFF, 0xD9]);
        assert!(jpeg_complete(&jpeg));
    }
}
