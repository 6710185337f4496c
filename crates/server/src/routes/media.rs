//! Uploading and fetching media files: voice notes, photos, videos and their thumbnails.
//!
//! Every upload is judged by its content, never by its name or declared type, before it is
//! recorded: an Ogg Opus voice note is validated and measured from its packets
//! ([`natter_media::validate_voice_note`]); a photo is recognised by its magic bytes, its
//! headers are checked against the limits and it is decoded completely
//! ([`natter_media::inspect_image`]) and stored without its metadata
//! ([`natter_media::strip_metadata`]: a modified client that skips the app's preparation still
//! cannot pass on a location or a camera's serial number); a video's container is parsed for codec, size and
//! duration. Every photo and thumbnail (a video's poster is one) also goes through the nudity
//! classifier ([`natter_safety`], the same model the app runs; an animation on frames spread
//! over it), and so does every video, on keyframes spread over it that the frame worker
//! decodes in a separate process ([`crate::frames`]): its scores are stored, an account under
//! 18 cannot upload one it finds explicit, and an explicit file is withheld from viewers under
//! 18 (`media_withheld`). Small files arrive in one `PUT`; anything can arrive as a resumable upload
//! (`PATCH /v1/uploads/{id}` pieces, `HEAD` to learn how much arrived) that survives a lost
//! connection or a restart of either side.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use natter_protocol::limits::{IMAGE_MAX_BYTES, VOICE_MAX_BYTES};
use natter_protocol::{ApiError, ErrorCode, MediaInfo, MediaKind};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use self::content::{check_content, judge_video, too_large};
use crate::auth::DmUser;
use crate::error::{Error, Result};
use crate::extract::{Json, Path};
use crate::state::{now_ms, AppState};
use crate::store::NewMedia;

mod content;
pub mod resumable;

/// The content type voice notes are stored and served with (RFC 7845).
pub const VOICE_CONTENT_TYPE: &str = "audio/ogg";
/// How much of a resumable upload is stored (request and response header).
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
/// The whole upload's size (request header on every piece; response header of `HEAD`).
pub const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");

fn content_type_essence(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| {
            !v.is_empty()
                && v != "application/octet-stream"
                && v != "application/offset+octet-stream"
        })
}

fn v7(id: Uuid) -> Result<()> {
    if id.get_version_num() != 7 {
        return Err(Error::api(
            ErrorCode::BadRequest,
            "media id must be a UUID v7",
        ));
    }
    Ok(())
}

/// Checks a complete file and records it under `id` (blob first, then the row).
async fn store_checked(
    state: &AppState,
    owner_id: Uuid,
    id: Uuid,
    bytes: Bytes,
    declared: Option<String>,
) -> Result<(StatusCode, MediaInfo)> {
    // Decoding, classifying and hashing are the costly part: bounded, queued, or refused.
    let _pass = state.media_checks.enter().await?;
    let checked_bytes = bytes.clone();
    let classifier = state.classifier.clone();
    let mut checked = tokio::task::spawn_blocking(move || {
        check_content(&checked_bytes, declared.as_deref(), &classifier)
    })
    .await
    .map_err(Error::internal)??;
    if checked.kind == MediaKind::Video {
        checked.nsfw = judge_video(state, owner_id, &bytes, checked.frames_decodable).await?;
    }
    // A video nobody could check by its frames (an adult's, see `judge_video`) counts as
    // explicit for who sees it: withheld under 18, blurred for the filter. Its poster, which
    // the sender chose, proves nothing.
    let unchecked = checked.kind == MediaKind::Video && checked.nsfw.is_none();
    if unchecked {
        tracing::info!("a video that could not be checked by its frames: treated as explicit");
    }
    let explicit = unchecked
        || checked
            .nsfw
            .is_some_and(|s| s.verdict() == natter_safety::Verdict::Explicit);
    if let Some(scores) = &checked.nsfw {
        tracing::info!(
            explicit,
            porn = scores.porn,
            hentai = scores.hentai,
            sexy = scores.sexy,
            kind = checked.kind.as_str(),
            "classified"
        );
    }
    if explicit {
        // Under 18 an explicit photo or video is never stored, whatever the client did before.
        let band = super::safety::band_of(state, owner_id).await?;
        natter_protocol::policy::may_send_explicit(band, true).map_err(|e| {
            if checked.kind == MediaKind::Video {
                ApiError::new(
                    e.code,
                    "this video looks like it contains nudity, which can't be sent before you are 18",
                )
            } else {
                e
            }
        })?;
    }
    let nsfw_scores = checked
        .nsfw
        .map(|s| serde_json::to_string(&s))
        .transpose()
        .map_err(Error::internal)?;
    let bytes = match checked.rewritten.take() {
        Some(stripped) => {
            tracing::info!(
                removed = bytes.len() - stripped.len(),
                "metadata removed from an uploaded photo"
            );
            Bytes::from(stripped)
        }
        None => bytes,
    };
    let sha256: [u8; 32] = Sha256::digest(&bytes).into();
    if let Some(existing) = state.store.media(id).await? {
        if existing.owner_id == owner_id && existing.sha256 == sha256 {
            return Ok((StatusCode::OK, existing.info));
        }
        return Err(Error::api(
            ErrorCode::IdConflict,
            "this media id was already used for a different file",
        ));
    }
    let size = u32::try_from(bytes.len()).map_err(|_| Error::from(too_large(checked.kind)))?;
    state
        .blobs
        .put(sha256, bytes)
        .await
        .map_err(Error::internal)?;
    let outcome = state
        .store
        .insert_media(NewMedia {
            id,
            owner_id,
            kind: checked.kind,
            content_type: checked.content_type,
            size,
            duration_ms: checked.duration_ms,
            width: checked.width,
            height: checked.height,
            sha256,
            created_at: now_ms(),
            nsfw_scores,
            explicit,
        })
        .await?;
    let status = if outcome.is_created() {
        tracing::info!(kind = checked.kind.as_str(), size, "media stored");
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, outcome.into_inner().info))
}

/// Upload a whole file (a voice note, or a photo or thumbnail of at most 25 MiB) under a
/// client-chosen UUID v7. Its content decides what it is; a declared `Content-Type` naming a
/// different kind is refused. Uploading the same bytes under the same id again returns the
/// stored record (200). Videos and anything large go through resumable uploads.
#[utoipa::path(
    put, path = "/v1/media/{id}", tag = "media",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Media id chosen by the client (UUID v7)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "An Ogg Opus voice note (RFC 7845), or a JPEG, PNG, GIF or WebP photo"),
    responses(
        (status = 201, description = "Stored", body = MediaInfo),
        (status = 200, description = "Already stored (idempotent re-upload)", body = MediaInfo),
        (status = 409, description = "id_conflict", body = ApiError),
        (status = 413, description = "media_too_large", body = ApiError),
        (status = 422, description = "invalid_voice, voice_too_long, invalid_image, bad_request", body = ApiError),
        (status = 503, description = "server_busy: too many uploads being checked; nothing stored, try again after Retry-After", body = ApiError),
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
    v7(id)?;
    let declared = content_type_essence(&headers);
    let limit = match declared.as_deref().and_then(|d| d.split('/').next()) {
        Some("audio") => VOICE_MAX_BYTES,
        _ if declared.as_deref() == Some("application/ogg") => VOICE_MAX_BYTES,
        _ => IMAGE_MAX_BYTES,
    };
    let too_large = || {
        Error::api(
            ErrorCode::MediaTooLarge,
            format!(
                "a file sent in one piece may be at most {limit} bytes; send larger files as                  a resumable upload"
            ),
        )
    };
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if length.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let bytes: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    let (status, info) = store_checked(&state, user.id, id, bytes, declared).await?;
    Ok((status, Json(info)))
}

/// Fetch a media file: its uploader, or a member of a conversation where it was sent (as a
/// voice note, an album item, or an item's thumbnail).
#[utoipa::path(
    get, path = "/v1/media/{id}", tag = "media",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Media id")),
    responses(
        (status = 200, description = "The file, with the content type measured at upload", body = Vec<u8>),
        (status = 404, description = "media_not_found", body = ApiError),
        (status = 403, description = "media_withheld: explicit, and the caller is under 18", body = ApiError),
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
    if media.explicit && media.owner_id != user.id {
        // Withheld, not hidden by the app: a modified client gets no bytes either.
        let band = super::safety::band_of(&state, user.id).await?;
        natter_protocol::policy::may_fetch(band, true)?;
    }
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
