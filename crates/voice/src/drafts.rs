//! Drafts on disk: finished notes waiting to be sent, and crash-cut ones made whole again.
//!
//! A draft is `<draft_dir>/<id>.ogg`. The recorder syncs it once per second of audio, so after
//! a crash (or a kill) the file ends at a page boundary or mid-page without an end-of-stream
//! page; [`recover_drafts`] cuts it back to the last complete page and ends it properly. A
//! draft stays until the app discards it, which it does after a successful send.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::VoiceError;

/// A finished voice note on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Draft {
    /// File stem: a UUID v7 for drafts the recorder named.
    pub id: String,
    pub path: PathBuf,
    /// Length of the audio, from the sample count.
    pub duration_ms: u64,
    /// Samples at 48 kHz.
    pub samples: u64,
    /// 64 bars, 0–255.
    pub waveform: Vec<u8>,
    /// File size.
    pub bytes: u64,
}

/// Every usable draft in `dir`, oldest first: finished ones as they are, crash-cut ones
/// repaired in place (atomically). Files that cannot be repaired, or hold no audio, are
/// deleted and logged. Call it before recording starts: a draft being written looks crash-cut.
pub fn recover_drafts(dir: impl AsRef<Path>) -> Vec<Draft> {
    let dir = dir.as_ref();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, dir = %dir.display(), "cannot list drafts");
            }
            return Vec::new();
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    let mut drafts = Vec::new();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') && name.ends_with(".tmp") {
            // A repair that was itself interrupted; the original is still there.
            remove_logged(&path, "left over from an interrupted repair");
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "ogg") {
            continue;
        }
        match repair_file(&path) {
            Ok(draft) if draft.samples > 0 => drafts.push(draft),
            Ok(_) => remove_logged(&path, "holds no audio"),
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "draft cannot be repaired; deleting it");
                remove_logged(&path, "cannot be repaired");
            }
        }
    }
    drafts
}

/// Reads a voice note; if it was cut short (no end-of-stream page), rewrites it in place as a
/// valid file ending at its last complete page (temp file + rename, so a crash here loses
/// nothing). Returns the note as a [`Draft`].
pub fn repair_file(path: &Path) -> Result<Draft, VoiceError> {
    let data = fs::read(path).map_err(|e| VoiceError::io("cannot read", path, e))?;
    let complete = natter_media::inspect(&data).is_ok_and(|info| info.complete);
    let data = if complete {
        data
    } else {
        let (fixed, info) = natter_media::repair(&data)?;
        tracing::info!(
            path = %path.display(),
            duration_ms = info.duration_ms,
            cut_bytes = data.len().saturating_sub(fixed.len()),
            "repaired a crash-cut draft"
        );
        replace_atomically(path, &fixed)?;
        fixed
    };
    draft_of(path, &data)
}

/// A [`Draft`] describing the finished note `data` stored at `path`.
fn draft_of(path: &Path, data: &[u8]) -> Result<Draft, VoiceError> {
    let info = natter_media::inspect(data)?;
    let waveform = natter_media::waveform_of(data)?;
    Ok(Draft {
        id: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.to_path_buf(),
        duration_ms: info.duration_ms,
        samples: info.samples,
        waveform,
        bytes: data.len() as u64,
    })
}

/// Deletes the draft `id` from `dir` (after it was sent, or when the user throws it away).
/// Deleting one that is already gone is not an error.
pub fn discard_draft(dir: impl AsRef<Path>, id: &str) -> Result<(), VoiceError> {
    let valid = !id.is_empty()
        && id != "."
        && id != ".."
        && !id.contains(['/', '\\', '\0'])
        && !id.starts_with('.');
    if !valid {
        return Err(VoiceError::InvalidDraftId(id.to_owned()));
    }
    let path = dir.as_ref().join(format!("{id}.ogg"));
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(VoiceError::io("cannot delete", path, e)),
    }
}

fn replace_atomically(path: &Path, data: &[u8]) -> Result<(), VoiceError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&temp)?;
        file.write_all(data)?;
        file.sync_all()?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&temp);
        return Err(VoiceError::io("cannot write", &temp, e));
    }
    fs::rename(&temp, path).map_err(|e| VoiceError::io("cannot replace", path, e))?;
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

fn remove_logged(path: &Path, why: &str) {
    tracing::warn!(path = %path.display(), why, "deleting a draft file");
    if let Err(e) = fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(error = %e, path = %path.display(), "cannot delete");
        }
    }
}
