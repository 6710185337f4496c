//! Errors of the client core. Across the UI boundary they travel as `ApiError {code, message}`.

use natter_protocol::{ApiError, ErrorCode};

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The server answered with an error.
    #[error("{0}")]
    Api(#[from] ApiError),
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the server: {0}")]
    Network(String),
    /// The local cache failed (disk full, corrupt file, ...).
    #[error("local storage failed: {0}")]
    Storage(String),
    /// No account is signed in on this profile.
    #[error("not signed in; log in first")]
    NotSignedIn,
}

impl CoreError {
    /// The wire error code, for callers that act on it.
    pub fn code(&self) -> ErrorCode {
        match self {
            CoreError::Api(e) => e.code,
            CoreError::Network(_) => ErrorCode::Network,
            CoreError::Storage(_) => ErrorCode::Internal,
            CoreError::NotSignedIn => ErrorCode::Unauthenticated,
        }
    }

    /// Whether retrying the same request later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            CoreError::Network(_) => true,
            CoreError::Api(e) => matches!(
                e.code,
                ErrorCode::Internal | ErrorCode::RateLimited | ErrorCode::ServerBusy
            ),
            _ => false,
        }
    }

    /// How long the server asked to wait before trying again (`rate_limited`,
    /// `server_busy`), in ms.
    pub fn retry_after_ms(&self) -> Option<i64> {
        match self {
            CoreError::Api(e) => e
                .retry_after_s
                .map(|s| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)),
            _ => None,
        }
    }

    /// The `{code, message}` form shown to the UI.
    pub fn to_api(&self) -> ApiError {
        match self {
            CoreError::Api(e) => e.clone(),
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}

impl From<sqlx::Error> for CoreError {
    fn from(e: sqlx::Error) -> Self {
        CoreError::Storage(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for CoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        CoreError::Storage(e.to_string())
    }
}

impl From<reqwest::Error> for CoreError {
    fn from(e: reqwest::Error) -> Self {
        CoreError::Network(e.without_url().to_string())
    }
}
