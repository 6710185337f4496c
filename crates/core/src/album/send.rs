//! Sending an album: edits applied from the originals, files written to the profile, the
//! message queued; retrying a refused album or removing an item from it.

use natter_media::{PhotoEdits, PrepareOptions, PreparedPhoto};
use natter_protocol::{policy, validate, ApiError, ErrorCode, MediaItem, MediaKind};
use uuid::Uuid;

use super::{media_error, storage, AlbumItemDraft};
use crate::client::Client;
use crate::error::{CoreError, Result};
use crate::views::{CoreEvent, MessageView};
use crate::voice::write_durably;

impl Client {
    /// Sends staged items as one album with a caption (may be empty). Checked first with the
    /// server's rules (media allowed in this conversation, 1 to 9 items, caption length).
    /// Items with edits are prepared again from their originals with the edits applied;
    /// the others are sent as prepared. The message shows at once as "sending"; the upload
    /// worker puts every item on the server (resumably), then the outbox sends it.
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
                        explicit: meta.item.explicit,
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
                        explicit: meta.item.explicit,
                    });
                }
                let path = dir.join("original");
                let original = tokio::fs::read(&path)
                    .await
                    .map_err(|e| storage("reading", &path, e))?;
                // Edited (a crop can change what the picture shows): classified again.
                let (photo, explicit): (PreparedPhoto, bool) =
                    tokio::task::spawn_blocking(move || {
                        let photo = natter_media::prepare_photo_edited(
                            &original,
                            &PrepareOptions { hd },
                            &edits,
                        )
                        .map_err(media_error)?;
                        let explicit = crate::safety::any_explicit(&[&photo.bytes])?;
                        Ok::<_, CoreError>((photo, explicit))
                    })
                    .await
                    .map_err(|e| CoreError::Storage(format!("applying edits: {e}")))??;
                Ok(Prepared {
                    kind: MediaKind::Image,
                    bytes: photo.bytes,
                    thumb: photo.thumbnail,
                    mime: photo.mime.to_string(),
                    width: photo.width,
                    height: photo.height,
                    duration_ms: 0,
                    blurhash: photo.blurhash,
                    explicit,
                })
            }));
        }
        let mut album = Vec::with_capacity(jobs.len());
        for job in jobs {
            let p = job
                .await
                .map_err(|e| CoreError::Storage(format!("preparing the album: {e}")))??;
            if p.explicit {
                policy::may_send_explicit(self.inner.cache.my_age_band().await?, true)?;
            }
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
                explicit: p.explicit,
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
        self.wake_workers();
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
            self.wake_workers();
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
    explicit: bool,
}
