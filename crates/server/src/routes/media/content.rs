//! What an uploaded file is, measured from its content, and whether it may be stored: a
//! voice note's packets, a photo's headers and complete decode, a video's container, and the
//! nudity classifier's scores (a photo, an animation's frames, a video's keyframes from the
//! frame worker).

use axum::body::Bytes;
use natter_protocol::limits::{IMAGE_MAX_BYTES, IMAGE_MAX_EDGE, VIDEO_MAX_BYTES, VOICE_MAX_BYTES};
use natter_protocol::{ApiError, ErrorCode, MediaKind};
use uuid::Uuid;

use super::VOICE_CONTENT_TYPE;
use crate::error::{Error, Result};
use crate::state::AppState;

/// What an upload turned out to be, measured from its content.
pub(super) struct Checked {
    /// A video the frame worker can decode (H.264 in MP4 or MOV): its keyframes are judged.
    pub(super) frames_decodable: bool,
    pub(super) kind: MediaKind,
    pub(super) content_type: String,
    pub(super) duration_ms: u32,
    pub(super) width: u32,
    pub(super) height: u32,
    /// What is stored instead of the upload: a photo without its metadata. `None` keeps the
    /// upload as it came (a prepared photo has none, so usually nothing changes).
    pub(super) rewritten: Option<Vec<u8>>,
    /// The nudity classifier's scores: photos and thumbnails (an animation's worst frame) by
    /// [`check_content`], videos (their worst keyframe) by [`judge_video`].
    pub(super) nsfw: Option<natter_safety::Scores>,
}

/// Recognises and checks a complete file. `declared` is the `Content-Type` the client sent:
/// when it names a kind (audio, image or video), the content must be that kind.
pub(super) fn check_content(
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

pub(super) fn max_bytes(kind: MediaKind) -> usize {
    match kind {
        MediaKind::Voice => VOICE_MAX_BYTES,
        MediaKind::Image => IMAGE_MAX_BYTES,
        MediaKind::Video => VIDEO_MAX_BYTES,
    }
}

pub(super) fn too_large(kind: MediaKind) -> ApiError {
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

/// Judges a video by its pictures: up to [`crate::frames::MAX_FRAMES`] keyframes spread over
/// it, decoded by the frame worker (a separate, resource-limited process) and classified here;
/// the worst frame's scores are the video's. A worker that crashes, fails or times out makes
/// the video refused (`invalid_video`), never accepted unjudged.
///
/// A video the worker cannot decode (HEVC, VP8/VP9/AV1, WebM), or any video when no worker
/// is configured, has no frames to judge: from an account under 18 (which may not send
/// explicit media) it is refused, since a poster the sender chose proves nothing; from an
/// adult it is accepted unjudged (`None` here) and stored as explicit, so it is withheld from
/// everyone under 18 and blurred for anyone with the filter on.
pub(super) async fn judge_video(
    state: &AppState,
    owner_id: Uuid,
    bytes: &Bytes,
    decodable: bool,
) -> Result<Option<natter_safety::Scores>> {
    let frames = match (&state.frames, decodable) {
        (Some(frames), true) => frames,
        (worker, _) => {
            let band = crate::routes::safety::band_of(state, owner_id).await?;
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
