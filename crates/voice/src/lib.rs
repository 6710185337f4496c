//! Voice-note recording: microphone capture with cpal on its own thread, live Opus encoding
//! into an Ogg file page by page, levels for the UI, and drafts that survive a crash.
//!
//! ```text
//! cpal callback ──(rtrb ring, f32, device rate/channels)──▶ worker thread
//!   downmix → resample to 48 kHz → 960-sample frames → Opus → Ogg pages → <draft_dir>/<id>.ogg
//!   (flush + fsync every second of audio; levels ~30/s; stops itself at 60.0 s)
//! ```
//!
//! Start with [`Recorder::start`]; after a crash, [`recover_drafts`] finishes the cut files.

mod capture;
mod drafts;
mod error;
mod note;
mod recorder;

pub use drafts::{discard_draft, recover_drafts, repair_file, Draft};
pub use error::VoiceError;
pub use recorder::{
    Recorder, RecorderConfig, RecorderEvent, DEFAULT_BITRATE, MAX_SAMPLES, WARN_AT_SAMPLES,
};

#[cfg(test)]
mod tests;
