//! The server's error type: a protocol [`ApiError`] (the caller's fault, or a rule) or an
//! internal failure (logged in full, answered as a bare `internal`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use natter_protocol::{ApiError, ErrorCode};

/// What handlers and stores return on failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule was violated or the input is bad; sent to the client as is.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Something broke on the server; the client only learns `internal`.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn api(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Api(ApiError::new(code, message))
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    pub fn unauthenticated() -> Self {
        Self::api(ErrorCode::Unauthenticated, "sign in again")
    }

    /// The single answer for "no such conversation" and "not a member": identical on purpose.
    pub fn conversation_not_found() -> Self {
        Self::api(ErrorCode::ConversationNotFound, "conversation not found")
    }

    pub fn user_not_found(username: &str) -> Self {
        Self::api(
            ErrorCode::UserNotFound,
            format!("no user named {username:?}"),
        )
    }

    /// The error code a client will see.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Api(e) => e.code,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let body = match self {
            Self::Api(e) => {
                if e.code.http_status() >= 500 {
                    tracing::error!(code = %e.code, message = %e.message, "request failed");
                } else {
                    tracing::warn!(code = %e.code, message = %e.message, "request rejected");
                }
                e
            }
            Self::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                ApiError::new(
                    ErrorCode::Internal,
                    "internal server error; nothing was changed",
                )
            }
        };
        let status = StatusCode::from_u16(body.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = body.retry_after_s;
        let code = body.code;
        let mut response = (status, axum::Json(body)).into_response();
        // For the error counter of /metrics.
        response.extensions_mut().insert(code);
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}
