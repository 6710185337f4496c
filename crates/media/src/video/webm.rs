//! WebM (Matroska) in: the element walker and [`probe`].
//!
//! `matroska-demuxer` reads the tracks and the frames. Before it sees a byte, [`walk`] proves
//! that every element ends inside its parent and the file (a cut-off file is refused rather
//! than silently read as a shorter one, and no declared size can make anything allocate more
//! than the file holds). The writer (`webm_write`) builds the file sent from the same walk.

use std::io::Cursor;

use matroska_demuxer::{Frame, MatroskaFile, TrackType};

use super::{check_limits, AudioCodec, Container, VideoCodec, VideoInfo, MAX_TRACK_SAMPLES};
use crate::MediaError;

pub(super) const EBML: u32 = 0x1A45_DFA3;
pub(super) const DOC_TYPE: u32 = 0x4282;
pub(super) const SEGMENT: u32 = 0x1853_8067;
pub(super) const SEEK_HEAD: u32 = 0x114D_9B74;
pub(super) const SEEK: u32 = 0x4DBB;
pub(super) const INFO: u32 = 0x1549_A966;
pub(super) const TRACKS: u32 = 0x1654_AE6B;
pub(super) const TRACK_ENTRY: u32 = 0xAE;
pub(super) const TRACK_NUMBER: u32 = 0xD7;
pub(super) const TRACK_TYPE: u32 = 0x83;
pub(super) const CLUSTER: u32 = 0x1F43_B675;
pub(super) const SIMPLE_BLOCK: u32 = 0xA3;
pub(super) const BLOCK_GROUP: u32 = 0xA0;
pub(super) const BLOCK: u32 = 0xA1;
pub(super) const CUES: u32 = 0x1C53_BB6B;
pub(super) const CUE_POINT: u32 = 0xBB;
pub(super) const CUE_TRACK_POSITIONS: u32 = 0xB7;
const TAGS: u32 = 0x1254_C367;
const CHAPTERS: u32 = 0x1043_A770;
const ATTACHMENTS: u32 = 0x1941_A469;

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
pub(super) struct Element {
    pub(super) id: u32,
    pub(super) start: usize,
    pub(super) data: usize,
    pub(super) end: usize,
    pub(super) children: Vec<Element>,
}

impl Element {
    pub(super) fn child(&self, id: u32) -> Option<&Element> {
        self.children.iter().find(|c| c.id == id)
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
pub(super) fn read_size(buf: &[u8], pos: usize) -> Result<(Option<u64>, usize), MediaError> {
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
pub(super) fn layout(input: &[u8]) -> Result<(String, Element), MediaError> {
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

/// An unsigned integer element's value (at most 8 bytes are read).
pub(super) fn uint(buf: &[u8], e: &Element) -> u64 {
    buf[e.data..e.end.min(e.data + 8)]
        .iter()
        .fold(0, |v, &b| v << 8 | u64::from(b))
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

    #[test]
    fn a_cut_off_segment_is_refused() {
        let mut input = element(&[0x1A, 0x45, 0xDF, 0xA3], &element(&[0x42, 0x82], b"webm"));
        input.extend(element(
            &[0x18, 0x53, 0x80, 0x67],
            &element(&[0x15, 0x49, 0xA9, 0x66], &[0; 40]),
        ));
        let cut = &input[..input.len() - 5];
        assert!(matches!(layout(cut), Err(MediaError::CorruptVideo(_))));
    }
}
