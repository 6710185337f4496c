//! The upload worker: puts the files of queued albums on the server, one album at a time in
//! the order they were sent, beside the outbox rather than inside it, so a long video never
//! holds back the texts written after it (as in WhatsApp or Signal, a text sent while an
//! album uploads arrives first). When an album's files are all up, the outbox is woken and
//! sends its message in turn.
//!
//! Each item goes up as its thumbnail (one piece), then its file in pieces from wherever the
//! server's copy ends (`HEAD` first), so a cut connection or a restart resumes instead of
//! starting over. Progress is kept per item in the cache.

use std::time::Duration;

use natter_protocol::limits::UPLOAD_CHUNK_BYTES;
use natter_protocol::ErrorCode;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::storage;
use crate::api::Piece;
use crate::cache::now_ms;
use crate::client::Client;
use crate::error::{CoreError, Result};
use crate::outbox::{backoff_ms, Step};
use crate::views::CoreEvent;

/// Uploads the files of the oldest queued album still missing some, if it is due.
pub(crate) async fn upload_next(client: &Client) -> Result<Step> {
    let cache = &client.inner.cache;
    let Some(job) = cache.upload_head().await? else {
        return Ok(Step::Empty);
    };
    let now = now_ms();
    if job.next_attempt_at > now {
        return Ok(Step::RetryAt(job.next_attempt_at));
    }
    let Ok((token, me)) = client.auth() else {
        return Ok(Step::SignedOut);
    };
    match client
        .upload_album(&token, job.conversation_id, job.message_id)
        .await
    {
        Ok(()) => {
            cache.outbox_uploaded(job.message_id).await?;
            tracing::debug!(id = %job.message_id, "album uploaded; the outbox sends it");
            client.inner.outbox_wake.notify_one();
            Ok(Step::Delivered)
        }
        Err(e) if e.is_transient() => {
            let attempts = job.attempts + 1;
            // A busy server says when; anything else backs off.
            let at = now
                + e.retry_after_ms()
                    .unwrap_or_else(|| backoff_ms(attempts - 1));
            tracing::info!(id = %job.message_id, attempts, error = %e, "upload failed; will retry");
            cache
                .upload_retry_later(job.message_id, attempts, at)
                .await?;
            Ok(Step::RetryAt(at))
        }
        Err(CoreError::Api(e)) if e.code == ErrorCode::Unauthenticated => {
            client.signed_out().await;
            Ok(Step::SignedOut)
        }
        Err(e) => {
            tracing::warn!(id = %job.message_id, error = %e, "the server refused an album item");
            cache.outbox_fail(job.message_id, &e.to_string()).await?;
            if let Some(view) = cache.message(me.id, job.message_id).await? {
                client.emit(CoreEvent::Message { message: view });
            }
            Ok(Step::Failed)
        }
    }
}

/// The worker: runs until cancelled.
pub(crate) async fn run(client: Client, cancel: CancellationToken) {
    loop {
        let wait = match upload_next(&client).await {
            Ok(Step::Delivered | Step::Failed) => continue,
            Ok(Step::Empty | Step::SignedOut) => None,
            Ok(Step::RetryAt(at)) => Some(Duration::from_millis((at - now_ms()).max(0) as u64)),
            Err(e) => {
                tracing::error!(error = %e, "upload worker failed; trying again in 1 s");
                Some(Duration::from_secs(1))
            }
        };
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = client.inner.upload_wake.notified() => {}
            _ = sleep => {}
        }
    }
}

impl Client {
    /// Uploads every item of a queued album not yet on the server: its thumbnail in one
    /// piece, then the file in pieces from wherever the server's copy ends. Progress is kept
    /// per item, so after a restart only what is missing goes out.
    async fn upload_album(
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
