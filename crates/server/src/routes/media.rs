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
use futures_util::StreamExt as _;
use natter_protocol::limits::{
    IMAGE_MAX_BYTES, IMAGE_MAX_EDGE, UPLOAD_CHUNK_MAX_BYTES, VIDEO_MAX_BYTES, VOICE_MAX_BYTES,
};
use natter_protocol::{ApiError, ErrorCode, MediaInfo, MediaKind};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::upload_claim::Writing;
use crate::auth::DmUser;
use crate::error::{Error, Result};
use crate::extract::{Json, Path};
use crate::state::{now_ms, AppState};
use crate::store::NewMedia;

/// The content type voice notes are stored and served with (RFC 7845).
pub const VOICE_CONTENT_TYPE: &str = "audio/ogg";
/// How much of a resumable upload is stored (request and response header).
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
/// The whole upload's size (request header on every piece; response header of `HEAD`).
pub const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");

/// What an upload turned out to be, measured from its content.
struct Checked {
    /// A video the frame worker can decode (H.264 in MP4 or MOV): its keyframes are judged.
    frames_decodable: bool,
    kind: MediaKind,
    content_type: String,
    duration_ms: u32,
    width: u32,
    height: u32,
    /// What is stored instead of the upload: a photo without its metadata. `None` keeps the
    /// upload as it came (a prepared photo has none, so usually nothing changes).
    rewritten: Option<Vec<u8>>,
    /// The nudity classifier's scores: photos and thumbnails (an animation's worst frame) by
    /// [`check_content`], videos (their worst keyframe) by [`judge_video`].
    nsfw: Option<natter_safety::Scores>,
}

/// Recognises and checks a complete file. `declared` is the `Content-Type` the client sent:
/// when it names a kind (audio, image or video), the content must be that kind.
fn check_content(
    bytes: &[u8],
    declared: Option<&str>,
    classifier: &natter_safety::Classifier,
) -> Result<Checked, ApiError> {
    let declared_kind = declared.and_then(|d| match d.split('/').next() {
        Some("audio") => Some(MediaKind::Voice),
        Some("image") => Some(MediaKind::Image),
        Some("video") => Some(MediaKind::Video),
        _ if d == "application/ogg" => Some(MediaKind::Voice),
        _ => None,
    });
    let sniffed = if bytes.starts_with(b"OggS") {
        Some(MediaKind::Voice)
    } else if natter_media::sniff(bytes).is_some() {
        Some(MediaKind::Image)
    } else if natter_media::looks_like_video(bytes) {
        Some(MediaKind::Video)
    } else {
        None
    };
    let kind = match (declared_kind, sniffed) {
        (Some(d), Some(s)) if d != s => d,
        (_, Some(s)) => s,
        (Some(d), None) => d,
        (None, None) => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "this file is not a voice note, photo or video Natter accepts",
            ))
        }
    };
    let mismatch = |what: &str, code: ErrorCode| {
        ApiError::new(
            code,
            format!(
                "the file was sent as {}, but its content is not {what}",
                declared.unwrap_or("?")
            ),
        )
    };
    if sniffed != Some(kind) {
        return Err(match kind {
            MediaKind::Voice => mismatch("an Ogg Opus voice note", ErrorCode::InvalidVoice),
            MediaKind::Image => mismatch("a JPEG, PNG, GIF or WebP photo", ErrorCode::InvalidImage),
            MediaKind::Video => mismatch("an MP4, MOV or WebM video", ErrorCode::InvalidVideo),
        });
    }
    let media_err = |e: natter_media::MediaError| ApiError::new(e.code(), e.to_string());
    match kind {
        MediaKind::Voice => {
            if bytes.len() > VOICE_MAX_BYTES {
                return Err(too_large(MediaKind::Voice));
            }
            let info = natter_media::validate_voice_note(bytes).map_err(media_err)?;
            Ok(Checked {
                frames_decodable: false,
                kind,
                content_type: VOICE_CONTENT_TYPE.into(),
                duration_ms: u32::try_from(info.duration_ms).unwrap_or(u32::MAX),
                width: 0,
                height: 0,
                rewritten: None,
                nsfw: None,
            })
        }
        MediaKind::Image => {
            if bytes.len() > IMAGE_MAX_BYTES {
                return Err(too_large(MediaKind::Image));
            }
            let info = natter_media::inspect_image(bytes, IMAGE_MAX_EDGE).map_err(media_err)?;
            let stripped = natter_media::strip_metadata(bytes).map_err(media_err)?;
            let scores = classify_photo(bytes, &info, classifier)?;
            Ok(Checked {
                frames_decodable: false,
                kind,
                content_type: info.mime().into(),
                duration_ms: 0,
                width: info.width,
                height: info.height,
                rewritten: (stripped != bytes).then_some(stripped),
                nsfw: Some(scores),
            })
        }
        MediaKind::Video => {
            if bytes.len() > VIDEO_MAX_BYTES {
                return Err(too_large(MediaKind::Video));
            }
            check_video(bytes)
        }
    }
}

/// Container, codec, size and duration read from the file's own structure
/// ([`natter_media::probe`]); the picture's size is as displayed (rotation applied).
fn check_video(bytes: &[u8]) -> Result<Checked, ApiError> {
    let info = natter_media::probe(bytes).map_err(|e| ApiError::new(e.code(), e.to_string()))?;
    Ok(Checked {
        // What `natter_media::video::sampled_frames` decodes.
        frames_decodable: info.video_codec == natter_media::video::VideoCodec::H264
            && info.container != natter_media::video::Container::WebM,
        kind: MediaKind::Video,
        content_type: info.mime.into(),
        duration_ms: info.duration_ms,
        width: info.display_width,
        height: info.display_height,
        rewritten: None,
        nsfw: None,
    })
}

/// The worst of several frames' scores: an explicit one if any is (the most explicit of
/// those), else the most explicit.
fn worst(scores: impl IntoIterator<Item = natter_safety::Scores>) -> Option<natter_safety::Scores> {
    let key = |s: &natter_safety::Scores| {
        (
            s.verdict() == natter_safety::Verdict::Explicit,
            s.explicit(),
        )
    };
    scores.into_iter().max_by(|a, b| {
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    })
}

/// The classifier's scores for a photo: a still by its picture; an animation (GIF, animated
/// WebP, APNG) by up to [`crate::frames::MAX_FRAMES`] frames spread over it, the worst
/// counting, so explicit frames cannot hide behind a harmless first one.
fn classify_photo(
    bytes: &[u8],
    info: &natter_media::photo::ImageInfo,
    classifier: &natter_safety::Classifier,
) -> Result<natter_safety::Scores, ApiError> {
    let safety_err = |e: natter_safety::SafetyError| ApiError::new(e.code(), e.to_string());
    if !info.animated {
        return Ok(classifier.classify_bytes(bytes).map_err(safety_err)?.scores);
    }
    let frames =
        std::panic::catch_unwind(|| animation_frames(bytes, info)).unwrap_or_else(|_| {
            Err(ApiError::new(
                ErrorCode::InvalidImage,
                "the decoder failed on this animation",
            ))
        })?;
    let mut scores = Vec::with_capacity(frames.len());
    for frame in &frames {
        scores.push(classifier.classify_rgb(frame).map_err(safety_err)?.scores);
    }
    worst(scores)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidImage, "the animation has no frames"))
}

/// Up to [`crate::frames::MAX_FRAMES`] frames of an animation spread over it, each composed on
/// its canvas and resized to the classifier's input exactly as `Classifier::classify_image`
/// does. Decoded within the animation limits GIFs already meet ([`inspect_image`] checked
/// them): at most `MAX_ANIMATION_FRAMES` frames and `MAX_ANIMATION_PIXELS` in all.
///
/// [`inspect_image`]: natter_media::inspect_image
fn animation_frames(
    bytes: &[u8],
    info: &natter_media::photo::ImageInfo,
) -> Result<Vec<Vec<u8>>, ApiError> {
    use image::codecs::{gif::GifDecoder, png::PngDecoder, webp::WebPDecoder};
    use image::AnimationDecoder as _;
    use natter_media::photo::{ImageKind, MAX_ANIMATION_FRAMES, MAX_ANIMATION_PIXELS};
    let bad =
        |e: image::ImageError| ApiError::new(ErrorCode::InvalidImage, format!("animation: {e}"));
    let cursor = std::io::Cursor::new(bytes);
    let frames = match info.kind {
        ImageKind::Gif => GifDecoder::new(cursor).map_err(bad)?.into_frames(),
        ImageKind::WebP => WebPDecoder::new(cursor).map_err(bad)?.into_frames(),
        ImageKind::Png => PngDecoder::new(cursor)
            .map_err(bad)?
            .apng()
            .map_err(bad)?
            .into_frames(),
        ImageKind::Jpeg => return Ok(Vec::new()),
    };
    let canvas = u64::from(info.width) * u64::from(info.height);
    let size = natter_safety::INPUT_SIZE;
    // Every `step`-th frame is kept; when twice MAX_FRAMES are kept, every other one goes and
    // the step doubles: the kept frames stay spread over however many there turn out to be.
    // The last frame is always judged too (kept whole until the next one replaces it).
    let (mut kept, mut step) = (Vec::<(usize, Vec<u8>)>::new(), 1usize);
    enum Last {
        Whole(image::RgbaImage),
        Small(Vec<u8>),
    }
    let mut last: Option<(usize, Last)> = None;
    let max = crate::frames::MAX_FRAMES;
    let small = |frame: image::RgbaImage| {
        image::DynamicImage::ImageRgba8(frame)
            .resize_exact(size, size, image::imageops::FilterType::Triangle)
            .into_rgb8()
            .into_raw()
    };
    for (i, frame) in frames.enumerate() {
        let count = i as u64 + 1;
        if count > u64::from(MAX_ANIMATION_FRAMES) || count * canvas > MAX_ANIMATION_PIXELS {
            return Err(ApiError::new(
                ErrorCode::MediaTooLarge,
                format!(
                    "an animation may have at most {MAX_ANIMATION_FRAMES} frames and \
                     {MAX_ANIMATION_PIXELS} pixels in all"
                ),
            ));
        }
        let frame = frame.map_err(bad)?.into_buffer();
        if i % step != 0 {
            last = Some((i, Last::Whole(frame)));
            continue;
        }
        last = None;
        let mut newest = (i, small(frame));
        if kept.len() + 1 == 2 * max {
            step *= 2;
            kept.retain(|(j, _)| j % step == 0);
            if i % step != 0 {
                last = Some((i, Last::Small(std::mem::take(&mut newest.1))));
                continue;
            }
        }
        kept.push(newest);
    }
    match last {
        Some((i, Last::Whole(frame))) => kept.push((i, small(frame))),
        Some((i, Last::Small(frame))) => kept.push((i, frame)),
        None => {}
    }
    // Spread over what was kept, the first and the last among them.
    let n = kept.len();
    let picks: Vec<usize> = if n <= max {
        (0..n).collect()
    } else {
        (0..max).map(|k| k * (n - 1) / (max - 1)).collect()
    };
    Ok(picks
        .into_iter()
        .map(|k| std::mem::take(&mut kept[k].1))
        .collect())
}

fn max_bytes(kind: MediaKind) -> usize {
    match kind {
        MediaKind::Voice => VOICE_MAX_BYTES,
        MediaKind::Image => IMAGE_MAX_BYTES,
        MediaKind::Video => VIDEO_MAX_BYTES,
    }
}

fn too_large(kind: MediaKind) -> ApiError {
    let what = match kind {
        MediaKind::Voice => "a voice note",
        MediaKind::Image => "a photo",
        MediaKind::Video => "a video",
    };
    ApiError::new(
        ErrorCode::MediaTooLarge,
        format!("{what} may be at most {} bytes", max_bytes(kind)),
    )
}

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
    let explicit = checked
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

/// Judges a video by its pictures: up to [`crate::frames::MAX_FRAMES`] keyframes spread over
/// it, decoded by the frame worker (a separate, resource-limited process) and classified here;
/// the worst frame's scores are the video's. A worker that crashes, fails or times out makes
/// the video refused (`invalid_video`), never accepted unjudged.
///
/// A video the worker cannot decode (HEVC, VP8/VP9/AV1, WebM), or any video when no worker
/// is configured, has no frames to judge: from an account under 18 (which may not send
/// explicit media) it is refused, since a poster the sender chose proves nothing; from an
/// adult it is accepted, judged by its poster as before (`None` here).
async fn judge_video(
    state: &AppState,
    owner_id: Uuid,
    bytes: &Bytes,
    decodable: bool,
) -> Result<Option<natter_safety::Scores>> {
    let frames = match (&state.frames, decodable) {
        (Some(frames), true) => frames,
        (worker, _) => {
            let band = super::safety::band_of(state, owner_id).await?;
            if natter_protocol::policy::may_send_explicit(band, true).is_ok() {
                return Ok(None);
            }
            tracing::info!(
                worker = worker.is_some(),
                decodable,
                "a video from an account under 18 that cannot be checked: refused"
            );
            return Err(Error::api(
                ErrorCode::InvalidVideo,
                if worker.is_none() {
                    "this server cannot check videos, so it cannot accept them before you are 18"
                } else {
                    "this video could not be checked (the server checks H.264 MP4 and MOV \
                     videos); before you are 18 only those can be sent"
                },
            ));
        }
    };
    let started = std::time::Instant::now();
    let pictures = frames.frames(bytes).await.map_err(|e| {
        tracing::warn!(error = %e, "the frame worker failed on a video; refused");
        Error::api(ErrorCode::InvalidVideo, "this video could not be checked")
    })?;
    let decoded_ms = started.elapsed().as_millis();
    if pictures.is_empty() {
        tracing::warn!("the frame worker found no keyframe in a video; refused");
        return Err(Error::api(
            ErrorCode::InvalidVideo,
            "this video could not be checked",
        ));
    }
    let classifier = state.classifier.clone();
    let count = pictures.len();
    let scores = tokio::task::spawn_blocking(move || {
        pictures
            .iter()
            .map(|rgb| classifier.classify_rgb(rgb).map(|c| c.scores))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(Error::internal)?
    .map_err(|e| Error::from(ApiError::new(e.code(), e.to_string())))?;
    tracing::info!(
        frames = count,
        decoded_ms,
        total_ms = started.elapsed().as_millis(),
        "video frames judged"
    );
    Ok(worst(scores))
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
    // starts over under a new id.
    if !matches!(&result, Err(Error::Internal(_))) {
        state.partials.remove(id).await;
        state.store.end_upload(id).await?;
    }
    let (status, info) = result?;
    Ok((status, offset_header(length), Json(info)).into_response())
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
