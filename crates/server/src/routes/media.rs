//! Uploading and fetching media files (voice notes).
//!
//! An upload is checked before anything is stored: the size limit while reading, then the
//! Ogg Opus structure and the duration measured from the audio packets
//! ([`natter_media::validate_voice_note`]), never from the file's own metadata.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use natter_protocol::limits::VOICE_MAX_BYTES;
use natter_protocol::{ApiError, ErrorCode, MediaInfo};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::DmUser;
use crate::error::{Error, Result};
use crate::extract::{Json, Path};
use crate::state::{now_ms, AppState};
use crate::store::NewMedia;

/// The content type voice notes are stored and served with (RFC 7845).
pub const VOICE_CONTENT_TYPE: &str = "audio/ogg";

/// Upload a voice note (Ogg Opus, at most 60 s and 1 MiB) under a client-chosen UUID v7.
/// Uploading the same bytes under the same id again returns the stored record (200).
#[utoipa::path(
    put, path = "/v1/media/{id}", tag = "media",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Media id chosen by the client (UUID v7)")),
    request_body(content = Vec<u8>, content_type = "audio/ogg",
        description = "An Ogg Opus file (RFC 7845)"),
    responses(
        (status = 201, description = "Stored", body = MediaInfo),
        (status = 200, description = "Already stored (idempotent re-upload)", body = MediaInfo),
        (status = 409, description = "id_conflict", body = ApiError),
        (status = 413, description = "media_too_large", body = ApiError),
        (status = 422, description = "invalid_voice, voice_too_long, bad_request", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, media_id = %id))]
pub async fn upload(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<MediaInfo>)> {
    if id.get_version_num() != 7 {
        return Err(Error::api(
            ErrorCode::BadRequest,
            "media id must be a UUID v7",
        ));
    }
    check_content_type(&headers)?;
    let too_large = || {
        Error::api(
            ErrorCode::MediaTooLarge,
            format!("a voice note may be at most {VOICE_MAX_BYTES} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > VOICE_MAX_BYTES) {
        return Err(too_large());
    }
    let bytes: Bytes = axum::body::to_bytes(body, VOICE_MAX_BYTES)
        .await
        .map_err(|_| too_large())?;
    let checked = bytes.clone();
    let info = tokio::task::spawn_blocking(move || natter_media::validate_voice_note(&checked))
        .await
        .map_err(Error::internal)?
        .map_err(|e| Error::api(e.code(), e.to_string()))?;
    let sha256: [u8; 32] = Sha256::digest(&bytes).into();
    if let Some(existing) = state.store.media(id).await? {
        if existing.owner_id == user.id && existing.sha256 == sha256 {
            return Ok((StatusCode::OK, Json(existing.info)));
        }
        return Err(Error::api(
            ErrorCode::IdConflict,
            "this media id was already used for a different file",
        ));
    }
    let size = u32::try_from(bytes.len()).map_err(|_| too_large())?;
    let duration_ms = u32::try_from(info.duration_ms).unwrap_or(u32::MAX);
    state
        .blobs
        .put(sha256, bytes)
        .await
        .map_err(Error::internal)?;
    let outcome = state
        .store
        .insert_media(NewMedia {
            id,
            owner_id: user.id,
            content_type: VOICE_CONTENT_TYPE.to_string(),
            size,
            duration_ms,
            sha256,
            created_at: now_ms(),
        })
        .await?;
    let status = if outcome.is_created() {
        tracing::info!(size, duration_ms, "voice note stored");
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome.into_inner().info)))
}

fn check_content_type(headers: &HeaderMap) -> Result<()> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match essence.as_deref() {
        Some("audio/ogg" | "audio/opus" | "application/ogg") => Ok(()),
        other => Err(Error::api(
            ErrorCode::InvalidVoice,
            format!(
                "a voice note is sent as audio/ogg, not {}",
                other.unwrap_or("a body without a Content-Type")
            ),
        )),
    }
}

/// Fetch a media file: its uploader, or a member of a conversation where it was sent.
#[utoipa::path(
    get, path = "/v1/media/{id}", tag = "media",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Media id")),
    responses(
        (status = 200, description = "The file", content_type = "audio/ogg", body = Vec<u8>),
        (status = 404, description = "media_not_found", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, media_id = %id))]
pub async fn download(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    let not_found = || Error::api(ErrorCode::MediaNotFound, "media not found");
    let Some(media) = state.store.media_for_user(id, user.id).await? else {
        return Err(not_found());
    };
    let Some(bytes) = state
        .blobs
        .get(media.sha256)
        .await
        .map_err(Error::internal)?
    else {
        tracing::error!("media record without its file");
        return Err(Error::internal(anyhow::anyhow!("media file missing")));
    };
    let content_type = HeaderValue::from_str(&media.info.content_type).map_err(Error::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=31536000, immutable"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response())
}
