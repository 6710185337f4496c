//! WebM (Matroska) in and out.
//!
//! `matroska-demuxer` reads the tracks and the frames. Before it sees a byte, [`walk`] proves
//! that every element ends inside its parent and the file (a cut-off file is refused rather
//! than silently read as a shorter one, and no declared size can make anything allocate more
//! than the file holds).
//!
//! Sending ([`strip`]) does not rebuild the file: every element that can carry metadata
//! (`Tags`, `Attachments`, `Chapters`, the segment's `Title` and `DateUTC`, track `Name`s, and
//! the `SeekHead` entries pointing at them) is overwritten in place by a `Void` element of
//! exactly the same length, its bytes zeroed; the mandatory `MuxingApp` and `WritingApp` keep
//! their place but say "natter". Every offset in
//! the file (`SeekHead`, `Cues`) stays valid, so no index needs rewriting. Muting voids the
//! audio track's entry, its blocks and its cue points the same way. Trimming a WebM would need
//! its clusters and timestamps rewritten; it is refused.

use std::io::Cursor;

use matroska_demuxer::{Frame, MatroskaFile, TrackType};

use super::{
    check_limits, AudioCodec, Container, VideoCodec, VideoEdits, VideoInfo, MAX_TRACK_SAMPLES,
};
use crate::MediaError;

const EBML: u32 = 0x1A45_DFA3;
const DOC_TYPE: u32 = 0x4282;
const SEGMENT: u32 = 0x1853_8067;
const SEEK_HEAD: u32 = 0x114D_9B74;
const SEEK: u32 = 0x4DBB;
const SEEK_ID: u32 = 0x53AB;
const INFO: u32 = 0x1549_A966;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_TYPE: u32 = 0x83;
const CLUSTER: u32 = 0x1F43_B675;
const SIMPLE_BLOCK: u32 = 0xA3;
const BLOCK_GROUP: u32 = 0xA0;
const BLOCK: u32 = 0xA1;
const CUES: u32 = 0x1C53_BB6B;
const CUE_POINT: u32 = 0xBB;
const CUE_TRACK_POSITIONS: u32 = 0xB7;
const CUE_TRACK: u32 = 0xF7;
const TAGS: u32 = 0x1254_C367;
const CHAPTERS: u32 = 0x1043_A770;
const ATTACHMENTS: u32 = 0x1941_A469;
const VOID: u32 = 0xEC;
const CRC32: u32 = 0xBF;

/// Segment children that hold nothing but metadata.
const METADATA_TOP: [u32; 3] = [TAGS, ATTACHMENTS, CHAPTERS];
/// `Info` children that say what the file is and when it was made: Title, DateUTC.
const METADATA_INFO: [u32; 2] = [0x7BA9, 0x4461];
/// `Info` children naming the programs that wrote the file (MuxingApp, WritingApp), which a
/// phone app may fill with the device's name. Mandatory, so their text is overwritten
/// instead (strings may be padded with zero bytes).
const APP_NAMES: [u32; 2] = [0x4D80, 0x5741];
/// What [`APP_NAMES`] say after stripping (cut to the space the original text had).
const APP_NAME: &[u8] = b"natter";
/// `TrackEntry` child naming the track (free text).
const TRACK_NAME: u32 = 0x536E;

/// Masters whose children are checked too.
const MASTERS: [u32; 19] = [
    SEGMENT,
    SEEK_HEAD,
    SEEK,
    INFO,
    TRACKS,
    TRACK_ENTRY,
    0xE0, // Video
    0xE1, // Audio
    CLUSTER,
    BLOCK_GROUP,
    CUES,
    CUE_POINT,
    CUE_TRACK_POSITIONS,
    TAGS,
    0x7373, // Tag
    0x67C8, // SimpleTag
    CHAPTERS,
    ATTACHMENTS,
    0x61A7, // AttachedFile
];
/// Segment-level ids: where an unknown-size cluster ends.
const TOP_LEVEL: [u32; 8] = [
    CLUSTER,
    SEEK_HEAD,
    INFO,
    TRACKS,
    CUES,
    TAGS,
    CHAPTERS,
    ATTACHMENTS,
];
/// Deepest nesting accepted (real files stop at about 6).
const MAX_DEPTH: usize = 16;
/// Most elements a file may have: a block per frame for two full tracks plus their clusters
/// and headers. Real three-minute files have tens of thousands; the cap bounds the memory a
/// file of tiny elements could make the walker use (about 60 bytes each).
const MAX_ELEMENTS: usize = 2 * MAX_TRACK_SAMPLES + 100_000;

/// One element: its id and where its header and data lie.
#[derive(Debug, Clone)]
struct Element {
    id: u32,
    start: usize,
    data: usize,
    end: usize,
    children: Vec<Element>,
}

impl Element {
    fn child(&self, id: u32) -> Option<&Element> {
        self.children.iter().find(|c| c.id == id)
    }

    fn descendants(&self) -> impl Iterator<Item = &Element> {
        let mut stack: Vec<&Element> = self.children.iter().rev().collect();
        std::iter::from_fn(move || {
            let next = stack.pop()?;
            stack.extend(next.children.iter().rev());
            Some(next)
        })
    }
}

fn cut_off(what: &str) -> MediaError {
    MediaError::CorruptVideo(format!("the file is cut off ({what})"))
}

/// Reads an element id (1 to 4 bytes, marker bit kept).
fn read_id(buf: &[u8], pos: usize) -> Result<(u32, usize), MediaError> {
    let first = *buf
        .get(pos)
        .ok_or_else(|| cut_off("inside an element header"))?;
    let len = first.leading_zeros() as usize + 1;
    if len > 4 {
        return Err(MediaError::CorruptVideo("an invalid element id".into()));
    }
    let bytes = buf
        .get(pos..pos + len)
        .ok_or_else(|| cut_off("inside an element header"))?;
    Ok((bytes.iter().fold(0, |v, &b| v << 8 | u32::from(b)), len))
}

/// Reads an element size (1 to 8 bytes); `None` for the "unknown" size of a live recording.
fn read_size(buf: &[u8], pos: usize) -> Result<(Option<u64>, usize), MediaError> {
    let first = *buf
        .get(pos)
        .ok_or_else(|| cut_off("inside an element header"))?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return Err(MediaError::CorruptVideo("an invalid element size".into()));
    }
    let bytes = buf
        .get(pos..pos + len)
        .ok_or_else(|| cut_off("inside an element header"))?;
    let mask = if len == 8 { 0 } else { 0xFFu8 >> len };
    let value = bytes[1..]
        .iter()
        .fold(u64::from(first & mask), |v, &b| v << 8 | u64::from(b));
    let all_ones = (1u64 << (7 * len)) - 1;
    Ok(((value != all_ones).then_some(value), len))
}

/// Parses the elements in `buf[start..end]`, recursing into [`MASTERS`]. Every element must end
/// inside `end`; an unknown size is allowed for segments and clusters only.
fn walk(buf: &[u8], start: usize, end: usize, depth: usize) -> Result<Vec<Element>, MediaError> {
    walk_until(buf, start, end, depth, false, &mut 0)
}

/// [`walk`], stopping early at a segment-level id when `open_ended` (the children of an
/// unknown-size cluster end where the next cluster or other top element starts).
fn walk_until(
    buf: &[u8],
    start: usize,
    end: usize,
    depth: usize,
    open_ended: bool,
    count: &mut usize,
) -> Result<Vec<Element>, MediaError> {
    if depth > MAX_DEPTH {
        return Err(MediaError::CorruptVideo("elements nested too deep".into()));
    }
    let mut out = Vec::new();
    let mut pos = start;
    while pos < end {
        *count += 1;
        if *count > MAX_ELEMENTS {
            return Err(MediaError::UnsupportedVideo(format!(
                "a file of more than {MAX_ELEMENTS} elements"
            )));
        }
        let (id, id_len) = read_id(buf, pos)?;
        // An unknown-size cluster ends where the next segment-level element starts.
        if open_ended && TOP_LEVEL.contains(&id) {
            break;
        }
        let (size, size_len) = read_size(buf, pos + id_len)?;
        let data = pos + id_len + size_len;
        if data > end {
            return Err(cut_off("inside an element header"));
        }
        let (elem_end, children) = match size {
            Some(size) => {
                if size > (end - data) as u64 {
                    return Err(cut_off(&format!(
                        "element 0x{id:X} needs {size} bytes but only {} remain",
                        end - data
                    )));
                }
                let elem_end = data + size as usize;
                let children = if MASTERS.contains(&id) {
                    walk_until(buf, data, elem_end, depth + 1, false, count)?
                } else {
                    Vec::new()
                };
                (elem_end, children)
            }
            None if id == SEGMENT || id == CLUSTER => {
                let children = walk_until(buf, data, end, depth + 1, id == CLUSTER, count)?;
                let elem_end = children.last().map_or(data, |c| c.end);
                (elem_end, children)
            }
            None => {
                return Err(MediaError::CorruptVideo(format!(
                    "element 0x{id:X} has an unknown size"
                )))
            }
        };
        out.push(Element {
            id,
            start: pos,
            data,
            end: elem_end,
            children,
        });
        pos = elem_end;
    }
    Ok(out)
}

/// The EBML header's doc type and the segment.
fn layout(input: &[u8]) -> Result<(String, Element), MediaError> {
    let top = walk(input, 0, input.len(), 0)?;
    let header = top
        .first()
        .filter(|e| e.id == EBML)
        .ok_or_else(|| MediaError::NotAVideo("unrecognised content".into()))?;
    let doc_type = walk(input, header.data, header.end, 1)?
        .into_iter()
        .find(|e| e.id == DOC_TYPE)
        .map(|e| String::from_utf8_lossy(&input[e.data..e.end]).into_owned())
        .unwrap_or_default();
    if doc_type != "webm" && doc_type != "matroska" {
        return Err(MediaError::NotAVideo(format!(
            "an EBML file of type \"{}\"",
            doc_type.escape_default()
        )));
    }
    let segment = top
        .into_iter()
        .find(|e| e.id == SEGMENT)
        .ok_or_else(|| cut_off("no segment after the header"))?;
    Ok((doc_type, segment))
}

pub(super) fn probe(input: &[u8]) -> Result<VideoInfo, MediaError> {
    let (doc_type, _) = layout(input)?;
    let demux_error = |e: matroska_demuxer::DemuxError| {
        MediaError::CorruptVideo(format!("unreadable {doc_type} structure ({e})"))
    };
    let mut file = MatroskaFile::open(Cursor::new(input)).map_err(demux_error)?;
    let mut videos = file
        .tracks()
        .iter()
        .filter(|t| matches!(t.track_type(), TrackType::Video));
    let video = videos
        .next()
        .ok_or_else(|| MediaError::NotAVideo(format!("a {doc_type} file without a video track")))?;
    if videos.next().is_some() {
        return Err(MediaError::UnsupportedVideo(
            "a file with more than one video track".into(),
        ));
    }
    let video_codec = match video.codec_id() {
        "V_VP8" => VideoCodec::Vp8,
        "V_VP9" => VideoCodec::Vp9,
        "V_AV1" => VideoCodec::Av1,
        other => {
            let name = match other {
                "V_MPEG4/ISO/AVC" => "H.264",
                "V_MPEGH/ISO/HEVC" => "HEVC",
                _ => other,
            };
            return Err(MediaError::UnsupportedVideo(format!(
                "the {} video codec in a {doc_type} file (send it as MP4)",
                name.escape_default()
            )));
        }
    };
    let (width, height) = video.video().map_or((0, 0), |v| {
        (
            u32::try_from(v.pixel_width().get()).unwrap_or(u32::MAX),
            u32::try_from(v.pixel_height().get()).unwrap_or(u32::MAX),
        )
    });
    let video_number = video.track_number().get();
    let audio = file
        .tracks()
        .iter()
        .find(|t| matches!(t.track_type(), TrackType::Audio));
    let has_audio = audio.is_some();
    let audio_codec = audio.map(|a| match a.codec_id() {
        "A_OPUS" => AudioCodec::Opus,
        "A_VORBIS" => AudioCodec::Vorbis,
        id if id.starts_with("A_AAC") => AudioCodec::Aac,
        _ => AudioCodec::Other,
    });
    // Default durations, in ns, to know when each track's last frame ends.
    let frame_ns: Vec<(u64, u64)> = file
        .tracks()
        .iter()
        .map(|t| {
            (
                t.track_number().get(),
                t.default_duration().map_or(0, |d| d.get()),
            )
        })
        .collect();
    let scale = file.info().timestamp_scale().get();
    let header_ms = file
        .info()
        .duration()
        .map_or(0.0, |d| d * scale as f64 / 1e6);

    let mut frame = Frame::default();
    let mut keyframes_ns = Vec::new();
    let mut start_ns = u64::MAX;
    let mut end_ns = 0u64;
    let mut frames = 0usize;
    while file.next_frame(&mut frame).map_err(demux_error)? {
        frames += 1;
        if frames > 2 * MAX_TRACK_SAMPLES {
            return Err(MediaError::UnsupportedVideo(format!(
                "a file of more than {} frames",
                2 * MAX_TRACK_SAMPLES
            )));
        }
        let at_ns = frame.timestamp.saturating_mul(scale);
        let length = frame_ns
            .iter()
            .find(|(n, _)| *n == frame.track)
            .map_or(0, |(_, d)| *d);
        start_ns = start_ns.min(at_ns);
        end_ns = end_ns.max(at_ns.saturating_add(length));
        if frame.track == video_number && frame.is_keyframe.unwrap_or(keyframes_ns.is_empty()) {
            keyframes_ns.push(at_ns);
        }
    }
    if keyframes_ns.is_empty() {
        return Err(MediaError::CorruptVideo(
            "the video track has no keyframe".into(),
        ));
    }
    // The timeline starts at the first frame (ffmpeg shifts everything by Opus's pre-skip).
    let duration_ms = (end_ns.saturating_sub(start_ns) / 1_000_000)
        .max((header_ms as u64).saturating_sub(start_ns / 1_000_000));
    let mut info = VideoInfo {
        container: Container::WebM,
        video_codec,
        audio_codec,
        duration_ms: u32::try_from(duration_ms).unwrap_or(u32::MAX),
        width,
        height,
        rotation: 0,
        display_width: 0,
        display_height: 0,
        keyframes_ms: Vec::new(),
        has_audio,
        mime: "video/webm",
    };
    check_limits(&mut info, duration_ms)?;
    info.keyframes_ms = keyframes_ns
        .iter()
        .map(|ns| u32::try_from((ns - start_ns) / 1_000_000).unwrap_or(u32::MAX))
        .collect();
    Ok(info)
}

/// The input with every metadata element (and with `mute`, the audio) overwritten by `Void`.
pub(super) fn strip(input: &[u8], edits: &VideoEdits) -> Result<Vec<u8>, MediaError> {
    if edits.trims() {
        return Err(MediaError::UnsupportedVideo(
            "trimming a WebM video (only MP4 and MOV can be cut without re-encoding)".into(),
        ));
    }
    let (_, segment) = layout(input)?;
    let mut voids: Vec<(usize, usize)> = Vec::new();
    let mut renames: Vec<(usize, usize)> = Vec::new();
    let audio_tracks: Vec<u64> = if edits.mute {
        segment
            .descendants()
            .filter(|e| e.id == TRACK_ENTRY)
            .filter(|t| t.child(TRACK_TYPE).map(|e| uint(input, e)) == Some(2))
            .filter_map(|t| t.child(TRACK_NUMBER).map(|e| uint(input, e)))
            .collect()
    } else {
        Vec::new()
    };
    let is_audio = |n: u64| audio_tracks.contains(&n);

    for top in &segment.children {
        match top.id {
            id if METADATA_TOP.contains(&id) => voids.push((top.start, top.end)),
            INFO => {
                for e in &top.children {
                    if METADATA_INFO.contains(&e.id) || e.id == CRC32 {
                        voids.push((e.start, e.end));
                    } else if APP_NAMES.contains(&e.id) {
                        renames.push((e.data, e.end));
                    }
                }
            }
            TRACKS => {
                for e in &top.children {
                    if e.id == CRC32 {
                        voids.push((e.start, e.end));
                    } else if e.id == TRACK_ENTRY {
                        let number = e.child(TRACK_NUMBER).map(|n| uint(input, n));
                        if number.is_some_and(is_audio) {
                            voids.push((e.start, e.end));
                        } else if let Some(name) = e.child(TRACK_NAME) {
                            voids.push((name.start, name.end));
                        }
                    }
                }
            }
            SEEK_HEAD => {
                for e in &top.children {
                    let points_at_metadata = e.id == SEEK
                        && e.child(SEEK_ID)
                            .is_some_and(|id| METADATA_TOP.contains(&(uint(input, id) as u32)));
                    if points_at_metadata || e.id == CRC32 {
                        voids.push((e.start, e.end));
                    }
                }
            }
            CLUSTER if !audio_tracks.is_empty() => {
                for e in &top.children {
                    let block = match e.id {
                        SIMPLE_BLOCK => Some(e),
                        BLOCK_GROUP => e.child(BLOCK),
                        CRC32 => {
                            voids.push((e.start, e.end));
                            None
                        }
                        _ => None,
                    };
                    if block
                        .and_then(|b| block_track(input, b))
                        .is_some_and(is_audio)
                    {
                        voids.push((e.start, e.end));
                    }
                }
            }
            CUES if !audio_tracks.is_empty() => {
                for point in top.children.iter().filter(|e| e.id == CUE_POINT) {
                    let positions: Vec<&Element> = point
                        .children
                        .iter()
                        .filter(|e| e.id == CUE_TRACK_POSITIONS)
                        .collect();
                    let audio: Vec<&&Element> = positions
                        .iter()
                        .filter(|p| {
                            p.child(CUE_TRACK)
                                .map(|t| uint(input, t))
                                .is_some_and(is_audio)
                        })
                        .collect();
                    if !audio.is_empty() && audio.len() == positions.len() {
                        voids.push((point.start, point.end));
                    } else {
                        voids.extend(audio.iter().map(|p| (p.start, p.end)));
                    }
                }
                voids.extend(
                    top.children
                        .iter()
                        .filter(|e| e.id == CRC32)
                        .map(|e| (e.start, e.end)),
                );
            }
            _ => {}
        }
    }

    let mut out = input.to_vec();
    for (start, end) in voids {
        write_void(&mut out[start..end]);
    }
    for (start, end) in renames {
        let text = &mut out[start..end];
        text.fill(0);
        let n = text.len().min(APP_NAME.len());
        text[..n].copy_from_slice(&APP_NAME[..n]);
    }
    Ok(out)
}

/// An unsigned integer element's value (at most 8 bytes are read).
fn uint(buf: &[u8], e: &Element) -> u64 {
    buf[e.data..e.end.min(e.data + 8)]
        .iter()
        .fold(0, |v, &b| v << 8 | u64::from(b))
}

/// The track number at the start of a block's data.
fn block_track(buf: &[u8], block: &Element) -> Option<u64> {
    read_size(buf, block.data).ok()?.0
}

/// Overwrites an element with a `Void` element of the same total length, data zeroed.
fn write_void(span: &mut [u8]) {
    let len = span.len();
    span.fill(0);
    // Every element is at least two bytes (an id and a size).
    if len < 2 {
        return;
    }
    span[0] = VOID as u8;
    if len - 2 <= 126 {
        span[1] = 0x80 | (len - 2) as u8;
    } else {
        // An 8-byte size: 0x01 then 56 bits.
        let size = (len - 9) as u64;
        span[1] = 0x01;
        span[2..9].copy_from_slice(&size.to_be_bytes()[1..]);
    }
}

/// The ids of metadata elements left in a WebM file (empty after [`strip`]).
#[cfg(test)]
fn metadata_left(input: &[u8]) -> Result<Vec<u32>, MediaError> {
    let (_, segment) = layout(input)?;
    Ok(segment
        .descendants()
        .filter(|e| {
            METADATA_TOP.contains(&e.id) || METADATA_INFO.contains(&e.id) || e.id == TRACK_NAME
        })
        .map(|e| e.id)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(id: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = id.to_vec();
        out.push(0x80 | data.len() as u8);
        out.extend_from_slice(data);
        out
    }

    fn file(segment_children: &[u8]) -> Vec<u8> {
        let mut out = element(&[0x1A, 0x45, 0xDF, 0xA3], &element(&[0x42, 0x82], b"webm"));
        out.extend(element(&[0x18, 0x53, 0x80, 0x67], segment_children));
        out
    }

    #[test]
    fn voids_keep_the_length_and_parse_back() {
        for len in [2usize, 3, 9, 10, 128, 129, 300] {
            let mut span = vec![0xAA; len];
            write_void(&mut span);
            let (id, id_len) = read_id(&span, 0).expect("an id");
            let (size, size_len) = read_size(&span, id_len).expect("a size");
            assert_eq!(id, VOID);
            assert_eq!(Some((len - 1 - size_len) as u64), size, "length {len}");
        }
    }

    #[test]
    fn stripping_leaves_no_metadata_element_and_keeps_the_length() {
        let mut info = element(&[0x7B, 0xA9], b"My holiday");
        info.extend(element(&[0x44, 0x61], &[1, 2, 3, 4, 5, 6, 7, 8]));
        let mut children = element(&[0x15, 0x49, 0xA9, 0x66], &info);
        // Tags > Tag > SimpleTag > TagName, TagString.
        let mut simple = element(&[0x45, 0xA3], b"LOCATION");
        simple.extend(element(&[0x44, 0x87], b"+48.8577+002.2950/"));
        let tag = element(&[0x73, 0x73], &element(&[0x67, 0xC8], &simple));
        children.extend(element(&[0x12, 0x54, 0xC3, 0x67], &tag));
        let input = file(&children);
        assert_eq!(
            metadata_left(&input).expect("walks"),
            vec![0x7BA9, 0x4461, TAGS]
        );
        let out = strip(&input, &VideoEdits::default()).expect("strips");
        assert_eq!(out.len(), input.len());
        assert_eq!(metadata_left(&out).expect("walks"), Vec::<u32>::new());
        assert!(!out.windows(7).any(|w| w == b"holiday"));
        assert!(!out.windows(7).any(|w| w == b"48.8577"));
    }

    #[test]
    fn a_cut_off_segment_is_refused() {
        let input = file(&element(&[0x15, 0x49, 0xA9, 0x66], &[0; 40]));
        let cut = &input[..input.len() - 5];
        assert!(matches!(layout(cut), Err(MediaError::CorruptVideo(_))));
    }
}
