//! WebM out: a fresh file built from the input's blocks, cut and muted without re-encoding,
//! with nothing else carried over.
//!
//! Layout: the EBML header (doc type `webm`; `matroska` only for AAC sound, which WebM does
//! not allow), then one segment of known size holding, in this order:
//! - a `SeekHead` pointing at `Info`, `Tracks` and `Cues`;
//! - `Info`: the input's timestamp scale, the duration of what is kept, and `MuxingApp` and
//!   `WritingApp` saying "natter". No title, no date, no segment UID;
//! - `Tracks`: the video track as number 1 and, unless muted, the first audio track as
//!   number 2. Any other track (subtitles, a second sound track) is left behind. Entries are
//!   copied child by child from [`TRACK_KEPT`], a list of technical elements (codec id and
//!   private data verbatim, picture and sound settings, Opus's `CodecDelay` and
//!   `SeekPreRoll`); the free-text `Name` and `CodecName` are not on it, and numbers and UIDs
//!   are new;
//! - `Cues`: a point per video keyframe, each at the start of its cluster. They come before
//!   the clusters (like an MP4's `moov` before `mdat`), so a player streaming the file can seek
//!   without first fetching its end;
//! - the clusters.
//!
//! No `Tags`, `Chapters` or `Attachments`.
//!
//! Blocks: the payload of each `SimpleBlock`, or of a `BlockGroup`'s `Block`, is copied
//! verbatim from its flags on, laced frames included (a laced block is kept or dropped
//! whole); only the header before it (track number, timestamp relative to its cluster) is
//! rewritten. A `BlockGroup` stays one, with its `BlockDuration`, `ReferenceBlock` (relative
//! to the block, so unchanged by the shift), `BlockAdditions` (VP8/VP9 alpha) and
//! `DiscardPadding`. Clusters are rebuilt: a new one at each video keyframe, and before the
//! blocks of one would span more than [`CLUSTER_NS`] or more than a block's 16-bit relative
//! timestamp holds.
//!
//! Cutting: the video starts at the keyframe at or before the requested start, the sound at
//! its first block at or after that keyframe (from the very beginning when the cut starts at
//! the first keyframe); blocks whose timestamp is at or after the requested end are dropped.
//! The output's time zero is its first block. Segments and clusters of unknown size (what a
//! browser's MediaRecorder writes) are read like any other; every size written is known.

use super::webm::{
    self, Element, BLOCK, BLOCK_GROUP, CLUSTER, CUES, CUE_POINT, CUE_TRACK_POSITIONS, DOC_TYPE,
    EBML, INFO, SEEK, SEEK_HEAD, SEGMENT, SIMPLE_BLOCK, TRACKS, TRACK_ENTRY, TRACK_NUMBER,
    TRACK_TYPE,
};
use super::{AudioCodec, VideoEdits};
use crate::MediaError;

const EBML_VERSION: u32 = 0x4286;
const EBML_READ_VERSION: u32 = 0x42F7;
const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
const DOC_TYPE_VERSION: u32 = 0x4287;
const DOC_TYPE_READ_VERSION: u32 = 0x4285;
const SEEK_ID: u32 = 0x53AB;
const SEEK_POSITION: u32 = 0x53AC;
const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const MUXING_APP: u32 = 0x4D80;
const WRITING_APP: u32 = 0x5741;
const TRACK_UID: u32 = 0x73C5;
const DEFAULT_DURATION: u32 = 0x23_E383;
const CLUSTER_TIMESTAMP: u32 = 0xE7;
const BLOCK_DURATION: u32 = 0x9B;
const REFERENCE_BLOCK: u32 = 0xFB;
const CUE_TIME: u32 = 0xB3;
const CUE_TRACK: u32 = 0xF7;
const CUE_CLUSTER_POSITION: u32 = 0xF1;

/// `TrackEntry` children copied verbatim: what a decoder or player needs, nothing written for
/// people to read.
const TRACK_KEPT: [u32; 18] = [
    TRACK_TYPE,
    0xB9,   // FlagEnabled
    0x88,   // FlagDefault
    0x55AA, // FlagForced
    0x9C,   // FlagLacing
    DEFAULT_DURATION,
    0x23_4E7A, // DefaultDecodedFieldDuration
    0x22_B59C, // Language
    0x22_B59D, // LanguageBCP47
    0x86,      // CodecID
    0x63A2,    // CodecPrivate
    0x56AA,    // CodecDelay
    0x56BB,    // SeekPreRoll
    0xE0,      // Video
    0xE1,      // Audio
    0x6D80,    // ContentEncodings (the payloads are copied as they are encoded)
    0x55EE,    // MaxBlockAdditionID
    0x41E4,    // BlockAdditionMapping
];
/// `BlockGroup` children copied verbatim besides the `Block`.
const GROUP_KEPT: [u32; 5] = [
    BLOCK_DURATION,
    REFERENCE_BLOCK,
    0xFA,   // ReferencePriority
    0x75A1, // BlockAdditions
    0x75A2, // DiscardPadding
];
/// What `MuxingApp` and `WritingApp` say.
const APP_NAME: &[u8] = b"natter";
/// Longest span of one output cluster, in ns.
const CLUSTER_NS: u64 = 5_000_000_000;

/// The output track a block goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Video,
    Audio,
}

impl Out {
    fn number(self) -> u8 {
        match self {
            Out::Video => 1,
            Out::Audio => 2,
        }
    }
}

/// One block of a kept track, as read.
struct Block<'a> {
    track: Out,
    /// When it plays, in the segment's timestamp units.
    at: i64,
    key: bool,
    /// The flags byte and everything after it (lace sizes, frames), copied verbatim.
    rest: &'a [u8],
    /// For a `BlockGroup`: its [`GROUP_KEPT`] children, verbatim.
    group: Option<Vec<&'a [u8]>>,
    /// How long it plays, in timestamp units, when the file says.
    length: Option<i64>,
}

/// Where a player can start: a video keyframe's time (from the output's zero) and the index of
/// the cluster it opens.
struct CuePoint {
    time: u64,
    cluster: usize,
}

/// A track entry of the input and its number there.
struct SourceTrack<'a> {
    entry: &'a Element,
    number: u64,
}

fn corrupt(what: &str) -> MediaError {
    MediaError::CorruptVideo(what.into())
}

/// The WebM (or Matroska) input cut and muted as `edits` say, as a fresh file. `duration_ms`
/// and `audio_codec` are what [`super::probe`] read from it.
pub(super) fn write(
    input: &[u8],
    edits: &VideoEdits,
    duration_ms: u32,
    audio_codec: Option<AudioCodec>,
) -> Result<Vec<u8>, MediaError> {
    let start_ms = edits.trim_start_ms.unwrap_or(0);
    let end_ms = edits.trim_end_ms.unwrap_or(duration_ms);
    if start_ms >= end_ms || start_ms >= duration_ms {
        return Err(MediaError::InvalidVideoEdit(format!(
            "the cut from {start_ms} ms to {end_ms} ms leaves nothing of a {duration_ms} ms video"
        )));
    }
    let keep_audio = !edits.mute && audio_codec.is_some();
    if keep_audio && audio_codec == Some(AudioCodec::Other) {
        return Err(MediaError::UnsupportedVideo(
            "this video's sound format (send it muted, or as Opus or Vorbis)".into(),
        ));
    }
    // WebM allows only Opus and Vorbis sound; AAC in Matroska stays Matroska.
    let doc_type = if keep_audio && audio_codec == Some(AudioCodec::Aac) {
        "matroska"
    } else {
        "webm"
    };

    let (_, segment) = webm::layout(input)?;
    let scale = timestamp_scale(input, &segment)?;
    let (video, audio) = source_tracks(input, &segment)?;
    let audio = audio.filter(|_| keep_audio);
    let (blocks, timeline_start) = read_blocks(input, &segment, &video, audio.as_ref(), scale)?;

    // Requested times are on the probe's timeline, which starts at the first block.
    let to_units = |ms: u32| {
        let units = u128::from(ms) * 1_000_000 / u128::from(scale);
        timeline_start.saturating_add(i64::try_from(units).unwrap_or(i64::MAX))
    };
    let wanted = to_units(start_ms);
    let end = edits.trim_end_ms.map(to_units);
    let keyframes = || {
        blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| b.track == Out::Video && b.key)
    };
    let first_key = keyframes()
        .map(|(i, _)| i)
        .next()
        .ok_or_else(|| corrupt("the video track has no keyframe"))?;
    let cut = keyframes()
        .filter(|(_, b)| b.at <= wanted)
        .max_by_key(|(_, b)| b.at)
        .map_or(first_key, |(i, _)| i);
    // Cut at the first keyframe, the sound plays from the start.
    let audio_from = if cut == first_key {
        i64::MIN
    } else {
        blocks[cut].at
    };
    let kept: Vec<&Block<'_>> = blocks
        .iter()
        .enumerate()
        .filter(|(i, b)| {
            end.is_none_or(|end| b.at < end)
                && match b.track {
                    Out::Video => *i >= cut,
                    Out::Audio => b.at >= audio_from,
                }
        })
        .map(|(_, b)| b)
        .collect();
    if !kept.iter().any(|b| b.track == Out::Video) {
        return Err(MediaError::InvalidVideoEdit(format!(
            "the cut from {start_ms} ms to {end_ms} ms ends before the video's first picture"
        )));
    }
    let origin = kept.iter().map(|b| b.at).min().unwrap_or(0);
    let duration = played_until(&blocks, &kept, end).saturating_sub(origin);

    let (clusters, cue_points) = clusters(&kept, origin, scale)?;
    let header = ebml_header(doc_type);
    let info = info(scale, duration);
    let tracks = tracks(input, &video, audio.as_ref());
    // Every position is written on 8 bytes, so the sizes do not depend on the positions: lay
    // the segment out with zeros, then write the real ones.
    let seek_len = seek_head(0, 0, 0).len();
    let cues_len = cues(&cue_points, &vec![0; clusters.len()]).len();
    let info_at = seek_len;
    let tracks_at = info_at + info.len();
    let cues_at = tracks_at + tracks.len();
    let mut cluster_at = Vec::with_capacity(clusters.len());
    let mut at = cues_at + cues_len;
    for cluster in &clusters {
        cluster_at.push(at as u64);
        at += cluster.len();
    }
    let segment_len = at;
    let seek_head = seek_head(info_at as u64, tracks_at as u64, cues_at as u64);
    let cues = cues(&cue_points, &cluster_at);

    let mut out = Vec::with_capacity(header.len() + 12 + segment_len);
    out.extend_from_slice(&header);
    put_id(&mut out, SEGMENT);
    put_size(&mut out, segment_len as u64);
    for part in [&seek_head, &info, &tracks, &cues] {
        out.extend_from_slice(part);
    }
    for cluster in &clusters {
        out.extend_from_slice(cluster);
    }
    Ok(out)
}

fn timestamp_scale(input: &[u8], segment: &Element) -> Result<u64, MediaError> {
    let scale = segment
        .child(INFO)
        .and_then(|info| info.child(TIMESTAMP_SCALE))
        .map_or(1_000_000, |e| webm::uint(input, e));
    if scale == 0 {
        return Err(corrupt("the timestamp scale is 0"));
    }
    Ok(scale)
}

/// The video track's entry and the first audio track's.
fn source_tracks<'a>(
    input: &[u8],
    segment: &'a Element,
) -> Result<(SourceTrack<'a>, Option<SourceTrack<'a>>), MediaError> {
    let entries = segment
        .children
        .iter()
        .filter(|e| e.id == TRACKS)
        .flat_map(|t| &t.children)
        .filter(|e| e.id == TRACK_ENTRY);
    let of_type = |kind: u64| {
        entries
            .clone()
            .find(|e| e.child(TRACK_TYPE).map(|t| webm::uint(input, t)) == Some(kind))
            .and_then(|entry| {
                let number = webm::uint(input, entry.child(TRACK_NUMBER)?);
                Some(SourceTrack { entry, number })
            })
    };
    let video = of_type(1).ok_or_else(|| corrupt("the video track has no number"))?;
    Ok((video, of_type(2)))
}

/// The blocks of the kept tracks in file order, and the earliest timestamp of any block.
fn read_blocks<'a>(
    input: &'a [u8],
    segment: &Element,
    video: &SourceTrack<'_>,
    audio: Option<&SourceTrack<'_>>,
    scale: u64,
) -> Result<(Vec<Block<'a>>, i64), MediaError> {
    let default_ns = |track: &SourceTrack<'_>| {
        track
            .entry
            .child(DEFAULT_DURATION)
            .map(|e| webm::uint(input, e))
    };
    let video_default = default_ns(video);
    let audio_default = audio.and_then(default_ns);
    let mut blocks = Vec::new();
    let mut start = i64::MAX;
    for cluster in segment.children.iter().filter(|e| e.id == CLUSTER) {
        let cluster_at = cluster
            .child(CLUSTER_TIMESTAMP)
            .map(|e| webm::uint(input, e))
            .ok_or_else(|| corrupt("a cluster has no timestamp"))?;
        let cluster_at =
            i64::try_from(cluster_at).map_err(|_| corrupt("a cluster's timestamp is too large"))?;
        for e in &cluster.children {
            let (block, group) = match e.id {
                SIMPLE_BLOCK => (e, None),
                BLOCK_GROUP => (
                    e.child(BLOCK)
                        .ok_or_else(|| corrupt("a block group without a block"))?,
                    Some(e),
                ),
                _ => continue,
            };
            let data = &input[block.data..block.end];
            let (number, number_len) = webm::read_size(data, 0)?;
            let header = data
                .get(number_len..number_len + 3)
                .ok_or_else(|| corrupt("a block is cut short"))?;
            let at = cluster_at
                .checked_add(i64::from(i16::from_be_bytes([header[0], header[1]])))
                .ok_or_else(|| corrupt("a block's timestamp is too large"))?;
            start = start.min(at);
            let (track, default) = if number == Some(video.number) {
                (Out::Video, video_default)
            } else if audio.is_some_and(|a| number == Some(a.number)) {
                (Out::Audio, audio_default)
            } else {
                continue;
            };
            let rest = &data[number_len + 2..];
            let flags = rest[0];
            let key = match group {
                None => flags & 0x80 != 0,
                Some(g) => g.child(REFERENCE_BLOCK).is_none(),
            };
            let laced = flags & 0x06 != 0;
            let frames = if laced {
                rest.get(1).map_or(1, |&n| u64::from(n) + 1)
            } else {
                1
            };
            let length = group
                .and_then(|g| g.child(BLOCK_DURATION))
                .map(|d| webm::uint(input, d))
                .or_else(|| default.map(|ns| ns.saturating_mul(frames) / scale))
                .map(|units| i64::try_from(units).unwrap_or(i64::MAX));
            let group = group.map(|g| {
                g.children
                    .iter()
                    .filter(|c| GROUP_KEPT.contains(&c.id))
                    .map(|c| &input[c.start..c.end])
                    .collect()
            });
            blocks.push(Block {
                track,
                at,
                key,
                rest,
                group,
                length,
            });
        }
    }
    Ok((blocks, if start == i64::MAX { 0 } else { start }))
}

/// When the last of the `kept` blocks stops playing (capped at `end`), in timestamp units. A
/// block without a known length is taken to last as long as the gap before its track's last
/// block (Opus in WebM usually has no default duration).
fn played_until(all: &[Block<'_>], kept: &[&Block<'_>], end: Option<i64>) -> i64 {
    let gap = |track: Out| {
        let mut ats = all.iter().filter(|b| b.track == track).map(|b| b.at).rev();
        match (ats.next(), ats.next()) {
            (Some(last), Some(before)) => last.saturating_sub(before).max(0),
            _ => 0,
        }
    };
    let gaps = [gap(Out::Video), gap(Out::Audio)];
    let last_start = kept.iter().map(|b| b.at).max().unwrap_or(0);
    let last_end = kept
        .iter()
        .map(|b| {
            let length = b.length.unwrap_or(gaps[usize::from(b.track == Out::Audio)]);
            b.at.saturating_add(length)
        })
        .max()
        .unwrap_or(0);
    end.map_or(last_end, |end| last_end.min(end))
        .max(last_start)
}

/// The clusters, written, and a cue point per video keyframe.
fn clusters(
    kept: &[&Block<'_>],
    origin: i64,
    scale: u64,
) -> Result<(Vec<Vec<u8>>, Vec<CuePoint>), MediaError> {
    let limit = i64::try_from((CLUSTER_NS / scale).clamp(1, i16::MAX as u64)).unwrap_or(1);
    // First block, lowest and highest time (from the origin), whether it has video.
    let mut spans: Vec<(usize, i64, i64, bool)> = Vec::new();
    let mut cue_points = Vec::new();
    for (i, b) in kept.iter().enumerate() {
        let t = b.at.saturating_sub(origin);
        let is_key = b.track == Out::Video && b.key;
        let split = spans.last().is_none_or(|&(_, lo, hi, has_video)| {
            (is_key && has_video) || t.max(hi).saturating_sub(t.min(lo)) > limit
        });
        if split {
            spans.push((i, t, t, false));
        }
        if let Some(span) = spans.last_mut() {
            span.1 = span.1.min(t);
            span.2 = span.2.max(t);
            span.3 |= b.track == Out::Video;
        }
        if is_key {
            cue_points.push(CuePoint {
                time: t as u64,
                cluster: spans.len() - 1,
            });
        }
    }
    let mut out = Vec::with_capacity(spans.len());
    for (n, &(first, lo, _, _)) in spans.iter().enumerate() {
        let last = spans.get(n + 1).map_or(kept.len(), |s| s.0);
        let mut body = Vec::new();
        uint_element(&mut body, CLUSTER_TIMESTAMP, lo as u64);
        for b in &kept[first..last] {
            let relative = i16::try_from(b.at.saturating_sub(origin).saturating_sub(lo))
                .map_err(|_| corrupt("a block's timestamp does not fit its cluster"))?;
            let mut block = Vec::with_capacity(3 + b.rest.len());
            block.push(0x80 | b.track.number());
            block.extend_from_slice(&relative.to_be_bytes());
            block.extend_from_slice(b.rest);
            match &b.group {
                None => element(&mut body, SIMPLE_BLOCK, &block),
                Some(kept_children) => master(&mut body, BLOCK_GROUP, |g| {
                    element(g, BLOCK, &block);
                    for child in kept_children {
                        g.extend_from_slice(child);
                    }
                }),
            }
        }
        let mut cluster = Vec::with_capacity(body.len() + 12);
        element(&mut cluster, CLUSTER, &body);
        out.push(cluster);
    }
    Ok((out, cue_points))
}

fn ebml_header(doc_type: &str) -> Vec<u8> {
    let mut out = Vec::new();
    master(&mut out, EBML, |h| {
        uint_element(h, EBML_VERSION, 1);
        uint_element(h, EBML_READ_VERSION, 1);
        uint_element(h, EBML_MAX_ID_LENGTH, 4);
        uint_element(h, EBML_MAX_SIZE_LENGTH, 8);
        element(h, DOC_TYPE, doc_type.as_bytes());
        // Version 4 for `CodecDelay` and `SeekPreRoll`; a reader of version 2 (SimpleBlock)
        // can play it.
        uint_element(h, DOC_TYPE_VERSION, 4);
        uint_element(h, DOC_TYPE_READ_VERSION, 2);
    });
    out
}

fn seek_head(info_at: u64, tracks_at: u64, cues_at: u64) -> Vec<u8> {
    let mut out = Vec::new();
    master(&mut out, SEEK_HEAD, |s| {
        for (id, at) in [(INFO, info_at), (TRACKS, tracks_at), (CUES, cues_at)] {
            master(s, SEEK, |seek| {
                element(seek, SEEK_ID, &id.to_be_bytes());
                element(seek, SEEK_POSITION, &at.to_be_bytes());
            });
        }
    });
    out
}

fn info(scale: u64, duration: i64) -> Vec<u8> {
    let mut out = Vec::new();
    master(&mut out, INFO, |i| {
        uint_element(i, TIMESTAMP_SCALE, scale);
        element(i, MUXING_APP, APP_NAME);
        element(i, WRITING_APP, APP_NAME);
        element(i, DURATION, &(duration.max(0) as f64).to_be_bytes());
    });
    out
}

fn tracks(input: &[u8], video: &SourceTrack<'_>, audio: Option<&SourceTrack<'_>>) -> Vec<u8> {
    let mut out = Vec::new();
    master(&mut out, TRACKS, |t| {
        let kept = [(Out::Video, Some(video)), (Out::Audio, audio)];
        for (track, source) in kept {
            let Some(source) = source else { continue };
            master(t, TRACK_ENTRY, |e| {
                uint_element(e, TRACK_NUMBER, track.number().into());
                uint_element(e, TRACK_UID, track.number().into());
                for child in &source.entry.children {
                    if TRACK_KEPT.contains(&child.id) {
                        e.extend_from_slice(&input[child.start..child.end]);
                    }
                }
            });
        }
    });
    out
}

fn cues(points: &[CuePoint], cluster_at: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    master(&mut out, CUES, |c| {
        for point in points {
            master(c, CUE_POINT, |p| {
                element(p, CUE_TIME, &point.time.to_be_bytes());
                master(p, CUE_TRACK_POSITIONS, |pos| {
                    uint_element(pos, CUE_TRACK, Out::Video.number().into());
                    let at = cluster_at.get(point.cluster).copied().unwrap_or(0);
                    element(pos, CUE_CLUSTER_POSITION, &at.to_be_bytes());
                });
            });
        }
    });
    out
}

// EBML writing.

/// An element id as stored: its bytes without leading zeros (the marker bit is part of it).
fn put_id(out: &mut Vec<u8>, id: u32) {
    let skip = (id.leading_zeros() / 8).min(3) as usize;
    out.extend_from_slice(&id.to_be_bytes()[skip..]);
}

/// A size in the fewest bytes (all ones is reserved for "unknown").
fn put_size(out: &mut Vec<u8>, size: u64) {
    let len = (1..=8usize)
        .find(|&len| size < (1u64 << (7 * len)) - 1)
        .unwrap_or(8);
    let marked = size | 1u64 << (7 * len);
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

fn element(out: &mut Vec<u8>, id: u32, data: &[u8]) {
    put_id(out, id);
    put_size(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn master(out: &mut Vec<u8>, id: u32, body: impl FnOnce(&mut Vec<u8>)) {
    let mut data = Vec::new();
    body(&mut data);
    element(out, id, &data);
}

/// An unsigned integer in the fewest bytes (at least one).
fn uint_element(out: &mut Vec<u8>, id: u32, value: u64) {
    let skip = (value.leading_zeros() / 8).min(7) as usize;
    element(out, id, &value.to_be_bytes()[skip..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(id: u32, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        element(&mut out, id, data);
        out
    }

    fn uint(id: u32, value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        uint_element(&mut out, id, value);
        out
    }

    /// An element of unknown size, as a live recording writes segments and clusters.
    fn open_ended(id: u32, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_id(&mut out, id);
        out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        out.extend_from_slice(data);
        out
    }

    fn block(track: u8, relative: i16, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x80 | track];
        out.extend_from_slice(&relative.to_be_bytes());
        out.push(flags);
        out.extend_from_slice(payload);
        out
    }

    const VIDEO_IN: u8 = 5;
    const AUDIO_IN: u8 = 9;
    const SUBTITLE_IN: u8 = 3;
    /// Two Xiph-laced Opus frames: a frame count of 2, the first frame's size, the frames.
    const LACED: &[u8] = &[0x01, 0x03, b'a', b'b', b'c', b'd', b'e'];

    /// A live-style file (segment and clusters of unknown size) with a named video track of
    /// `BlockGroup`s (references and durations), an Opus track of laced `SimpleBlock`s with a
    /// 20 ms default duration, a subtitle track, and tags: keyframes at 1000 and 2000 ms.
    fn live_file() -> Vec<u8> {
        let mut header = el(DOC_TYPE, b"webm");
        header.extend(uint(DOC_TYPE_VERSION, 4));
        let mut out = el(EBML, &header);

        let mut segment = el(
            INFO,
            &[uint(TIMESTAMP_SCALE, 1_000_000), el(0x7BA9, b"My holiday")].concat(),
        );
        let video = [
            uint(TRACK_NUMBER, VIDEO_IN.into()),
            uint(TRACK_TYPE, 1),
            el(0x86, b"V_VP9"),
            el(0x536E, b"Back camera of NatterCam"),
            el(0xE0, &[uint(0xB0, 64), uint(0xBA, 48)].concat()),
        ]
        .concat();
        let audio = [
            uint(TRACK_NUMBER, AUDIO_IN.into()),
            uint(TRACK_TYPE, 2),
            el(0x86, b"A_OPUS"),
            el(0x63A2, b"OpusHead-verbatim"),
            uint(0x56AA, 6_500_000),
            uint(0x56BB, 80_000_000),
            uint(DEFAULT_DURATION, 20_000_000),
        ]
        .concat();
        let subtitles = [
            uint(TRACK_NUMBER, SUBTITLE_IN.into()),
            uint(TRACK_TYPE, 17),
            el(0x86, b"S_TEXT/UTF8"),
        ]
        .concat();
        segment.extend(el(
            TRACKS,
            &[
                el(TRACK_ENTRY, &video),
                el(TRACK_ENTRY, &audio),
                el(TRACK_ENTRY, &subtitles),
            ]
            .concat(),
        ));
        let group = |relative: i16, payload: &[u8], reference: bool| {
            let mut g = el(BLOCK, &block(VIDEO_IN, relative, 0, payload));
            g.extend(uint(BLOCK_DURATION, 40));
            if reference {
                g.extend(el(REFERENCE_BLOCK, &[0xD8])); // -40
            }
            el(BLOCK_GROUP, &g)
        };
        segment.extend(open_ended(
            CLUSTER,
            &[
                uint(CLUSTER_TIMESTAMP, 1000),
                group(0, b"K0", false),
                el(SIMPLE_BLOCK, &block(AUDIO_IN, 5, 0x82, LACED)),
                el(
                    SIMPLE_BLOCK,
                    &block(SUBTITLE_IN, 10, 0x80, b"Hello from Paris"),
                ),
                group(40, b"P1", true),
            ]
            .concat(),
        ));
        segment.extend(open_ended(
            CLUSTER,
            &[
                uint(CLUSTER_TIMESTAMP, 2000),
                group(0, b"K2", false),
                el(SIMPLE_BLOCK, &block(AUDIO_IN, 10, 0x82, LACED)),
                group(40, b"P3", true),
            ]
            .concat(),
        ));
        let tag = el(
            0x67C8,
            &[el(0x45A3, b"LOCATION"), el(0x4487, b"48.8577")].concat(),
        );
        segment.extend(el(0x1254_C367, &el(0x7373, &tag)));
        out.extend(open_ended(SEGMENT, &segment));
        out
    }

    /// What was written, read back: (track, time, key, payload after the flags, group).
    fn read_back(out: &[u8]) -> Vec<(Out, i64, bool, Vec<u8>, bool)> {
        let (doc_type, segment) = webm::layout(out).expect("the output walks");
        assert_eq!(doc_type, "webm");
        let (video, audio) = source_tracks(out, &segment).expect("tracks");
        assert_eq!(video.number, 1);
        let (blocks, start) =
            read_blocks(out, &segment, &video, audio.as_ref(), 1_000_000).expect("blocks");
        assert_eq!(start, 0, "the output starts at 0");
        blocks
            .iter()
            .map(|b| (b.track, b.at, b.key, b.rest.to_vec(), b.group.is_some()))
            .collect()
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn groups_lacing_and_unknown_sizes_are_carried_and_renumbered() {
        let out = write(
            &live_file(),
            &VideoEdits::default(),
            1080,
            Some(AudioCodec::Opus),
        )
        .expect("writes");
        let laced = [&[0x82][..], LACED].concat();
        assert_eq!(
            read_back(&out),
            vec![
                (Out::Video, 0, true, b"\0K0".to_vec(), true),
                (Out::Audio, 5, true, laced.clone(), false),
                (Out::Video, 40, false, b"\0P1".to_vec(), true),
                (Out::Video, 1000, true, b"\0K2".to_vec(), true),
                (Out::Audio, 1010, true, laced, false),
                (Out::Video, 1040, false, b"\0P3".to_vec(), true),
            ]
        );
        for gone in [
            &b"holiday"[..],
            b"NatterCam",
            b"Paris",
            b"48.8577",
            b"S_TEXT",
        ] {
            assert!(!contains(&out, gone), "{:?}", String::from_utf8_lossy(gone));
        }
        for kept in [&b"OpusHead-verbatim"[..], b"V_VP9", b"natter"] {
            assert!(contains(&out, kept), "{:?}", String::from_utf8_lossy(kept));
        }
        // The last picture (at 1040 ms, 40 ms long) ends the video.
        let (_, segment) = webm::layout(&out).expect("walks");
        let info = segment.child(INFO).expect("info");
        let duration = info.child(DURATION).expect("a duration");
        assert_eq!(&out[duration.data..duration.end], &1080f64.to_be_bytes());
        // A cue per keyframe, each at the start of a cluster.
        let cues = segment.child(CUES).expect("cues");
        let clusters: Vec<u64> = segment
            .children
            .iter()
            .filter(|e| e.id == CLUSTER)
            .map(|c| (c.start - segment.data) as u64)
            .collect();
        let cued: Vec<(u64, u64)> = cues
            .children
            .iter()
            .map(|p| {
                let time = webm::uint(&out, p.child(CUE_TIME).expect("a time"));
                let at = p
                    .child(CUE_TRACK_POSITIONS)
                    .and_then(|t| t.child(CUE_CLUSTER_POSITION))
                    .map(|e| webm::uint(&out, e))
                    .expect("a position");
                (time, at)
            })
            .collect();
        assert_eq!(cued, vec![(0, clusters[0]), (1000, clusters[1])]);
    }

    #[test]
    fn a_cut_keeps_whole_groups_from_the_keyframe_and_shifts_them_to_zero() {
        let input = live_file();
        // From 1010 ms (the keyframe at 1000 ms on the timeline), muted.
        let edits = VideoEdits {
            trim_start_ms: Some(1010),
            trim_end_ms: None,
            mute: true,
        };
        let out = write(&input, &edits, 1080, Some(AudioCodec::Opus)).expect("writes");
        assert_eq!(
            read_back(&out),
            vec![
                (Out::Video, 0, true, b"\0K2".to_vec(), true),
                (Out::Video, 40, false, b"\0P3".to_vec(), true),
            ]
        );
        assert!(!contains(&out, b"A_OPUS"), "the sound track is gone");

        // Up to 1020 ms: the picture at 1040 ms goes, the sound at 1010 ms stays.
        let edits = VideoEdits {
            trim_start_ms: Some(1000),
            trim_end_ms: Some(1020),
            mute: false,
        };
        let out = write(&input, &edits, 1080, Some(AudioCodec::Opus)).expect("writes");
        let kept: Vec<(Out, i64)> = read_back(&out).iter().map(|b| (b.0, b.1)).collect();
        assert_eq!(kept, vec![(Out::Video, 0), (Out::Audio, 10)]);
    }

    #[test]
    fn cuts_that_leave_no_picture_and_broken_blocks_are_refused() {
        let input = live_file();
        for (start, end) in [(Some(1080), None), (Some(500), Some(400)), (None, Some(0))] {
            let edits = VideoEdits {
                trim_start_ms: start,
                trim_end_ms: end,
                mute: false,
            };
            let err = write(&input, &edits, 1080, Some(AudioCodec::Opus)).err();
            assert!(
                matches!(err, Some(MediaError::InvalidVideoEdit(_))),
                "{start:?}..{end:?}: {err:?}"
            );
        }
        // A block of two bytes: a track number and half a timestamp.
        let broken = [
            el(EBML, &el(DOC_TYPE, b"webm")),
            el(
                SEGMENT,
                &[
                    el(
                        TRACKS,
                        &el(
                            TRACK_ENTRY,
                            &[uint(TRACK_NUMBER, 1), uint(TRACK_TYPE, 1)].concat(),
                        ),
                    ),
                    el(
                        CLUSTER,
                        &[uint(CLUSTER_TIMESTAMP, 0), el(SIMPLE_BLOCK, &[0x81, 0])].concat(),
                    ),
                ]
                .concat(),
            ),
        ]
        .concat();
        let err = write(&broken, &VideoEdits::default(), 1000, None).err();
        assert!(matches!(err, Some(MediaError::CorruptVideo(_))), "{err:?}");
    }

    #[test]
    fn sizes_are_written_in_the_fewest_bytes_and_never_as_unknown() {
        for (size, bytes) in [
            (0u64, &[0x80][..]),
            (126, &[0xFE]),
            (127, &[0x40, 0x7F]),
            (16_382, &[0x7F, 0xFE]),
            (16_383, &[0x20, 0x3F, 0xFF]),
        ] {
            let mut out = Vec::new();
            put_size(&mut out, size);
            assert_eq!(out, bytes, "size {size}");
            assert_eq!(
                webm::read_size(&out, 0).expect("reads"),
                (Some(size), out.len())
            );
        }
    }
}
