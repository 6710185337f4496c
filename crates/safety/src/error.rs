use natter_protocol::ErrorCode;

/// Why an image could not be classified.
#[derive(Debug, thiserror::Error)]
pub enum SafetyError {
    /// The bytes are not an image we can decode (unknown format, corrupt, cut off).
    #[error("cannot decode the image: {0}")]
    Decode(String),
    /// The image declares more pixels than we decode, or decoding would need too much memory.
    #[error("the image is too large to classify: {0}")]
    TooLarge(String),
    /// `classify_rgb` was given a buffer of the wrong length.
    #[error("expected {expected} bytes of 224×224 RGB, got {got}")]
    InputSize { expected: usize, got: usize },
    /// The embedded model could not be loaded or run (a bug, not bad input).
    #[error("the nudity model failed: {0}")]
    Model(String),
}

impl SafetyError {
    /// The code this error travels under across the UI and API boundary.
    pub fn code(&self) -> ErrorCode {
        match self {
            SafetyError::Decode(_) | SafetyError::TooLarge(_) => ErrorCode::InvalidImage,
            SafetyError::InputSize { .. } => ErrorCode::BadRequest,
            SafetyError::Model(_) => ErrorCode::Internal,
        }
    }
}
