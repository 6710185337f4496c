//! Albums: up to 9 photos (and videos) picked, prepared on the device, edited, captioned and
//! sent as one message; uploaded piece by piece so a lost connection or a restart resumes
//! where it stopped; fetched thumbnail first on the receiving side.
//!
//! Picking stages each file under `PROFILE/staging/ID/`: the original (so edits are applied
//! to full-resolution pixels when sending) and the prepared photo with its thumbnail (what
//! the composer shows, and what is sent when there are no edits). Sending writes the final
//! files to `PROFILE/media/` and queues the message; the outbox uploads, then sends.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use natter_media::{PhotoEdits, PrepareOptions, PreparedPhoto, VideoEdits};
use natter_protocol::limits::{ALBUM_MAX_ITEMS, UPLOAD_CHUNK_BYTES};
use natter_protocol::{policy, validate, ApiError, ErrorCode, MediaItem, MediaKind};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use uuid::Uuid;

use crate::api::Piece;
use crate::client::Client;
use crate::error::{CoreError, Result};
use crate::views::{CoreEvent, MessageView};
use crate::voice::write_durably;

/// A picked file, prepared and waiting in the composer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StagedMedia {
    pub id: Uuid,
    /// The file's name as picked (shown in the tray; never used to decide its type).
    pub name: String,
    pub kind: MediaKind,
    /// Pixels of the prepared photo (upright, before edits).
    pub width: u32,
    pub height: u32,
    pub duration_ms: u32,
    /// Bytes of the prepared file.
    pub size: u32,
    pub blurhash: String,
}

/// One picked file's outcome: prepared, or refused with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StageResult {
    pub name: String,
    pub item: Option<StagedMedia>,
    pub error: Option<ApiError>,
}

/// A staged item as it goes into the album, with its edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AlbumItemDraft {
    pub staged_id: Uuid,
    /// A photo's edits (ignored for a video).
    pub edits: PhotoEdits,
    /// A video's trim and mute (ignored for a photo).
    pub video: Option<VideoEdits>,
}

/// What to stage: a file on disk, or bytes (pasted, captured by the camera).
#[derive(Debug, Clone)]
pub enum StageInput {
    Path(PathBuf),
    Bytes { name: String, bytes: Vec<u8> },
}

impl StageInput {
    fn name(&self) -> String {
        match self {
            StageInput::Path(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string()),
            StageInput::Bytes { name, .. } => name.clone(),
        }
    }
}

/// What is kept of a staged item (`meta.json` beside its files).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StagedMeta {
    item: StagedMedia,
    hd: bool,
    mime: String,
    thumb_width: u32,
    thumb_height: u32,
}

fn media_error(e: natter_media::MediaError) -> ApiError {
    ApiError::new(e.code(), e.to_string())
}

fn storage(what: &str, path: &Path, e: impl std::fmt::Display) -> CoreError {
    CoreError::Storage(format!("{what} {}: {e}", path.display()))
}

impl Client {
    fn staging_dir(&self, id: Uuid) -> PathBuf {
        self.profile_dir().join("staging").join(id.to_string())
    }

    /// Where an album file (a photo, a video or a thumbnail) is kept on this device.
    pub fn album_file_path(&self, media_id: Uuid) -> PathBuf {
        self.profile_dir().join("media").join(media_id.to_string())
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
        let (prepared, video) = tokio::task::spawn_blocking(move || prepare_any(&bytes, hd))
            .await
            .map_err(|e| CoreError::Storage(format!("preparing {what}: {e}")))?
            .map_err(media_error)?;
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

    async fn staged_meta(&self, id: Uuid) -> Result<StagedMeta> {
        let path = self.staging_dir(id).join("meta.json");
        let json = tokio::fs::read(&path).await.map_err(|_| {
            CoreError::from(ApiError::new(
                ErrorCode::MediaNotFound,
                "that photo is no longer staged; pick it again",
            ))
        })?;
        serde_json::from_slice(&json).map_err(|e| storage("reading", &path, e))
    }

    /// Sends staged items as one album with a caption (may be empty). Checked first with the
    /// server's rules (media allowed in this conversation, 1 to 9 items, caption length).
    /// Items with edits are prepared again from their originals with the edits applied;
    /// the others are sent as prepared. The message shows at once as "sending"; the outbox
    /// uploads every item (resumably), then sends it.
    #[tracing::instrument(skip(self, items, caption), fields(n = items.len()))]
    pub async fn send_album(
        &self,
        conversation: Uuid,
        items: Vec<AlbumItemDraft>,
        caption: &str,
        hd: bool,
    ) -> Result<MessageView> {
        let (_, me) = self.auth()?;
        let facts = self
            .inner
            .cache
            .conversation_facts(me.id, conversation)
            .await?
            .ok_or_else(crate::client::not_found)?;
        policy::content_rule(policy::Content::Media, facts)?;
        if items.is_empty() {
            return Err(ApiError::new(ErrorCode::BadRequest, "pick at least one photo").into());
        }
        // The count and caption rules, with placeholder ids (the real ones come below).
        let placeholders: Vec<_> = items
            .iter()
            .map(|_| natter_protocol::MediaAttachment {
                media_id: Uuid::now_v7(),
                thumbnail_id: Uuid::now_v7(),
                blurhash: "00TI:j".into(),
            })
            .collect();
        validate::album(caption, &placeholders)?;

        let mut jobs = Vec::with_capacity(items.len());
        for draft in &items {
            let meta = self.staged_meta(draft.staged_id).await?;
            let dir = self.staging_dir(draft.staged_id);
            let redo = draft.edits != PhotoEdits::default() || meta.hd != hd;
            let edits = draft.edits.clone();
            let video_edits = draft.video.clone().unwrap_or_default();
            jobs.push(tokio::spawn(async move {
                if meta.item.kind == MediaKind::Video {
                    // Every video goes through remux: trimmed and muted as asked, and never
                    // with its metadata (a phone's location, make and model).
                    let path = dir.join("original");
                    let original = tokio::fs::read(&path)
                        .await
                        .map_err(|e| storage("reading", &path, e))?;
                    let thumb_path = dir.join("thumb");
                    let thumb = tokio::fs::read(&thumb_path)
                        .await
                        .map_err(|e| storage("reading", &thumb_path, e))?;
                    let remuxed = tokio::task::spawn_blocking(move || {
                        natter_media::remux(&original, &video_edits)
                    })
                    .await
                    .map_err(|e| CoreError::Storage(format!("preparing the video: {e}")))?
                    .map_err(media_error)?;
                    return Ok::<_, CoreError>(Prepared {
                        kind: MediaKind::Video,
                        mime: remuxed.info.mime.to_string(),
                        width: remuxed.info.display_width,
                        height: remuxed.info.display_height,
                        duration_ms: remuxed.info.duration_ms,
                        bytes: remuxed.bytes,
                        thumb,
                        blurhash: meta.item.blurhash.clone(),
                    });
                }
                if !redo {
                    let read = |f: &str| {
                        let path = dir.join(f);
                        async move {
                            tokio::fs::read(&path)
                                .await
                                .map_err(|e| storage("reading", &path, e))
                        }
                    };
                    return Ok(Prepared {
                        kind: MediaKind::Image,
                        bytes: read("prepared").await?,
                        thumb: read("thumb").await?,
                        mime: meta.mime.clone(),
                        width: meta.item.width,
                        height: meta.item.height,
                        duration_ms: 0,
                        blurhash: meta.item.blurhash.clone(),
                    });
                }
                let path = dir.join("original");
                let original = tokio::fs::read(&path)
                    .await
                    .map_err(|e| storage("reading", &path, e))?;
                let photo: PreparedPhoto = tokio::task::spawn_blocking(move || {
                    natter_media::prepare_photo_edited(&original, &PrepareOptions { hd }, &edits)
                })
                .await
                .map_err(|e| CoreError::Storage(format!("applying edits: {e}")))?
                .map_err(media_error)?;
                Ok(Prepared {
                    kind: MediaKind::Image,
                    bytes: photo.bytes,
                    thumb: photo.thumbnail,
                    mime: photo.mime.to_string(),
                    width: photo.width,
                    height: photo.height,
                    duration_ms: 0,
                    blurhash: photo.blurhash,
                })
            }));
        }
        let mut album = Vec::with_capacity(jobs.len());
        for job in jobs {
            let p = job
                .await
                .map_err(|e| CoreError::Storage(format!("preparing the album: {e}")))??;
            let (media_id, thumbnail_id) = (Uuid::now_v7(), Uuid::now_v7());
            write_durably(&self.album_file_path(media_id), &p.bytes).await?;
            write_durably(&self.album_file_path(thumbnail_id), &p.thumb).await?;
            album.push(MediaItem {
                media_id,
                thumbnail_id,
                kind: p.kind,
                content_type: p.mime,
                width: p.width,
                height: p.height,
                size: u32::try_from(p.bytes.len()).unwrap_or(u32::MAX),
                duration_ms: p.duration_ms,
                blurhash: p.blurhash,
            });
        }
        let view = self.queue_album(conversation, &me, caption, &album).await?;
        for draft in &items {
            self.unstage(draft.staged_id).await?;
        }
        Ok(view)
    }

    /// Sends a failed message again (after the reason was dealt with). Items already on the
    /// server are not uploaded again.
    pub async fn retry(&self, message_id: Uuid) -> Result<MessageView> {
        let (_, me) = self.auth()?;
        if !self.inner.cache.requeue_failed(message_id).await? {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "only a message that failed to send can be sent again",
            )
            .into());
        }
        self.inner.outbox_wake.notify_one();
        self.emit_message(me.id, message_id).await
    }

    /// Takes one item out of an album that has not been sent. The last item takes the
    /// message with it. When the removed item was what the server refused, the rest goes.
    pub async fn remove_album_item(&self, message_id: Uuid, media_id: Uuid) -> Result<()> {
        let (_, me) = self.auth()?;
        let Some(((file, thumb), left)) = self
            .inner
            .cache
            .remove_unsent_item(message_id, media_id)
            .await?
        else {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "only an item of an album that has not been sent can be removed",
            )
            .into());
        };
        for id in [file, thumb] {
            let _ = tokio::fs::remove_file(self.album_file_path(id)).await;
        }
        if left == 0 {
            return self.discard(message_id).await;
        }
        if self
            .inner
            .cache
            .requeue_if_nothing_failed(message_id)
            .await?
        {
            self.inner.outbox_wake.notify_one();
        }
        self.emit_message(me.id, message_id).await.map(|_| ())
    }

    async fn emit_message(&self, me: Uuid, id: Uuid) -> Result<MessageView> {
        let view = self
            .inner
            .cache
            .message(me, id)
            .await?
            .ok_or_else(|| CoreError::Storage("the message vanished".into()))?;
        self.emit(CoreEvent::Message {
            message: view.clone(),
        });
        Ok(view)
    }

    /// An album file (photo, video or thumbnail) of a message in this profile, and its
    /// content type: from the device when it is there, otherwise downloaded once and kept.
    /// Downloads are checked to be what the message says before anything keeps them.
    pub async fn album_file(&self, media_id: Uuid) -> Result<(PathBuf, String)> {
        let Some((mime, is_file)) = self.inner.cache.known_media(media_id).await? else {
            return Err(ApiError::new(ErrorCode::MediaNotFound, "no such photo or video").into());
        };
        let path = self.album_file_path(media_id);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok((path, mime));
        }
        let (token, _) = self.auth()?;
        let bytes = self.api().download_media(&token, media_id).await?;
        if mime.starts_with("image/") || !is_file {
            let checked = bytes.clone();
            tokio::task::spawn_blocking(move || {
                natter_media::inspect_image(&checked, natter_protocol::limits::IMAGE_MAX_EDGE)
            })
            .await
            .map_err(|e| CoreError::Storage(format!("checking the photo: {e}")))?
            .map_err(media_error)?;
        }
        write_durably(&path, &bytes).await?;
        Ok((path, mime))
    }

    /// Copies an album file to `dest` (a path the user chose), downloading it if needed.
    pub async fn save_album_file(&self, media_id: Uuid, dest: &Path) -> Result<()> {
        let (path, _) = self.album_file(media_id).await?;
        tokio::fs::copy(&path, dest)
            .await
            .map_err(|e| storage("saving to", dest, e))?;
        Ok(())
    }

    /// Copies every item of an album into `dir` (`natter-MESSAGE-N.ext`); returns how many.
    pub async fn save_album(&self, message_id: Uuid, dir: &Path) -> Result<u32> {
        let me = self.me()?;
        let view = self
            .inner
            .cache
            .message(me, message_id)
            .await?
            .ok_or_else(|| {
                CoreError::from(ApiError::new(ErrorCode::MediaNotFound, "no such message"))
            })?;
        let mut saved = 0;
        for (i, item) in view.media.iter().enumerate() {
            let ext = match item.mime.as_str() {
                "image/png" => "png",
                "image/webp" => "webp",
                "image/gif" => "gif",
                "video/mp4" => "mp4",
                "video/quicktime" => "mov",
                "video/webm" => "webm",
                _ => "jpg",
            };
            let short = &message_id.simple().to_string()[..8];
            let dest = dir.join(format!("natter-{short}-{}.{ext}", i + 1));
            self.save_album_file(item.media_id, &dest).await?;
            saved += 1;
        }
        Ok(saved)
    }

    /// Uploads every item of a queued album not yet on the server: its thumbnail in one
    /// piece, then the file in pieces from wherever the server's copy ends. Progress is kept
    /// per item, so after a restart only what is missing goes out.
    pub(crate) async fn upload_album(
        &self,
        token: &str,
        conversation_id: Uuid,
        message_id: Uuid,
    ) -> Result<()> {
        let cache = &self.inner.cache;
        for item in cache.pending_items(message_id).await? {
            let refused = |e: CoreError| async move {
                if let CoreError::Api(api) = &e {
                    if !e.is_transient() && api.code != ErrorCode::Unauthenticated {
                        let why = format!("item {}: {}", item.position + 1, api.message);
                        cache.item_failed(message_id, item.position, &why).await?;
                    }
                }
                Err::<(), _>(e)
            };
            if !item.thumb_uploaded {
                let path = self.album_file_path(item.thumbnail_id);
                let bytes = tokio::fs::read(&path)
                    .await
                    .map_err(|e| storage("the thumbnail's file is gone:", &path, e))?;
                if let Err(e) = self
                    .api()
                    .upload_whole(token, item.thumbnail_id, bytes.into(), "image/jpeg")
                    .await
                {
                    return refused(e).await;
                }
                cache
                    .item_progress(message_id, item.position, true, 0, false)
                    .await?;
            }
            if !item.uploaded {
                if let Err(e) = self
                    .upload_resumable(token, conversation_id, message_id, &item)
                    .await
                {
                    return refused(e).await;
                }
            }
        }
        Ok(())
    }

    async fn upload_resumable(
        &self,
        token: &str,
        conversation_id: Uuid,
        message_id: Uuid,
        item: &crate::cache::PendingItem,
    ) -> Result<()> {
        let path = self.album_file_path(item.media_id);
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| storage("the file to send is gone:", &path, e))?;
        let length = file
            .metadata()
            .await
            .map_err(|e| storage("reading", &path, e))?
            .len();
        let api = self.api();
        let mut offset = api.upload_offset(token, item.media_id).await?.min(length);
        if offset > 0 {
            tracing::info!(media_id = %item.media_id, offset, length, "resuming an upload");
        }
        let mut buf = vec![0u8; UPLOAD_CHUNK_BYTES];
        loop {
            let n = usize::try_from((length - offset).min(UPLOAD_CHUNK_BYTES as u64))
                .unwrap_or(UPLOAD_CHUNK_BYTES);
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(|e| storage("reading", &path, e))?;
            file.read_exact(&mut buf[..n])
                .await
                .map_err(|e| storage("reading", &path, e))?;
            let piece = bytes::Bytes::copy_from_slice(&buf[..n]);
            match api
                .upload_piece(token, item.media_id, offset, length, &item.mime, piece)
                .await?
            {
                Piece::Done(info) => {
                    tracing::debug!(media_id = %info.id, size = info.size, "album item uploaded");
                    self.inner
                        .cache
                        .item_progress(message_id, item.position, true, length, true)
                        .await?;
                    self.emit(CoreEvent::Upload {
                        conversation_id,
                        id: message_id,
                        media_id: Some(item.media_id),
                        sent: u32::try_from(length).unwrap_or(u32::MAX),
                        total: u32::try_from(length).unwrap_or(u32::MAX),
                    });
                    return Ok(());
                }
                Piece::Stored(at) | Piece::Elsewhere(at) => {
                    offset = at.min(length);
                    self.inner
                        .cache
                        .item_progress(message_id, item.position, true, offset, false)
                        .await?;
                    self.emit(CoreEvent::Upload {
                        conversation_id,
                        id: message_id,
                        media_id: Some(item.media_id),
                        sent: u32::try_from(offset).unwrap_or(u32::MAX),
                        total: u32::try_from(length).unwrap_or(u32::MAX),
                    });
                }
            }
        }
    }
}

/// An item ready to be written to the profile and queued.
struct Prepared {
    kind: MediaKind,
    bytes: Vec<u8>,
    thumb: Vec<u8>,
    mime: String,
    width: u32,
    height: u32,
    duration_ms: u32,
    blurhash: String,
}

/// Prepares a picked file by what it is: a photo (recognised by its magic bytes), else a
/// video (recognised by parsing its container). A video's preview is its first frame where
/// this device can decode it (H.264), otherwise a plain placeholder of its shape.
fn prepare_any(
    bytes: &[u8],
    hd: bool,
) -> Result<(PreparedPhoto, Option<natter_media::VideoInfo>), natter_media::MediaError> {
    if natter_media::sniff(bytes).is_some() || !looks_like_video(bytes) {
        return natter_media::prepare_photo(bytes, &PrepareOptions { hd }).map(|p| (p, None));
    }
    let info = natter_media::probe(bytes)?;
    let poster = natter_media::video::poster(bytes).or_else(|e| {
        tracing::info!(error = %e, "no first frame for this video; using a placeholder");
        natter_media::photo::placeholder(info.display_width, info.display_height)
    })?;
    Ok((poster, Some(info)))
}

/// ISO-BMFF (`ftyp` first: MP4, MOV) or EBML (WebM).
fn looks_like_video(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"ftyp") || bytes.starts_with(&[0x1a, 0x45, 0xdf, 0xa3])
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
