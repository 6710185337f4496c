//! Albums: up to 9 photos (and videos) picked, prepared on the device, edited, captioned and
//! sent as one message; uploaded piece by piece so a lost connection or a restart resumes
//! where it stopped; fetched thumbnail first on the receiving side.
//!
//! - [`stage`]: picking stages each file under `PROFILE/staging/ID/`: the original (so edits
//!   are applied to full-resolution pixels when sending) and the prepared photo with its
//!   thumbnail (what the composer shows, and what is sent when there are no edits).
//! - [`send`]: sending writes the final files to `PROFILE/media/` and queues the message.
//! - [`upload`]: the upload worker puts each queued album's files on the server, beside the
//!   outbox, so a long video never holds back the texts written after it; the outbox sends
//!   the album's message once its files are up.
//! - [`files`]: received albums are fetched on demand, checked, kept and saved out.

mod files;
mod send;
mod stage;
pub(crate) mod upload;

use std::path::{Path, PathBuf};

use natter_media::{PhotoEdits, VideoEdits};
use natter_protocol::{ApiError, MediaKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::CoreError;

/// A picked file, prepared and waiting in the composer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StagedMedia {
    pub id: Uuid,
    /// The file's name as picked (shown in the tray; never used to decide its type).
    pub name: String,
    pub kind: MediaKind,
    /// Pixels of the prepared photo (upright, before edits).
    pub width: u32,
    pub height: u32,
    pub duration_ms: u32,
    /// Bytes of the prepared file.
    pub size: u32,
    pub blurhash: String,
    /// A video whose first frame this device's own decoder cannot read (HEVC, VP9, AV1): its
    /// preview is a plain placeholder of its shape until the app hands over a frame the
    /// platform decoded ([`Client::set_staged_poster`](crate::Client::set_staged_poster)).
    #[serde(default)]
    pub placeholder: bool,
    /// The on-device nudity classifier found it (a photo, or a video's sampled frames)
    /// explicit. Under 18 such an item is never staged; for adults this is what recipients
    /// with the filter on will see blurred.
    #[serde(default)]
    pub explicit: bool,
}

/// One picked file's outcome: prepared, or refused with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StageResult {
    pub name: String,
    pub item: Option<StagedMedia>,
    pub error: Option<ApiError>,
}

/// A staged item as it goes into the album, with its edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AlbumItemDraft {
    pub staged_id: Uuid,
    /// A photo's edits (ignored for a video).
    pub edits: PhotoEdits,
    /// A video's trim and mute (ignored for a photo).
    pub video: Option<VideoEdits>,
}

/// What to stage: a file on disk, or bytes (pasted, captured by the camera).
#[derive(Debug, Clone)]
pub enum StageInput {
    Path(PathBuf),
    Bytes { name: String, bytes: Vec<u8> },
}

impl StageInput {
    pub(crate) fn name(&self) -> String {
        match self {
            StageInput::Path(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string()),
            StageInput::Bytes { name, .. } => name.clone(),
        }
    }
}

/// What is kept of a staged item (`meta.json` beside its files).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StagedMeta {
    pub(crate) item: StagedMedia,
    pub(crate) hd: bool,
    pub(crate) mime: String,
    pub(crate) thumb_width: u32,
    pub(crate) thumb_height: u32,
}

pub(crate) fn media_error(e: natter_media::MediaError) -> ApiError {
    ApiError::new(e.code(), e.to_string())
}

pub(crate) fn storage(what: &str, path: &Path, e: impl std::fmt::Display) -> CoreError {
    CoreError::Storage(format!("{what} {}: {e}", path.display()))
}
