//! Videos for chats: recognise the file by its content, check it against the limits, and
//! rewrite it for sending without re-encoding and without any of its metadata.
//!
//! [`probe`] reads MP4 and MOV (ISO-BMFF) and WebM (Matroska) and describes the one video track
//! and the first audio track. [`remux`] is the only way a video leaves the device: every video
//! is rebuilt from its samples (MP4, MOV) or blocks (WebM) into a fresh file of the same kind
//! holding the video track and (unless muted) the audio track, cut at a keyframe at or before
//! the requested start and at the requested end, with everything else left behind (MP4's
//! `udta`, `meta`, timed-metadata tracks: an iPhone's GPS position, the phone's make and model,
//! creation dates; WebM's `Tags`, `Chapters`, `Attachments`, title and date).
//!
//! Limits are checked from the container's tables before any sample is copied, and a parser
//! that panics on a hostile file is caught and reported as a damaged video.
//!
//! With the `poster` feature, [`poster`] decodes an H.264 video's first keyframe into the
//! picture shown before it plays, with a thumbnail and a blurhash.

mod bmff;
mod mp4;
mod mp4_write;
#[cfg(feature = "poster")]
mod poster;
mod webm;
mod webm_write;

#[cfg(feature = "poster")]
pub use poster::{poster, sampled_frames};

use serde::{Deserialize, Serialize};

use crate::MediaError;

/// Largest input accepted, checked before anything is parsed: 100 MiB. Three minutes of a
/// phone's 1080p at its usual 4–5 Mbit/s fit; three minutes of 4K (40+ Mbit/s) do not, and are
/// not something to send in a chat.
pub const MAX_VIDEO_BYTES: usize = 100 * 1024 * 1024;
/// Longest video accepted, in milliseconds (3 minutes), measured from the samples' timing, not
/// from a header that could lie (an edit list may make a video look shorter than what it holds;
/// the longer of the two counts).
pub const MAX_VIDEO_MS: u32 = 180_000;
/// Largest width or height, in pixels, of the stored picture: 4096 (DCI 4K). Beyond that
/// most phones cannot decode it anyway.
pub const MAX_VIDEO_EDGE: u32 = 4096;
/// Most samples (frames or audio packets) one track may have: far above 3 minutes at 240 fps
/// (43,200) or 48 kHz AAC (8,438), and the cap on what the tables may make us allocate.
pub const MAX_TRACK_SAMPLES: usize = 1_000_000;

/// The container format, by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Container {
    Mp4,
    Mov,
    WebM,
}

/// Video codecs we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoCodec {
    H264,
    Hevc,
    Vp8,
    Vp9,
    Av1,
}

/// The audio codec, as far as a player cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioCodec {
    Aac,
    Opus,
    Vorbis,
    /// Anything else (MP3, PCM, AC-3...). It is described, but [`remux`] refuses to carry it
    /// unless the video is muted.
    Other,
}

/// What a video is, read from its container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VideoInfo {
    pub container: Container,
    pub video_codec: VideoCodec,
    pub audio_codec: Option<AudioCodec>,
    /// How long it plays: the longest track, from the samples' timing as the edit lists show it
    /// (without encoder priming).
    pub duration_ms: u32,
    /// The picture as stored (before rotation).
    pub width: u32,
    pub height: u32,
    /// Clockwise turn a player applies (MP4/MOV track matrix): 0, 90, 180 or 270.
    pub rotation: u16,
    /// The picture as shown: width and height swapped for 90 and 270.
    pub display_width: u32,
    pub display_height: u32,
    /// Presentation times of the keyframes (where a cut can start without re-encoding).
    pub keyframes_ms: Vec<u32>,
    pub has_audio: bool,
    /// `"video/mp4"`, `"video/quicktime"` or `"video/webm"`.
    pub mime: &'static str,
}

/// What the sender changed before sending. The default sends the whole video with its sound.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub struct VideoEdits {
    /// Start of the part to send; the cut moves back to the keyframe at or before it.
    pub trim_start_ms: Option<u32>,
    /// End of the part to send.
    pub trim_end_ms: Option<u32>,
    /// Leave the sound out.
    pub mute: bool,
}

/// A video ready to send, and its description read back from the bytes written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remuxed {
    pub bytes: Vec<u8>,
    pub info: VideoInfo,
}

/// Whether the bytes start like a video container this crate reads: ISO-BMFF (`ftyp` first:
/// MP4, MOV) or EBML (WebM). A cheap first look (the server and the client both use it to
/// decide which check a file goes through); [`probe`] is what actually judges the file.
pub fn looks_like_video(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"ftyp") || bytes.starts_with(&[0x1a, 0x45, 0xdf, 0xa3])
}

/// Describes a video by parsing it (never by its name), checking every limit. A parser panic on
/// a hostile file is reported as a damaged video.
pub fn probe(input: &[u8]) -> Result<VideoInfo, MediaError> {
    guarded(|| Ok(parse(input)?.0))
}

/// Rewrites a video for sending: only its video track and (unless `edits.mute`) its audio track,
/// trimmed without re-encoding, with no metadata. Every video sent goes through here, edited or
/// not, so a location or a device name never leaves the phone.
pub fn remux(input: &[u8], edits: &VideoEdits) -> Result<Remuxed, MediaError> {
    guarded(|| {
        let (info, parsed) = parse(input)?;
        let bytes = match parsed {
            Parsed::Mp4(movie) => mp4_write::write(input, &movie, edits, info.duration_ms)?,
            Parsed::WebM => webm_write::write(input, edits, info.duration_ms, info.audio_codec)?,
        };
        let info = parse(&bytes)?.0;
        Ok(Remuxed { bytes, info })
    })
}

fn guarded<T>(f: impl FnOnce() -> Result<T, MediaError>) -> Result<T, MediaError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(MediaError::CorruptVideo(
            "the parser failed on this file".into(),
        ))
    })
}

enum Parsed {
    Mp4(Box<mp4::Movie>),
    WebM,
}

/// What the first bytes say the file is.
enum Kind {
    IsoBmff,
    Ebml,
}

fn parse(input: &[u8]) -> Result<(VideoInfo, Parsed), MediaError> {
    if input.len() > MAX_VIDEO_BYTES {
        return Err(MediaError::TooLarge {
            bytes: input.len(),
            max: MAX_VIDEO_BYTES,
        });
    }
    match sniff(input)? {
        Kind::IsoBmff => {
            let movie = mp4::read(input)?;
            let info = describe_mp4(&movie)?;
            Ok((info, Parsed::Mp4(Box::new(movie))))
        }
        Kind::Ebml => Ok((webm::probe(input)?, Parsed::WebM)),
    }
}

fn sniff(input: &[u8]) -> Result<Kind, MediaError> {
    if input.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Ok(Kind::Ebml);
    }
    let kind = input.get(4..8).unwrap_or_default();
    if kind == b"ftyp" {
        let brand = input.get(8..12).unwrap_or_default();
        return match brand {
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc" => {
                Err(MediaError::NotAVideo("it looks like a HEIC photo".into()))
            }
            b"avif" | b"avis" => Err(MediaError::NotAVideo("it looks like an AVIF image".into())),
            _ => Ok(Kind::IsoBmff),
        };
    }
    // QuickTime files older than `ftyp`.
    if matches!(
        kind,
        b"moov" | b"mdat" | b"wide" | b"free" | b"skip" | b"pnot"
    ) {
        return Ok(Kind::IsoBmff);
    }
    Err(MediaError::NotAVideo(describe_other(input).into()))
}

/// What a file that is no video we read looks like, for the message.
fn describe_other(input: &[u8]) -> &'static str {
    if let Some(kind) = crate::photo::sniff(input) {
        return match kind {
            crate::ImageKind::Jpeg => "it looks like a JPEG image",
            crate::ImageKind::Png => "it looks like a PNG image",
            crate::ImageKind::Gif => "it looks like a GIF image",
            crate::ImageKind::WebP => "it looks like a WebP image",
        };
    }
    if input.starts_with(b"OggS") {
        "it looks like an Ogg audio file"
    } else if input.starts_with(b"RIFF") && input.get(8..12) == Some(b"AVI ") {
        "it looks like an AVI video, which is not supported"
    } else if input.starts_with(b"RIFF") {
        "it looks like a RIFF (WAV/WebP) file"
    } else if input.starts_with(b"ID3") || input.starts_with(&[0xFF, 0xFB]) {
        "it looks like an MP3 file"
    } else if input.is_empty() {
        "the file is empty"
    } else {
        "unrecognised content"
    }
}

fn describe_mp4(movie: &mp4::Movie) -> Result<VideoInfo, MediaError> {
    let video = &movie.video;
    if video.samples.is_empty() {
        return Err(MediaError::CorruptVideo(
            "the video track has no frames".into(),
        ));
    }
    let tracks = || std::iter::once(video).chain(movie.audio.as_ref().map(|(_, a)| a));
    let measured = tracks().map(mp4::Track::measured_ms).max().unwrap_or(0);
    let shown = tracks().map(mp4::Track::shown_ms).max().unwrap_or(0);
    let rotation = mp4::rotation(&video.matrix);
    let mut info = VideoInfo {
        container: movie.container,
        video_codec: movie.video_codec,
        audio_codec: movie.audio.as_ref().map(|(codec, _)| *codec),
        duration_ms: u32::try_from(shown).unwrap_or(u32::MAX),
        width: movie.width,
        height: movie.height,
        rotation,
        display_width: 0,
        display_height: 0,
        keyframes_ms: Vec::new(),
        has_audio: movie.audio.is_some(),
        mime: match movie.container {
            Container::Mov => "video/quicktime",
            _ => "video/mp4",
        },
    };
    check_limits(&mut info, measured)?;
    let scale = u64::from(video.timescale);
    info.keyframes_ms = video
        .samples
        .iter()
        .filter(|s| s.sync)
        .map(|s| {
            let pts = s.pts(video.media_time).max(0) as u64;
            u32::try_from(pts.saturating_mul(1000) / scale).unwrap_or(u32::MAX)
        })
        .collect();
    info.keyframes_ms.sort_unstable();
    Ok(info)
}

/// Refuses what is over the limits and fills in the display size. `measured_ms` is the length
/// of what the file holds, which an edit list can hide but not shorten.
fn check_limits(info: &mut VideoInfo, measured_ms: u64) -> Result<(), MediaError> {
    let (w, h) = (info.width, info.height);
    if w == 0 || h == 0 {
        return Err(MediaError::CorruptVideo(format!(
            "the video track says its picture is {w}×{h} pixels"
        )));
    }
    if w > MAX_VIDEO_EDGE || h > MAX_VIDEO_EDGE {
        return Err(MediaError::VideoTooLarge {
            width: w,
            height: h,
        });
    }
    let longest = measured_ms.max(u64::from(info.duration_ms));
    if longest > u64::from(MAX_VIDEO_MS) {
        return Err(MediaError::VideoTooLong {
            ms: u32::try_from(longest).unwrap_or(u32::MAX),
            max: MAX_VIDEO_MS,
        });
    }
    (info.display_width, info.display_height) = match info.rotation {
        90 | 270 => (h, w),
        _ => (w, h),
    };
    Ok(())
}
