//! Staging: picked files prepared on the device and kept under `PROFILE/staging/ID/` until sent.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use natter_media::{PrepareOptions, PreparedPhoto};
use natter_protocol::limits::ALBUM_MAX_ITEMS;
use natter_protocol::{policy, ApiError, ErrorCode, MediaKind};
use uuid::Uuid;

use super::{media_error, storage, StageInput, StageResult, StagedMedia, StagedMeta};
use crate::client::Client;
use crate::error::{CoreError, Result};
use crate::views::CoreEvent;
use crate::voice::write_durably;

/// Staged items nobody touched for this long are left over from a composer that crashed or
/// was closed; they are removed when the client starts.
const STAGING_KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);

impl Client {
    pub(crate) fn staging_dir(&self, id: Uuid) -> PathBuf {
        self.profile_dir().join("staging").join(id.to_string())
    }

    /// What the composer shows of a staged item, and its content type: a photo's prepared
    /// preview (upright, at most 2048 px, before edits), or a video itself (to play and trim).
    pub async fn staged_file(&self, id: Uuid) -> Result<(PathBuf, String)> {
        let meta = self.staged_meta(id).await?;
        let dir = self.staging_dir(id);
        Ok(match meta.item.kind {
            MediaKind::Video => (dir.join("original"), meta.mime),
            _ => (dir.join("prepared"), meta.mime),
        })
    }

    /// Prepares picked files for an album, every one in parallel (one worker per core):
    /// limits checked before decoding, turned upright, resized, re-encoded without any
    /// metadata, with a thumbnail and a blurhash. Each file gets its own result, in order;
    /// files past the 9th are refused. `Staged` events report progress.
    #[tracing::instrument(skip(self, inputs), fields(n = inputs.len()))]
    pub async fn stage_media(
        &self,
        conversation: Uuid,
        inputs: Vec<StageInput>,
        hd: bool,
    ) -> Result<Vec<StageResult>> {
        self.auth()?;
        let total = u32::try_from(inputs.len()).unwrap_or(u32::MAX);
        let done = Arc::new(AtomicU32::new(0));
        let workers = Arc::new(tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(1, usize::from),
        ));
        let mut tasks = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.into_iter().enumerate() {
            let name = input.name();
            if i >= ALBUM_MAX_ITEMS {
                tasks.push((name, None));
                continue;
            }
            let (client, done, workers) = (self.clone(), done.clone(), workers.clone());
            let task = tokio::spawn(async move {
                let _permit = workers.acquire_owned().await;
                let result = client.stage_one(input, hd).await;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                client.emit(CoreEvent::Staged {
                    conversation_id: conversation,
                    done: n,
                    total,
                });
                result
            });
            tasks.push((name, Some(task)));
        }
        let mut results = Vec::with_capacity(tasks.len());
        for (name, task) in tasks {
            let outcome = match task {
                None => Err(ApiError::new(
                    ErrorCode::TooManyItems,
                    format!("you can send up to {ALBUM_MAX_ITEMS} photos and videos at once"),
                )),
                Some(task) => match task.await {
                    Ok(Ok(item)) => Ok(item),
                    Ok(Err(e)) => Err(e.to_api()),
                    Err(e) => Err(ApiError::new(
                        ErrorCode::Internal,
                        format!("preparing the file failed: {e}"),
                    )),
                },
            };
            if let Err(e) = &outcome {
                tracing::warn!(%name, code = %e.code, error = %e.message, "file refused");
            }
            results.push(match outcome {
                Ok(item) => StageResult {
                    name,
                    item: Some(item),
                    error: None,
                },
                Err(e) => StageResult {
                    name,
                    item: None,
                    error: Some(e),
                },
            });
        }
        Ok(results)
    }

    async fn stage_one(&self, input: StageInput, hd: bool) -> Result<StagedMedia> {
        let name = input.name();
        let bytes = match input {
            StageInput::Path(path) => read_limited(&path).await?,
            StageInput::Bytes { bytes, .. } => bytes,
        };
        let id = Uuid::now_v7();
        let dir = self.staging_dir(id);
        let original = bytes.clone();
        let what = name.clone();
        let (prepared, video, placeholder, explicit) = tokio::task::spawn_blocking(move || {
            let (prepared, video, placeholder) = prepare_any(&bytes, hd).map_err(media_error)?;
            let explicit = classify_staged(&prepared, &bytes, video.is_some(), placeholder)?;
            Ok::<_, CoreError>((prepared, video, placeholder, explicit))
        })
        .await
        .map_err(|e| CoreError::Storage(format!("preparing {what}: {e}")))??;
        if explicit {
            tracing::info!(%id, "the nudity filter found a picked item explicit");
            policy::may_send_explicit(self.inner.cache.my_age_band().await?, true)?;
        }
        let item = match &video {
            None => StagedMedia {
                id,
                name,
                kind: MediaKind::Image,
                width: prepared.width,
                height: prepared.height,
                duration_ms: 0,
                size: u32::try_from(prepared.bytes.len()).unwrap_or(u32::MAX),
                blurhash: prepared.blurhash.clone(),
                placeholder: false,
                explicit,
            },
            Some(info) => StagedMedia {
                id,
                name,
                kind: MediaKind::Video,
                width: info.display_width,
                height: info.display_height,
                duration_ms: info.duration_ms,
                size: u32::try_from(original.len()).unwrap_or(u32::MAX),
                blurhash: prepared.blurhash.clone(),
                placeholder,
                explicit,
            },
        };
        let meta = StagedMeta {
            item: item.clone(),
            hd,
            mime: match &video {
                None => prepared.mime.to_string(),
                Some(info) => info.mime.to_string(),
            },
            thumb_width: prepared.thumb_width,
            thumb_height: prepared.thumb_height,
        };
        write_durably(&dir.join("original"), &original).await?;
        write_durably(&dir.join("prepared"), &prepared.bytes).await?;
        write_durably(&dir.join("thumb"), &prepared.thumbnail).await?;
        let json = serde_json::to_vec(&meta).map_err(|e| CoreError::Storage(e.to_string()))?;
        write_durably(&dir.join("meta.json"), &json).await?;
        Ok(item)
    }

    /// Forgets a staged item (removed from the composer).
    pub async fn unstage(&self, id: Uuid) -> Result<()> {
        let dir = self.staging_dir(id);
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(storage("removing", &dir, e)),
        }
    }

    pub(crate) async fn staged_meta(&self, id: Uuid) -> Result<StagedMeta> {
        let path = self.staging_dir(id).join("meta.json");
        let json = tokio::fs::read(&path).await.map_err(|_| {
            CoreError::from(ApiError::new(
                ErrorCode::MediaNotFound,
                "that photo is no longer staged; pick it again",
            ))
        })?;
        serde_json::from_slice(&json).map_err(|e| storage("reading", &path, e))
    }

    /// Gives a staged video whose first frame this device could not decode (see
    /// [`StagedMedia::placeholder`]) a poster: a frame the platform's own player decoded
    /// (the web view draws it to a canvas), as JPEG or PNG bytes. It is checked like any
    /// photo and must have the video's shape; it becomes the preview, the thumbnail the
    /// recipient sees first, and the blurhash.
    pub async fn set_staged_poster(&self, id: Uuid, image: Vec<u8>) -> Result<StagedMedia> {
        let mut meta = self.staged_meta(id).await?;
        if meta.item.kind != MediaKind::Video {
            return Err(ApiError::new(ErrorCode::BadRequest, "only a video takes a poster").into());
        }
        let (photo, poster_explicit) = tokio::task::spawn_blocking(move || {
            let photo = natter_media::prepare_photo(&image, &PrepareOptions::default())
                .map_err(media_error)?;
            let explicit = crate::safety::any_explicit(&[&photo.bytes])?;
            Ok::<_, CoreError>((photo, explicit))
        })
        .await
        .map_err(|e| CoreError::Storage(format!("preparing the poster: {e}")))??;
        if poster_explicit {
            policy::may_send_explicit(self.inner.cache.my_age_band().await?, true)?;
        }
        let (vw, vh) = (meta.item.width, meta.item.height);
        if !same_shape(photo.width, photo.height, vw, vh) {
            return Err(ApiError::new(
                ErrorCode::InvalidImage,
                format!(
                    "the poster is {}×{} but the video is {vw}×{vh}",
                    photo.width, photo.height
                ),
            )
            .into());
        }
        let dir = self.staging_dir(id);
        write_durably(&dir.join("prepared"), &photo.bytes).await?;
        write_durably(&dir.join("thumb"), &photo.thumbnail).await?;
        meta.item.blurhash = photo.blurhash;
        meta.item.placeholder = false;
        meta.item.explicit |= poster_explicit;
        meta.thumb_width = photo.thumb_width;
        meta.thumb_height = photo.thumb_height;
        let json = serde_json::to_vec(&meta).map_err(|e| CoreError::Storage(e.to_string()))?;
        write_durably(&dir.join("meta.json"), &json).await?;
        tracing::debug!(%id, "staged video got a poster from the platform");
        Ok(meta.item)
    }

    /// Removes staged items left over from a composer that crashed or was closed (untouched
    /// for [`STAGING_KEPT_FOR`]). Returns how many were removed.
    pub(crate) async fn sweep_staging(&self) -> Result<usize> {
        let root = self.profile_dir().join("staging");
        let mut entries = match tokio::fs::read_dir(&root).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(storage("reading", &root, e)),
        };
        let now = SystemTime::now();
        let mut removed = 0;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| storage("reading", &root, e))?
        {
            let touched = entry.metadata().await.and_then(|m| m.modified());
            let stale = touched
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STAGING_KEPT_FOR);
            if stale {
                let path = entry.path();
                match tokio::fs::remove_dir_all(&path).await {
                    Ok(()) => removed += 1,
                    Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not sweep"),
                }
            }
        }
        if removed > 0 {
            tracing::info!(removed, "swept staged items left over from an earlier run");
        }
        Ok(removed)
    }
}

type Staged = (PreparedPhoto, Option<natter_media::VideoInfo>, bool);

/// Keyframes of a video the nudity filter looks at, besides its poster.
const SAMPLED_FRAMES: usize = 8;

/// Runs the nudity classifier on a staged item: the prepared photo; for a video its poster
/// (unless a placeholder) and up to [`SAMPLED_FRAMES`] keyframes spread over it (H.264;
/// other codecs are judged by the poster the platform hands over).
fn classify_staged(
    prepared: &PreparedPhoto,
    original: &[u8],
    video: bool,
    placeholder: bool,
) -> Result<bool> {
    if !video {
        return crate::safety::any_explicit(&[&prepared.bytes]);
    }
    if !placeholder && crate::safety::any_explicit(&[&prepared.bytes])? {
        return Ok(true);
    }
    let frames = match natter_media::video::sampled_frames(original, SAMPLED_FRAMES) {
        Ok(frames) => frames,
        Err(e) => {
            tracing::info!(error = %e, "no frames to sample from this video");
            return Ok(false);
        }
    };
    let model = crate::safety::classifier()?;
    for frame in frames {
        let c = model
            .classify_image(&frame.into())
            .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
        if c.verdict == natter_safety::Verdict::Explicit {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Prepares a picked file by what it is: a photo (recognised by its magic bytes), else a
/// video (recognised by parsing its container). A video's preview is its first frame where
/// this device can decode it (H.264), otherwise a plain placeholder of its shape (the third
/// value is then `true`).
fn prepare_any(bytes: &[u8], hd: bool) -> Result<Staged, natter_media::MediaError> {
    if natter_media::sniff(bytes).is_some() || !natter_media::looks_like_video(bytes) {
        return natter_media::prepare_photo(bytes, &PrepareOptions { hd })
            .map(|p| (p, None, false));
    }
    let info = natter_media::probe(bytes)?;
    match natter_media::video::poster(bytes) {
        Ok(poster) => Ok((poster, Some(info), false)),
        Err(e) => {
            tracing::info!(error = %e, "no first frame for this video; using a placeholder");
            let plain = natter_media::photo::placeholder(info.display_width, info.display_height)?;
            Ok((plain, Some(info), true))
        }
    }
}

/// Whether a frame of `w`×`h` has the shape of a video shown at `vw`×`vh` (within 2 %, for
/// the rounding of odd sizes and of a scaled-down frame).
fn same_shape(w: u32, h: u32, vw: u32, vh: u32) -> bool {
    if w == 0 || h == 0 || vw == 0 || vh == 0 {
        return false;
    }
    let (a, b) = (f64::from(w) / f64::from(h), f64::from(vw) / f64::from(vh));
    (a / b - 1.0).abs() <= 0.02
}

/// Reads a picked file, refusing one over the size limits before reading it all.
async fn read_limited(path: &Path) -> Result<Vec<u8>> {
    let meta = tokio::fs::metadata(path).await.map_err(|e| {
        CoreError::from(ApiError::new(
            ErrorCode::BadRequest,
            format!("cannot read {}: {e}", path.display()),
        ))
    })?;
    let max = natter_media::video::MAX_VIDEO_BYTES.max(natter_media::photo::MAX_PHOTO_BYTES);
    if meta.len() > max as u64 {
        return Err(media_error(natter_media::MediaError::TooLarge {
            bytes: usize::try_from(meta.len()).unwrap_or(usize::MAX),
            max,
        })
        .into());
    }
    tokio::fs::read(path).await.map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("cannot read {}: {e}", path.display()),
        )
        .into()
    })
}
