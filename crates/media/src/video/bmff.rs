//! A bounds-checked view of ISO-BMFF boxes (MP4, MOV) over the bytes in memory.
//!
//! `mp4parse` reads the tables; this walker does the three things it cannot: prove that every
//! box ends inside its parent and the file (a cut-off download is refused before anything is
//! read from it), find the `moov` exactly once, and hand out the raw sample description
//! (`stsd`) of each track, which the remuxer copies verbatim and which names codecs
//! `mp4parse` does not know (HEVC).

use crate::MediaError;

/// One box: its four-character type and where its header and payload lie in the input.
#[derive(Debug, Clone, Copy)]
pub(super) struct BoxRef {
    pub kind: [u8; 4],
    /// Offset of the box header.
    pub start: usize,
    /// Offset of the payload (after the size, type and any 64-bit size).
    pub body: usize,
    /// Offset one past the last byte of the box.
    pub end: usize,
}

/// A four-character code for messages: printable ASCII as is, anything else in hex.
pub(super) fn fourcc(kind: [u8; 4]) -> String {
    if kind.iter().all(|b| (0x20..0x7f).contains(b)) {
        String::from_utf8_lossy(&kind).trim_end().to_string()
    } else {
        format!("0x{:08x}", u32::from_be_bytes(kind))
    }
}

/// The boxes directly inside `input[start..end]`, each checked to end within that range. A box
/// that claims more bytes than remain is reported as a cut-off file, naming the box.
pub(super) fn children(input: &[u8], start: usize, end: usize) -> Result<Vec<BoxRef>, MediaError> {
    let mut boxes = Vec::new();
    let mut pos = start;
    while pos < end {
        let remaining = end - pos;
        if remaining < 8 {
            return Err(MediaError::CorruptVideo(format!(
                "{remaining} stray bytes where a box header should be (the file is cut off?)"
            )));
        }
        let size32 = be_u32(input, pos)?;
        let kind = [
            input[pos + 4],
            input[pos + 5],
            input[pos + 6],
            input[pos + 7],
        ];
        let (size, header) = match size32 {
            // "Extends to the end of the file": only meaningful for the last box.
            0 => (remaining as u64, 8),
            1 => (be_u64(input, pos + 8)?, 16),
            n => (u64::from(n), 8),
        };
        if size < header as u64 {
            return Err(MediaError::CorruptVideo(format!(
                "the '{}' box declares an impossible size of {size} bytes",
                fourcc(kind)
            )));
        }
        if size > remaining as u64 {
            return Err(MediaError::CorruptVideo(format!(
                "the file is cut off: the '{}' box needs {size} bytes but only {remaining} remain",
                fourcc(kind)
            )));
        }
        // `size <= remaining`, which is a usize.
        let box_end = pos + size as usize;
        boxes.push(BoxRef {
            kind,
            start: pos,
            body: pos + header,
            end: box_end,
        });
        pos = box_end;
    }
    Ok(boxes)
}

/// The first child of `parent` of the given type.
pub(super) fn child(
    input: &[u8],
    parent: &BoxRef,
    kind: &[u8; 4],
) -> Result<Option<BoxRef>, MediaError> {
    Ok(children(input, parent.body, parent.end)?
        .into_iter()
        .find(|b| &b.kind == kind))
}

/// Follows a path of box types from `parent`; `None` when any step is missing.
pub(super) fn path(
    input: &[u8],
    parent: &BoxRef,
    kinds: &[&[u8; 4]],
) -> Result<Option<BoxRef>, MediaError> {
    let mut here = *parent;
    for kind in kinds {
        match child(input, &here, kind)? {
            Some(next) => here = next,
            None => return Ok(None),
        }
    }
    Ok(Some(here))
}

/// The top-level layout of an MP4/MOV: the one `moov`, and the major brand of `ftyp`.
pub(super) struct TopLevel {
    pub moov: BoxRef,
    pub major_brand: Option<[u8; 4]>,
}

pub(super) fn top_level(input: &[u8]) -> Result<TopLevel, MediaError> {
    let boxes = children(input, 0, input.len())?;
    let major_brand = boxes
        .iter()
        .find(|b| &b.kind == b"ftyp" && b.end - b.body >= 4)
        .map(|b| {
            [
                input[b.body],
                input[b.body + 1],
                input[b.body + 2],
                input[b.body + 3],
            ]
        });
    if boxes.iter().any(|b| &b.kind == b"moof") {
        return Err(MediaError::UnsupportedVideo(
            "a fragmented MP4 (streaming segments)".into(),
        ));
    }
    let mut moovs = boxes.iter().filter(|b| &b.kind == b"moov");
    let moov = *moovs.next().ok_or_else(|| {
        MediaError::CorruptVideo(
            "no 'moov' box with the track tables (the recording or the download did not finish)"
                .into(),
        )
    })?;
    if moovs.next().is_some() {
        return Err(MediaError::CorruptVideo("more than one 'moov' box".into()));
    }
    Ok(TopLevel { moov, major_brand })
}

/// The raw `stsd` box of every `trak` in `moov`, in file order (the order `mp4parse` reports
/// tracks in), or `None` for a track without one.
pub(super) fn track_sample_descriptions(
    input: &[u8],
    moov: &BoxRef,
) -> Result<Vec<Option<BoxRef>>, MediaError> {
    children(input, moov.body, moov.end)?
        .iter()
        .filter(|b| &b.kind == b"trak")
        .map(|trak| path(input, trak, &[b"mdia", b"minf", b"stbl", b"stsd"]))
        .collect()
}

/// The first sample entry inside a raw `stsd` box (after its version, flags and count).
pub(super) fn first_sample_entry(input: &[u8], stsd: &BoxRef) -> Result<BoxRef, MediaError> {
    let entries_start = stsd.body + 8;
    if entries_start > stsd.end {
        return Err(MediaError::CorruptVideo(
            "an empty sample description".into(),
        ));
    }
    children(input, entries_start, stsd.end)?
        .into_iter()
        .next()
        .ok_or_else(|| MediaError::CorruptVideo("an empty sample description".into()))
}

pub(super) fn be_u16(input: &[u8], pos: usize) -> Result<u16, MediaError> {
    input
        .get(pos..pos + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(short)
}

pub(super) fn be_u32(input: &[u8], pos: usize) -> Result<u32, MediaError> {
    input
        .get(pos..pos + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(short)
}

fn be_u64(input: &[u8], pos: usize) -> Result<u64, MediaError> {
    input
        .get(pos..pos + 8)
        .map(|b| u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .ok_or_else(short)
}

fn short() -> MediaError {
    MediaError::CorruptVideo("the file is cut off inside a box header".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn a_box_past_the_end_is_a_cut_off_file() {
        let mut file = boxed(b"ftyp", b"isom\0\0\0\0");
        file.extend(boxed(b"mdat", &[0; 100]));
        file.truncate(file.len() - 10);
        let err = children(&file, 0, file.len()).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("damaged video: the file is cut off: the 'mdat' box needs 108 bytes but only 98 remain")
        );
    }

    #[test]
    fn missing_moov_and_absurd_sizes_are_refused() {
        let file = boxed(b"ftyp", b"isom\0\0\0\0");
        assert!(matches!(top_level(&file), Err(MediaError::CorruptVideo(_))));
        let mut tiny = 4u32.to_be_bytes().to_vec();
        tiny.extend_from_slice(b"moov");
        assert!(matches!(
            children(&tiny, 0, tiny.len()),
            Err(MediaError::CorruptVideo(_))
        ));
        // A 64-bit size far beyond the file.
        let mut huge = 1u32.to_be_bytes().to_vec();
        huge.extend_from_slice(b"mdat");
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(matches!(
            children(&huge, 0, huge.len()),
            Err(MediaError::CorruptVideo(_))
        ));
    }
}
