//! File-level media work shared by the app, the CLI and the server: Ogg Opus inspection and
//! validation, encoding, decoding and waveforms. No I/O beyond what a caller hands in.
//!
//! Voice notes are Ogg Opus (RFC 7845), 48 kHz mono, ~24 kbps VBR, 20 ms frames, at most
//! 60 s. The server only runs [`validate_voice_note`], which measures length from the audio
//! packets and never trusts a header; the CLI encodes and inspects; the recorder
//! (`natter-voice`) streams packets through [`VoiceEncoder`] and [`OggOpusWriter`].
//!
//! Photos for albums go through [`prepare_photo`] / [`prepare_many`] (see [`photo`]): limits
//! from the headers first, then decode, resize, orientation, re-encode without metadata
//! (animated GIFs stay animated within limits). [`strip_metadata`] removes metadata from a
//! photo losslessly, for a server that stores what it was sent.
//!
//! Videos go through [`probe`] (what it is, checked against the limits) and [`remux`] (a fresh
//! file without metadata, optionally trimmed or muted, never re-encoded); see [`video`].

mod decode;
mod encode;
mod error;
mod ogg_opus;
mod ogg_page;
mod opus_packet;
pub mod photo;
mod resample;
pub mod video;
mod waveform;
mod writer;

pub use decode::{decode, pcm_to_wav, to_wav, Pcm};
pub use encode::{encode_pcm, encode_wav, EncodedNote, VoiceEncoder, DEFAULT_BITRATE, MAX_SAMPLES};
pub use error::MediaError;
pub use ogg_opus::{inspect, repair, validate_voice_note, OpusInfo};
pub use photo::strip_metadata;
pub use photo::{
    inspect as inspect_image, prepare_many, prepare_photo, prepare_photo_edited, sniff, CropRect,
    ImageInfo, ImageKind, PhotoEdits, PrepareOptions, PreparedPhoto, TextOverlay,
};
pub use resample::{downmix, Resampler};
pub use video::{
    looks_like_video, probe, remux, AudioCodec, Container, Remuxed, VideoCodec, VideoEdits,
    VideoInfo,
};
pub use waveform::{waveform_of, WaveformBuilder};
pub use writer::{OggOpusWriter, PACKETS_PER_PAGE};

/// Samples in one 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
