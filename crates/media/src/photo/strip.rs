//! Metadata removed from a photo as it is, without decoding or re-encoding a pixel: the
//! server's copy of an upload from a client that did not prepare it (a modified client could
//! send a camera JPEG with its GPS position). Every segment, chunk or block that draws the
//! picture is copied byte for byte; what describes where, when, how or by whom it was taken
//! is left out, and so is anything after the image's end marker (where phones append motion
//! videos, depth maps and vendor trailers, which carry metadata of their own).
//!
//! Kept besides the picture itself:
//! - **Colour**: ICC profiles (JPEG `APP2 ICC_PROFILE`, PNG `iCCP`, WebP `ICCP`), PNG's
//!   `gAMA`, `cHRM`, `sRGB`, `sBIT`, `cICP`, `mDCv` and `cLLi`, and JPEG's `APP14 Adobe`
//!   (its colour transform decides how the channels decode). Without them a wide-gamut (Display
//!   P3) or HDR photo shows washed out or wrong; they describe colour, not the photo's taking.
//! - **The EXIF orientation**, and nothing else of the EXIF: a camera stores a portrait photo
//!   sideways and says so only there, so without it the photo would show on its side. When the
//!   orientation is not upright, a fresh 26-byte EXIF holding only that tag replaces the old
//!   one; an upright photo keeps no EXIF at all.
//! - PNG's `pHYs` and `bKGD`, a JPEG's JFIF header (without its thumbnail), animation control
//!   (APNG `acTL`/`fcTL`/`fdAT`, WebP `ANIM`/`ANMF`, the GIF loop extension).
//!
//! Dropped: EXIF (GPS, camera, serial numbers, times), XMP, IPTC (`APP13`), JPEG comments and
//! every other application segment, MPF and vendor trailers; PNG text (`tEXt`, `zTXt`,
//! `iTXt`), `eXIf`, `tIME` and every other ancillary chunk; WebP `EXIF`, `XMP ` and unknown
//! chunks (with the VP8X flags and the RIFF size set to match); GIF comments, and application
//! extensions other than the NETSCAPE2.0/ANIMEXTS1.0 loop count (XMP lives in one).
//!
//! A structure that does not add up (a length past the end, a missing end marker) is refused
//! as [`MediaError::CorruptImage`]: nothing is guessed.

use image::metadata::Orientation;

use super::pixels::exif_orientation;
use super::sniff::{self, ImageKind};
use crate::MediaError;

/// A copy of `input` (JPEG, PNG, WebP or GIF, recognised by content) without its metadata,
/// pixels untouched (see the module's doc for what is kept and why). Linear in the input's
/// size; never decodes an image.
pub fn strip_metadata(input: &[u8]) -> Result<Vec<u8>, MediaError> {
    let kind = sniff::sniff(input).ok_or_else(|| match sniff::describe_other(input) {
        Some(name) => MediaError::UnsupportedImage(name.to_string()),
        None => MediaError::NotAnImage,
    })?;
    match kind {
        ImageKind::Jpeg => jpeg(input, orientation(input)),
        ImageKind::Png => png(input, orientation(input)),
        ImageKind::WebP => webp(input, orientation(input)),
        ImageKind::Gif => gif(input),
    }
}

/// A TIFF (EXIF) block holding only the orientation, when the photo is not stored upright.
fn orientation(input: &[u8]) -> Option<Vec<u8>> {
    let value = match exif_orientation(input) {
        Orientation::NoTransforms => return None,
        other => u16::from(other.to_exif()),
    };
    let mut tiff = Vec::with_capacity(26);
    // Big-endian header, the first IFD at offset 8.
    tiff.extend_from_slice(b"MM\0\x2A\0\0\0\x08");
    // One entry: Orientation (0x0112), SHORT (3), one value, left-justified in the 4 bytes.
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
    tiff.extend_from_slice(&value.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    // No next IFD.
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    Some(tiff)
}

fn corrupt(kind: &str, why: &str) -> MediaError {
    MediaError::CorruptImage(format!("the {kind}'s structure is broken: {why}"))
}

/// The JFIF header, canonical and without a thumbnail: identifier, version, density units and
/// densities copied, thumbnail size 0×0.
fn jfif_without_thumbnail(payload: &[u8]) -> Option<Vec<u8>> {
    if payload.len() < 14 || &payload[..5] != b"JFIF\0" {
        return None;
    }
    let mut out = vec![0xFF, 0xE0, 0x00, 0x10];
    out.extend_from_slice(&payload[..12]);
    out.extend_from_slice(&[0, 0]);
    Some(out)
}

/// Whether a JPEG marker segment draws the picture (and is copied) or is metadata.
fn jpeg_keeps(marker: u8, payload: &[u8]) -> bool {
    match marker {
        // SOF0–SOF15 (with DHT at C4, JPG at C8, DAC at CC), DQT, DNL, DRI, DHP, EXP.
        0xC0..=0xCF | 0xDB..=0xDF => true,
        // ICC profile: colour.
        0xE2 => payload.starts_with(b"ICC_PROFILE\0"),
        // Adobe: the colour transform (YCbCr, RGB or YCCK) the decoder must apply.
        0xEE => payload.starts_with(b"Adobe"),
        // JPEG-LS SOF55 and LSE.
        0xF7 | 0xF8 => true,
        // APP0 is handled by the caller; APP1 (EXIF, XMP), the other APPn, COM, and anything
        // reserved are dropped.
        _ => false,
    }
}

fn jpeg(input: &[u8], orientation: Option<Vec<u8>>) -> Result<Vec<u8>, MediaError> {
    let bad = |why: &str| corrupt("JPEG", why);
    if !input.starts_with(&[0xFF, 0xD8]) {
        return Err(bad("no start-of-image marker"));
    }
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut orientation = orientation;
    let mut pos = 2;
    let mut jfif_kept = false;
    let mut in_scan = false;
    loop {
        if in_scan {
            // Entropy-coded data: copied up to the next marker. A data 0xFF is followed by 0x00
            // and restart markers (D0–D7) belong to the data.
            let start = pos;
            loop {
                let ff = input[pos..]
                    .iter()
                    .position(|&b| b == 0xFF)
                    .map(|at| pos + at)
                    .ok_or_else(|| bad("the data ends without an end-of-image marker"))?;
                match input.get(ff + 1) {
                    Some(0x00 | 0xD0..=0xD7) => pos = ff + 2,
                    Some(_) => {
                        pos = ff;
                        break;
                    }
                    None => return Err(bad("the data ends without an end-of-image marker")),
                }
            }
            out.extend_from_slice(&input[start..pos]);
        }
        // Fill bytes (0xFF) may stand before a marker.
        while input.get(pos) == Some(&0xFF) && input.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        if input.get(pos) != Some(&0xFF) {
            return Err(bad("a marker was expected"));
        }
        let marker = *input
            .get(pos + 1)
            .ok_or_else(|| bad("the file ends inside a marker"))?;
        match marker {
            0xD9 if in_scan => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                return Ok(out);
            }
            0xD9 => return Err(bad("the image ends before any scan")),
            0xD8 | 0xD0..=0xD7 | 0x00 => return Err(bad("a marker out of place")),
            0x01 => {
                out.extend_from_slice(&[0xFF, 0x01]);
                pos += 2;
                continue;
            }
            _ => {}
        }
        let len = input
            .get(pos + 2..pos + 4)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or_else(|| bad("the file ends inside a segment"))?;
        if len < 2 {
            return Err(bad("a segment is shorter than its length field"));
        }
        let end = pos + 2 + len;
        let segment = input
            .get(pos..end)
            .ok_or_else(|| bad("a segment runs past the end of the file"))?;
        let payload = &segment[4..];
        if marker == 0xE0 {
            // The first JFIF header, without its thumbnail; JFXX thumbnails and every other
            // APP0 go.
            if let Some(jfif) = jfif_without_thumbnail(payload).filter(|_| !jfif_kept) {
                out.extend_from_slice(&jfif);
                jfif_kept = true;
            }
        } else if jpeg_keeps(marker, payload) || marker == 0xDA {
            // The orientation goes before the first segment that is not a JFIF header.
            if let Some(tiff) = orientation.take() {
                let len = u16::try_from(2 + 6 + tiff.len()).unwrap_or(u16::MAX);
                out.extend_from_slice(&[0xFF, 0xE1]);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(b"Exif\0\0");
                out.extend_from_slice(&tiff);
            }
            out.extend_from_slice(segment);
        }
        if marker == 0xDA {
            in_scan = true;
        }
        pos = end;
    }
}

/// PNG chunks that are copied: every critical one (the type's first letter upper-case), and
/// the ancillary ones for transparency, colour, pixel density, background and APNG.
fn png_keeps(kind: &[u8]) -> bool {
    kind[0].is_ascii_uppercase()
        || matches!(
            kind,
            b"tRNS"
                | b"gAMA"
                | b"cHRM"
                | b"sRGB"
                | b"iCCP"
                | b"sBIT"
                | b"cICP"
                | b"mDCv"
                | b"cLLi"
                | b"pHYs"
                | b"bKGD"
                | b"acTL"
                | b"fcTL"
                | b"fdAT"
        )
}

fn png(input: &[u8], orientation: Option<Vec<u8>>) -> Result<Vec<u8>, MediaError> {
    let bad = |why: &str| corrupt("PNG", why);
    let mut orientation = orientation;
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..sniff::PNG_SIGNATURE.len()]);
    let mut pos = sniff::PNG_SIGNATURE.len();
    loop {
        let header = input
            .get(pos..pos + 8)
            .ok_or_else(|| bad("the file ends without an IEND chunk"))?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = &header[4..8];
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(bad("a chunk type is not four letters"));
        }
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| pos.checked_add(12)?.checked_add(len))
            .filter(|&end| end <= input.len())
            .ok_or_else(|| bad("a chunk runs past the end of the file"))?;
        if kind == b"IDAT" {
            if let Some(tiff) = orientation.take() {
                out.extend_from_slice(&png_chunk(b"eXIf", &tiff));
            }
        }
        if png_keeps(kind) {
            out.extend_from_slice(&input[pos..end]);
        }
        if kind == b"IEND" {
            return Ok(out);
        }
        pos = end;
    }
}

/// A PNG chunk: length, type, data, CRC-32 of type and data.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = Vec::with_capacity(12 + data.len());
    chunk.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let crc = crc32fast::hash(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    chunk
}

/// VP8X flags: ICC profile, alpha, EXIF, XMP, animation.
const VP8X_EXIF: u8 = 0x08;
const VP8X_XMP: u8 = 0x04;

fn webp(input: &[u8], orientation: Option<Vec<u8>>) -> Result<Vec<u8>, MediaError> {
    let bad = |why: &str| corrupt("WebP", why);
    let declared = input
        .get(4..8)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| bad("the file ends inside its header"))?;
    let riff_end = usize::try_from(declared)
        .ok()
        .and_then(|size| size.checked_add(8))
        .filter(|&end| end <= input.len())
        .ok_or_else(|| bad("the RIFF size runs past the end of the file"))?;
    let mut chunks: Vec<u8> = Vec::with_capacity(riff_end);
    let mut vp8x_at = None;
    let mut pos = 12;
    while pos < riff_end {
        let header = input
            .get(pos..pos + 8)
            .filter(|_| pos + 8 <= riff_end)
            .ok_or_else(|| bad("the file ends inside a chunk header"))?;
        let fourcc: [u8; 4] = [header[0], header[1], header[2], header[3]];
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        // Chunks are padded to an even size; a last chunk may lack its pad byte.
        let end = usize::try_from(size)
            .ok()
            .and_then(|size| (pos + 8).checked_add(size))
            .filter(|&end| end <= riff_end)
            .ok_or_else(|| bad("a chunk runs past the end of the file"))?;
        let end = (end + end % 2).min(riff_end);
        match &fourcc {
            b"VP8X" => {
                if size < 10 {
                    return Err(bad("the VP8X chunk is too short"));
                }
                vp8x_at = Some(chunks.len());
                chunks.extend_from_slice(&input[pos..end]);
            }
            b"VP8 " | b"VP8L" | b"ALPH" | b"ANIM" | b"ANMF" | b"ICCP" => {
                chunks.extend_from_slice(&input[pos..end]);
            }
            // EXIF, XMP and whatever else: left out.
            _ => {}
        }
        pos = end;
    }
    // Keep only the orientation, in the place the container gives EXIF (after the image), and
    // only where there is a VP8X header to flag it: a simple WebP has no EXIF.
    let orientation = orientation.filter(|_| vp8x_at.is_some());
    if let Some(at) = vp8x_at {
        let flags = &mut chunks[at + 8];
        *flags &= !(VP8X_EXIF | VP8X_XMP);
        if orientation.is_some() {
            *flags |= VP8X_EXIF;
        }
    }
    if let Some(tiff) = orientation {
        chunks.extend_from_slice(b"EXIF");
        chunks.extend_from_slice(&u32::try_from(tiff.len()).unwrap_or(0).to_le_bytes());
        chunks.extend_from_slice(&tiff);
        if tiff.len() % 2 == 1 {
            chunks.push(0);
        }
    }
    let size =
        u32::try_from(chunks.len() + 4).map_err(|_| bad("the file is larger than RIFF allows"))?;
    let mut out = Vec::with_capacity(chunks.len() + 12);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&chunks);
    Ok(out)
}

fn gif(input: &[u8]) -> Result<Vec<u8>, MediaError> {
    let bad = |why: &str| corrupt("GIF", why);
    // Header (6) and logical screen descriptor (7), then the global colour table if flagged.
    let flags = *input
        .get(10)
        .ok_or_else(|| bad("the file ends inside its header"))?;
    let mut pos = 13 + sniff::colour_table_len(flags);
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(
        input
            .get(..pos)
            .ok_or_else(|| bad("the file ends inside its colour table"))?,
    );
    // The position after a chain of sub-blocks that starts at `at`.
    let sub_blocks = |at: usize| {
        let end = sniff::skip_sub_blocks(input, at);
        if end > input.len() {
            Err(bad("the file ends inside a block"))
        } else {
            Ok(end)
        }
    };
    loop {
        match input.get(pos) {
            Some(0x21) => {
                let label = *input
                    .get(pos + 1)
                    .ok_or_else(|| bad("the file ends inside an extension"))?;
                let end = sub_blocks(pos + 2)?;
                let keep = match label {
                    // Graphic control (delay, disposal, transparency) and plain text.
                    0xF9 | 0x01 => true,
                    // Application: only the loop count.
                    0xFF => matches!(
                        input.get(pos + 2..pos + 14),
                        Some(b"\x0BNETSCAPE2.0" | b"\x0BANIMEXTS1.0")
                    ),
                    // Comments and unknown extensions.
                    _ => false,
                };
                if keep {
                    out.extend_from_slice(&input[pos..end]);
                }
                pos = end;
            }
            Some(0x2C) => {
                let local = *input
                    .get(pos + 9)
                    .ok_or_else(|| bad("the file ends inside an image descriptor"))?;
                // Descriptor (10), local colour table, LZW code size (1), then the data.
                let end = sub_blocks(pos + 10 + sniff::colour_table_len(local) + 1)?;
                out.extend_from_slice(&input[pos..end]);
                pos = end;
            }
            Some(0x3B) => {
                out.push(0x3B);
                return Ok(out);
            }
            Some(_) => return Err(bad("an unknown block")),
            None => return Err(bad("the file ends without a trailer")),
        }
    }
}
