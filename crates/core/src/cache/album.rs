//! Albums kept on the device: the items of each message, and for own messages how far each
//! item's upload got (so it continues there after a restart) and which item was refused.

use std::collections::HashMap;

use natter_protocol::{MediaAttachment, MediaItem, MediaKind};
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use super::{uuid, Cache};
use crate::error::{CoreError, Result};
use crate::views::{MediaDisplay, MediaItemView, MessageView};

/// An item of an own album waiting to go out, as the outbox needs it.
#[derive(Debug, Clone)]
pub(crate) struct PendingItem {
    pub position: i64,
    pub media_id: Uuid,
    pub thumbnail_id: Uuid,
    pub mime: String,
    pub blurhash: String,
    pub thumb_uploaded: bool,
    pub uploaded: bool,
}

fn kind_of(s: &str) -> Result<MediaKind> {
    match s {
        "image" => Ok(MediaKind::Image),
        "video" => Ok(MediaKind::Video),
        other => Err(CoreError::Storage(format!("unknown media kind {other:?}"))),
    }
}

/// Writes the items of a message (own pending ones, or received ones from the server).
pub(crate) async fn insert_items(
    tx: &mut Transaction<'_, Sqlite>,
    message_id: Uuid,
    items: &[MediaItem],
    uploaded: bool,
) -> Result<()> {
    for (position, item) in items.iter().enumerate() {
        sqlx::query(
            r#"
            INSERT INTO message_media (message_id, position, media_id, thumbnail_id, kind, mime,
                width, height, size, duration_ms, blurhash, thumb_uploaded, uploaded, sent_bytes,
                explicit)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14)
            ON CONFLICT (message_id, position) DO UPDATE SET explicit = excluded.explicit
            "#,
        )
        .bind(message_id.to_string())
        .bind(position as i64)
        .bind(item.media_id.to_string())
        .bind(item.thumbnail_id.to_string())
        .bind(item.kind.as_str())
        .bind(&item.content_type)
        .bind(item.width)
        .bind(item.height)
        .bind(item.size)
        .bind(item.duration_ms)
        .bind(&item.blurhash)
        .bind(i64::from(uploaded))
        .bind(if uploaded { i64::from(item.size) } else { 0 })
        .bind(item.explicit)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Cache {
    /// Fills `media` of each view (one query for the whole page).
    pub(crate) async fn attach_albums(&self, views: &mut [MessageView]) -> Result<()> {
        if views.is_empty() {
            return Ok(());
        }
        let ids =
            serde_json::to_string(&views.iter().map(|v| v.id.to_string()).collect::<Vec<_>>())
                .map_err(|e| CoreError::Storage(e.to_string()))?;
        let rows = sqlx::query(
            r#"
            SELECT message_id, media_id, thumbnail_id, kind, mime, width, height, size,
                duration_ms, blurhash, uploaded, sent_bytes, failed, explicit
            FROM message_media
            WHERE message_id IN (SELECT value FROM json_each(?1))
            ORDER BY message_id, position
            "#,
        )
        .bind(ids)
        .fetch_all(&self.read)
        .await?;
        let (band, filter) = self.my_filter().await?;
        let mine: HashMap<Uuid, bool> = views.iter().map(|v| (v.id, v.mine)).collect();
        let mut albums: HashMap<Uuid, Vec<MediaItemView>> = HashMap::new();
        for row in &rows {
            let message_id = uuid(row, "message_id")?;
            let explicit = row.try_get::<bool, _>("explicit")?;
            // The sender sees their own photos; others see them as their age and filter say.
            let display = if mine.get(&message_id).copied().unwrap_or(false) {
                MediaDisplay::Show
            } else {
                natter_protocol::policy::display(band, filter, explicit).into()
            };
            let uploaded = row.try_get::<i64, _>("uploaded")? != 0;
            let size: u32 = row.try_get("size")?;
            albums.entry(message_id).or_default().push(MediaItemView {
                media_id: uuid(row, "media_id")?,
                thumbnail_id: uuid(row, "thumbnail_id")?,
                kind: kind_of(&row.try_get::<String, _>("kind")?)?,
                mime: row.try_get("mime")?,
                width: row.try_get("width")?,
                height: row.try_get("height")?,
                size,
                duration_ms: row.try_get("duration_ms")?,
                blurhash: row.try_get("blurhash")?,
                uploaded_bytes: (!uploaded).then(|| {
                    row.try_get::<i64, _>("sent_bytes")
                        .map(|b| u32::try_from(b).unwrap_or(size).min(size))
                        .unwrap_or(0)
                }),
                error: row.try_get("failed")?,
                display,
            });
        }
        for view in views {
            view.media = albums.remove(&view.id).unwrap_or_default();
        }
        Ok(())
    }

    /// The items of an own message still to be uploaded, in order.
    pub(crate) async fn pending_items(&self, message_id: Uuid) -> Result<Vec<PendingItem>> {
        let rows = sqlx::query(
            r#"
            SELECT position, media_id, thumbnail_id, mime, blurhash, thumb_uploaded, uploaded
            FROM message_media WHERE message_id = ?1 ORDER BY position
            "#,
        )
        .bind(message_id.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingItem {
                    position: row.try_get("position")?,
                    media_id: uuid(row, "media_id")?,
                    thumbnail_id: uuid(row, "thumbnail_id")?,
                    mime: row.try_get("mime")?,
                    blurhash: row.try_get("blurhash")?,
                    thumb_uploaded: row.try_get::<i64, _>("thumb_uploaded")? != 0,
                    uploaded: row.try_get::<i64, _>("uploaded")? != 0,
                })
            })
            .collect()
    }

    /// The attachments the server is told about, in order.
    pub(crate) async fn attachments(&self, message_id: Uuid) -> Result<Vec<MediaAttachment>> {
        Ok(self
            .pending_items(message_id)
            .await?
            .into_iter()
            .map(|i| MediaAttachment {
                media_id: i.media_id,
                thumbnail_id: i.thumbnail_id,
                blurhash: i.blurhash,
            })
            .collect())
    }

    /// Records upload progress of an item: the thumbnail is up, `sent` bytes of the file are,
    /// or (with `done`) all of it.
    pub(crate) async fn item_progress(
        &self,
        message_id: Uuid,
        position: i64,
        thumb_uploaded: bool,
        sent: u64,
        done: bool,
    ) -> Result<()> {
        sqlx::query(
            r#"
            UPDATE message_media
            SET thumb_uploaded = MAX(thumb_uploaded, ?3), sent_bytes = ?4,
                uploaded = MAX(uploaded, ?5), failed = NULL
            WHERE message_id = ?1 AND position = ?2
            "#,
        )
        .bind(message_id.to_string())
        .bind(position)
        .bind(i64::from(thumb_uploaded))
        .bind(i64::try_from(sent).unwrap_or(i64::MAX))
        .bind(i64::from(done))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The server refused an item for good.
    pub(crate) async fn item_failed(
        &self,
        message_id: Uuid,
        position: i64,
        why: &str,
    ) -> Result<()> {
        sqlx::query("UPDATE message_media SET failed = ?3 WHERE message_id = ?1 AND position = ?2")
            .bind(message_id.to_string())
            .bind(position)
            .bind(why)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Removes an item from an own message that was not sent. Returns the ids of its files
    /// (to delete them) and how many items are left, or `None` when there is no such item.
    pub(crate) async fn remove_unsent_item(
        &self,
        message_id: Uuid,
        media_id: Uuid,
    ) -> Result<Option<((Uuid, Uuid), i64)>> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            r#"
            DELETE FROM message_media
            WHERE message_id = ?1 AND media_id = ?2
              AND message_id IN (SELECT id FROM messages WHERE seq IS NULL)
            RETURNING media_id, thumbnail_id
            "#,
        )
        .bind(message_id.to_string())
        .bind(media_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM message_media WHERE message_id = ?1")
                .bind(message_id.to_string())
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(Some((
            (uuid(&row, "media_id")?, uuid(&row, "thumbnail_id")?),
            left,
        )))
    }

    /// Whether a media id (a file or a thumbnail) belongs to a message in this cache, and
    /// its content type. Only such ids are fetched or served.
    pub(crate) async fn known_media(&self, media_id: Uuid) -> Result<Option<(String, bool)>> {
        let row = sqlx::query(
            r#"
            SELECT mime, media_id = ?1 AS is_file FROM message_media
            WHERE media_id = ?1 OR thumbnail_id = ?1 LIMIT 1
            "#,
        )
        .bind(media_id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            let is_file = r.try_get::<i64, _>("is_file")? != 0;
            let mime = if is_file {
                r.try_get("mime")?
            } else {
                "image/jpeg".to_string()
            };
            Ok((mime, is_file))
        })
        .transpose()
    }
}
