//! What can go wrong while recording, and what the user is told.

use std::path::PathBuf;

/// An error from recording or from managing drafts.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    /// The system has no input device at all (or the default one does not exist).
    #[error("no microphone found")]
    NoMicrophone,
    /// `RecorderConfig::device` names a device the system does not have.
    #[error("microphone \"{0}\" not found")]
    DeviceNotFound(String),
    /// Another application holds the device.
    #[error("the microphone is busy: another application may be using it")]
    DeviceBusy,
    /// The device exists but cannot be opened now (unplugged, host down, …).
    #[error("the microphone is unavailable: {0}")]
    DeviceUnavailable(String),
    /// The operating system refused access to the microphone.
    #[error("permission to use the microphone was denied")]
    PermissionDenied,
    /// The device offers no format this crate can read.
    #[error("the microphone offers no usable audio format")]
    UnsupportedDevice,
    /// Any other failure of the audio backend.
    #[error("audio device error: {0}")]
    Device(String),
    /// Encoding, decoding or checking the Ogg Opus file failed.
    #[error(transparent)]
    Media(#[from] natter_media::MediaError),
    /// Reading or writing a draft file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A draft id that is not a plain file name (it would escape the draft directory).
    #[error("invalid draft id {0:?}")]
    InvalidDraftId(String),
    /// The recording was stopped before any audio arrived.
    #[error("nothing was recorded")]
    NothingRecorded,
    /// The recording thread ended without answering (it panicked or was already gone).
    #[error("the recorder stopped unexpectedly")]
    RecorderGone,
}

impl VoiceError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        VoiceError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Maps a cpal error met while opening the device.
    pub(crate) fn from_cpal(err: &cpal::Error) -> Self {
        use cpal::ErrorKind;
        match err.kind() {
            ErrorKind::DeviceBusy => VoiceError::DeviceBusy,
            ErrorKind::PermissionDenied => VoiceError::PermissionDenied,
            ErrorKind::DeviceNotAvailable | ErrorKind::HostUnavailable => {
                VoiceError::DeviceUnavailable(err.to_string())
            }
            ErrorKind::UnsupportedConfig => VoiceError::UnsupportedDevice,
            _ => VoiceError::Device(err.to_string()),
        }
    }
}
