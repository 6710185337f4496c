//! Resumable uploads (`HEAD` and `PATCH /v1/uploads/{id}`): pieces appended to a partial file
//! that survives a lost connection or a restart of either side, checked and recorded like a
//! whole upload once the last byte is in; abandoned ones are swept.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use natter_protocol::limits::{UPLOAD_CHUNK_MAX_BYTES, VIDEO_MAX_BYTES};
use natter_protocol::{ApiError, ErrorCode, MediaInfo, MediaKind};
use uuid::Uuid;

use super::{content_type_essence, store_checked, v7, UPLOAD_LENGTH, UPLOAD_OFFSET};
use crate::auth::DmUser;
use crate::error::{Error, Result};
use crate::extract::{Json, Path};
use crate::routes::upload_claim::Writing;
use crate::state::{now_ms, AppState};

fn header_u64(headers: &HeaderMap, name: &HeaderName) -> Result<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            Error::api(
                ErrorCode::BadRequest,
                format!("the {name} header (a byte count) is required"),
            )
        })
}

fn offset_header(offset: u64) -> [(HeaderName, HeaderValue); 2] {
    [
        (UPLOAD_OFFSET, HeaderValue::from(offset)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

fn mismatch(received: u64, why: &str) -> Response {
    let mut resp = Error::api(ErrorCode::UploadOffsetMismatch, why).into_response();
    resp.headers_mut()
        .insert(UPLOAD_OFFSET, HeaderValue::from(received));
    resp
}

/// Removes abandoned uploads (nothing received for `ttl`): their partial files and records.
/// Runs every `every` until the server shuts down. An upload a request is writing to right
/// now is never touched; a client that comes back later finds no upload and starts over.
pub async fn sweep_uploads(state: AppState, ttl: std::time::Duration, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let stale = match state
            .store
            .stale_uploads(now_ms().saturating_sub(ttl_ms))
            .await
        {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "could not look for abandoned uploads");
                continue;
            }
        };
        for id in stale {
            let writing = match Writing::take(&state, id).await {
                Ok(Some(writing)) => writing,
                // A request (on any instance) is writing to it: not abandoned after all.
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(%id, error = %e, "could not claim an abandoned upload");
                    continue;
                }
            };
            state.partials.remove(id).await;
            match state.store.end_upload(id).await {
                Ok(()) => tracing::info!(%id, "abandoned upload removed"),
                Err(e) => tracing::warn!(%id, error = %e, "could not remove an abandoned upload"),
            }
            writing.release().await;
        }
    }
}

/// How much of a resumable upload the server has: `Upload-Offset` and `Upload-Length`
/// headers. A finished upload answers with both equal to its size.
#[utoipa::path(
    head, path = "/v1/uploads/{id}", tag = "media",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Media id chosen by the client (UUID v7)")),
    responses(
        (status = 200, description = "Upload-Offset: bytes stored; Upload-Length: total"),
        (status = 404, description = "No upload of yours under this id"),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, media_id = %id))]
pub async fn upload_status(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    if let Some(media) = state.store.media(id).await? {
        if media.owner_id == user.id {
            let size = u64::from(media.info.size);
            let mut resp = (StatusCode::OK, offset_header(size)).into_response();
            resp.headers_mut()
                .insert(UPLOAD_LENGTH, HeaderValue::from(size));
            return Ok(resp);
        }
    }
    match state.store.upload(id).await? {
        Some(up) if up.owner_id == user.id => {
            let mut resp = (StatusCode::OK, offset_header(up.received)).into_response();
            resp.headers_mut()
                .insert(UPLOAD_LENGTH, HeaderValue::from(up.length));
            Ok(resp)
        }
        _ => Err(Error::api(ErrorCode::MediaNotFound, "no such upload")),
    }
}

/// Append a piece to a resumable upload. The first piece (offset 0) starts it; every piece
/// carries `Upload-Offset` (where it starts: must equal what the server has) and
/// `Upload-Length` (the whole file's size, unchanged). A piece cut off by a lost connection
/// keeps what arrived. The piece that completes the file gets the file checked and recorded
/// (201 with its [`MediaInfo`]); other pieces answer 204 with the new `Upload-Offset`.
#[utoipa::path(
    patch, path = "/v1/uploads/{id}", tag = "media",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Media id chosen by the client (UUID v7)"),
        ("Upload-Offset" = u64, Header, description = "Where this piece starts"),
        ("Upload-Length" = u64, Header, description = "The whole file's size"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Piece stored; Upload-Offset says how much is stored"),
        (status = 201, description = "Complete, checked and stored", body = MediaInfo),
        (status = 200, description = "Already complete", body = MediaInfo),
        (status = 409, description = "upload_offset_mismatch (Upload-Offset has the server's offset), id_conflict", body = ApiError),
        (status = 403, description = "explicit_image_blocked: the photo or video looks explicit and the uploader is under 18", body = ApiError),
        (status = 413, description = "media_too_large", body = ApiError),
        (status = 422, description = "invalid_image, invalid_video, video_too_long, invalid_voice, voice_too_long, bad_request", body = ApiError),
        (status = 503, description = "server_busy: too many uploads being checked; the bytes are kept, send the last piece again (empty, at the end) after Retry-After", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, media_id = %id))]
pub async fn upload_piece(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    v7(id)?;
    let offset = header_u64(&headers, &UPLOAD_OFFSET)?;
    let length = header_u64(&headers, &UPLOAD_LENGTH)?;
    if let Some(media) = state.store.media(id).await? {
        // A photo is stored without its metadata, so its stored size may be smaller than
        // the upload's: the owner re-sending a piece of it (a lost 201) gets the record.
        let same_upload = u64::from(media.info.size) == length
            || (media.info.kind == MediaKind::Image && u64::from(media.info.size) < length);
        if media.owner_id == user.id && same_upload {
            return Ok((StatusCode::OK, Json(media.info)).into_response());
        }
        return Err(Error::api(
            ErrorCode::IdConflict,
            "this media id was already used for a different file",
        ));
    }
    if length == 0 {
        return Err(Error::api(ErrorCode::BadRequest, "an upload needs bytes"));
    }
    if length > VIDEO_MAX_BYTES as u64 {
        return Err(Error::api(
            ErrorCode::MediaTooLarge,
            format!("a file may be at most {VIDEO_MAX_BYTES} bytes"),
        ));
    }
    let Some(writing) = Writing::take(&state, id).await? else {
        let received = state.store.upload(id).await?.map_or(0, |u| u.received);
        return Ok(mismatch(
            received,
            "another request is writing this upload; ask where it stands (HEAD) and go on from there",
        ));
    };
    let answer = write_piece(
        &state, user.id, id, offset, length, &headers, body, &writing,
    )
    .await;
    writing.release().await;
    answer
}

/// [`upload_piece`] once its request holds the upload's claim.
#[allow(clippy::too_many_arguments)]
async fn write_piece(
    state: &AppState,
    user_id: Uuid,
    id: Uuid,
    offset: u64,
    length: u64,
    headers: &HeaderMap,
    body: Body,
    writing: &Writing,
) -> Result<Response> {
    let now = now_ms();
    let up = state.store.begin_upload(id, user_id, length, now).await?;
    if up.owner_id != user_id {
        return Err(Error::api(
            ErrorCode::IdConflict,
            "this media id is used by another upload",
        ));
    }
    if up.length != length {
        return Err(Error::api(
            ErrorCode::BadRequest,
            format!("this upload is {} bytes long, not {length}", up.length),
        ));
    }
    if offset != up.received {
        return Ok(mismatch(
            up.received,
            &format!(
                "the server has {} bytes of this upload, not {offset}",
                up.received
            ),
        ));
    }
    let mut piece = state
        .partials
        .writer(id, up.received)
        .await
        .map_err(Error::internal)?;
    let room = (length - up.received).min(UPLOAD_CHUNK_MAX_BYTES as u64);
    let mut written = 0u64;
    let mut overflow = false;
    let mut cut_off = false;
    let mut lost = false;
    let mut stream = body.into_data_stream();
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            () = writing.lost() => {
                lost = true;
                break;
            }
        };
        let Some(frame) = frame else { break };
        let Ok(frame) = frame else {
            // The client went away mid-piece: keep what arrived.
            cut_off = true;
            break;
        };
        let len = frame.len() as u64;
        if written + len > room {
            overflow = true;
            break;
        }
        piece.write(frame).await.map_err(Error::internal)?;
        written += len;
    }
    piece.finish().await.map_err(Error::internal)?;
    if lost || writing.is_lost() {
        // Another request may own the upload now: what this one wrote is not counted (bytes
        // past the recorded offset are cut before the next append).
        return Err(Error::internal(anyhow::anyhow!(
            "lost the claim on upload {id} while writing to it"
        )));
    }
    let received = up.received + written;
    state.store.upload_received(id, received, now_ms()).await?;
    if overflow {
        return Err(Error::api(
            ErrorCode::BadRequest,
            format!(
                "a piece may carry at most {} bytes and never more than Upload-Length",
                room
            ),
        ));
    }
    if cut_off {
        tracing::info!(received, length, "upload piece cut off; kept what arrived");
    }
    if received < length {
        return Ok((StatusCode::NO_CONTENT, offset_header(received)).into_response());
    }
    let bytes = state
        .partials
        .read(id, length)
        .await
        .map_err(Error::internal)?;
    let declared = content_type_essence(headers);
    let result = store_checked(state, user_id, id, bytes, declared).await;
    // Checked and recorded, or refused: either way the partial is done with. A refused file
    // starts over under a new id. A failure of ours, or a server too busy to check it, keeps
    // it: the same piece sent again (empty, at the end) checks it then.
    let keep = match &result {
        Err(Error::Internal(_)) => true,
        Err(Error::Api(e)) => e.code == ErrorCode::ServerBusy,
        Ok(_) => false,
    };
    if !keep {
        state.partials.remove(id).await;
        state.store.end_upload(id).await?;
    }
    let (status, info) = result?;
    Ok((status, offset_header(length), Json(info)).into_response())
}
