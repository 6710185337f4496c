//! The one error type of this crate, with messages meant for a user or an admin.

use natter_protocol::limits::{VOICE_MAX_MS, VOICE_SAMPLE_RATE};
use natter_protocol::ErrorCode;

/// Why a voice note, an audio input, a photo or a video was refused, or an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The bytes are not an Ogg file at all. The text says what they look like instead.
    #[error("not an Ogg file ({0})")]
    NotOgg(String),
    /// An Ogg file of another codec. The text names it ("Ogg Vorbis").
    #[error("{0}, not Opus")]
    NotOpus(String),
    /// Ogg Opus whose structure or timing is broken or inconsistent.
    #[error("not a valid Ogg Opus file: {0}")]
    Malformed(String),
    /// A file cut off: it ends mid-page, or without its end-of-stream page.
    #[error("incomplete file: {0}")]
    Truncated(String),
    /// Longer than the voice-note limit (measured from the audio packets).
    #[error("{} is longer than the {} s limit", seconds(*duration_ms), VOICE_MAX_MS / 1000)]
    TooLong { duration_ms: u64 },
    /// Larger than the voice-note size limit (checked before parsing anything).
    #[error("the file is {}, larger than the {} limit", human_bytes(*bytes), human_bytes(*max))]
    TooLarge { bytes: usize, max: usize },
    /// An input WAV that cannot be read.
    #[error("cannot read the WAV input: {0}")]
    Wav(String),
    /// An input this crate does not handle (sample rate, channel layout).
    #[error("unsupported input: {0}")]
    Unsupported(String),
    /// Nothing to encode, or a stream finished without any audio packet.
    #[error("there is no audio")]
    NoAudio,
    /// libopus, the resampler or a caller of the streaming API failed in a way that is not
    /// the input file's fault.
    #[error("audio codec error: {0}")]
    Codec(String),
    /// Not a photo in any format we recognise (checked by content, never by file name).
    #[error("not an image (photos must be JPEG, PNG, WebP or GIF)")]
    NotAnImage,
    /// A recognised format or variant that is not accepted; the text names it ("HEIC/HEIF").
    #[error("{0} is not supported (photos must be JPEG, PNG, WebP or GIF)")]
    UnsupportedImage(String),
    /// The header declares more pixels than [`crate::photo::MAX_PHOTO_PIXELS`] (checked
    /// before decoding).
    #[error(
        "the image is {width}×{height} pixels, more than the {} megapixel limit",
        crate::photo::MAX_PHOTO_PIXELS / 1_000_000
    )]
    ImageTooLarge { width: u32, height: u32 },
    /// A GIF with more frames than the limit (counted from its blocks before decoding).
    #[error("the animation has more than {max} frames")]
    TooManyFrames { max: u32 },
    /// An uploaded animated GIF over [`crate::photo::MAX_ANIMATION_FRAMES`] or
    /// [`crate::photo::MAX_ANIMATION_PIXELS`] (frames × width × height), counted from its blocks
    /// before decoding. A prepared photo never is: it would have become a still.
    #[error(
        "the animation is {frames} frames of {width}×{height} pixels, more than the limit of {} frames and {} megapixels in all",
        crate::photo::MAX_ANIMATION_FRAMES,
        crate::photo::MAX_ANIMATION_PIXELS / 1_000_000
    )]
    AnimationTooLarge {
        frames: u32,
        width: u32,
        height: u32,
    },
    /// An image whose data is broken or cut off.
    #[error("damaged image: {0}")]
    CorruptImage(String),
    /// Photo edits that cannot be applied (a turn past 3, a crop outside the photo or under
    /// 16×16 px, an empty or overlong text, a bad colour); the text says which.
    #[error("invalid photo edits: {0}")]
    InvalidEdits(String),
    /// Resizing or encoding a photo failed in a way that is not the input's fault.
    #[error("image processing error: {0}")]
    ImageCodec(String),
    /// Not a video in any container we read (checked by content, never by file name); the text
    /// says what it looks like instead ("it looks like a JPEG image").
    #[error("not a video ({0})")]
    NotAVideo(String),
    /// A video we recognise but do not take; the text names what ("the Apple ProRes ('apcn')
    /// video codec", "a file with more than one video track").
    #[error(
        "{0} is not supported (videos must be MP4, MOV or WebM with H.264, HEVC, VP8, VP9 or AV1)"
    )]
    UnsupportedVideo(String),
    /// Longer than [`crate::video::MAX_VIDEO_MS`], measured from the samples' timing.
    #[error("the video is {} long, more than the {} s limit", seconds(u64::from(*ms)), max / 1000)]
    VideoTooLong { ms: u32, max: u32 },
    /// A picture wider or taller than [`crate::video::MAX_VIDEO_EDGE`].
    #[error(
        "the video is {width}×{height} pixels, more than {} pixels on a side",
        crate::video::MAX_VIDEO_EDGE
    )]
    VideoTooLarge { width: u32, height: u32 },
    /// A video whose structure is broken or cut off (the text says where).
    #[error("damaged video: {0}")]
    CorruptVideo(String),
    /// A trim that leaves nothing (start after the end, or past the video's end).
    #[error("cannot edit the video: {0}")]
    InvalidVideoEdit(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl MediaError {
    /// The wire code a server or CLI reports for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            MediaError::NotOgg(_)
            | MediaError::NotOpus(_)
            | MediaError::Malformed(_)
            | MediaError::Truncated(_) => ErrorCode::InvalidVoice,
            MediaError::TooLong { .. } => ErrorCode::VoiceTooLong,
            MediaError::TooLarge { .. } => ErrorCode::MediaTooLarge,
            MediaError::Wav(_) | MediaError::Unsupported(_) | MediaError::NoAudio => {
                ErrorCode::BadRequest
            }
            MediaError::ImageTooLarge { .. }
            | MediaError::TooManyFrames { .. }
            | MediaError::AnimationTooLarge { .. } => ErrorCode::MediaTooLarge,
            MediaError::NotAnImage
            | MediaError::UnsupportedImage(_)
            | MediaError::CorruptImage(_) => ErrorCode::InvalidImage,
            MediaError::InvalidEdits(_) | MediaError::InvalidVideoEdit(_) => ErrorCode::BadRequest,
            MediaError::VideoTooLarge { .. } => ErrorCode::MediaTooLarge,
            MediaError::VideoTooLong { .. } => ErrorCode::VideoTooLong,
            MediaError::NotAVideo(_)
            | MediaError::UnsupportedVideo(_)
            | MediaError::CorruptVideo(_) => ErrorCode::InvalidVideo,
            MediaError::Codec(_) | MediaError::ImageCodec(_) | MediaError::Io(_) => {
                ErrorCode::Internal
            }
        }
    }
}

impl From<opus::Error> for MediaError {
    fn from(e: opus::Error) -> Self {
        MediaError::Codec(e.to_string())
    }
}

/// Milliseconds as seconds for messages: one decimal ("61.3 s"), or three where one decimal
/// would hide the difference from the limit ("60.021 s", not "60.0 s").
pub(crate) fn seconds(ms: u64) -> String {
    if ms % 100 == 0 || !(59_900..=60_100).contains(&ms) {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{:.3} s", ms as f64 / 1000.0)
    }
}

/// 48 kHz samples as seconds, for messages.
pub(crate) fn samples_as_seconds(samples: u64) -> String {
    seconds(samples_to_ms(samples))
}

/// 48 kHz samples to milliseconds, rounded to the nearest.
pub(crate) fn samples_to_ms(samples: u64) -> u64 {
    let per_ms = u64::from(VOICE_SAMPLE_RATE / 1000);
    (samples + per_ms / 2) / per_ms
}

fn human_bytes(n: usize) -> String {
    const KIB: f64 = 1024.0;
    let x = n as f64;
    let (value, unit) = if x >= KIB * KIB {
        (x / KIB / KIB, "MiB")
    } else if x >= KIB {
        (x / KIB, "KiB")
    } else {
        return format!("{n} bytes");
    };
    let s = format!("{value:.1}");
    format!("{} {unit}", s.strip_suffix(".0").unwrap_or(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_well() {
        assert_eq!(
            MediaError::TooLong {
                duration_ms: 61_300
            }
            .to_string(),
            "61.3 s is longer than the 60 s limit"
        );
        assert_eq!(
            MediaError::TooLong {
                duration_ms: 60_021
            }
            .to_string(),
            "60.021 s is longer than the 60 s limit"
        );
        assert_eq!(
            MediaError::TooLarge {
                bytes: 1_572_864,
                max: 1_048_576
            }
            .to_string(),
            "the file is 1.5 MiB, larger than the 1 MiB limit"
        );
        assert_eq!(
            MediaError::NotOpus("Ogg Vorbis".into()).to_string(),
            "Ogg Vorbis, not Opus"
        );
        assert_eq!(samples_to_ms(2_880_000), 60_000);
        assert_eq!(samples_to_ms(23), 0);
        assert_eq!(samples_to_ms(24), 1);
    }
}
