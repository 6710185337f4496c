//! Albums and resumable uploads in the SQLite store: the items a message carries, checking
//! that every item is the sender's own finished upload, and uploads in progress.

use std::collections::HashMap;

use natter_protocol::limits::{THUMB_MAX_BYTES, THUMB_MAX_EDGE};
use natter_protocol::{ErrorCode, MediaAttachment, MediaItem, MediaKind, Message};
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::{media_kind, uuid_col, SqliteStore};
use crate::error::{Error, Result};
use crate::store::UploadState;

/// Fills `media` of each message from `album_items` (one query for the whole page).
pub(super) async fn fill_albums(
    conn: &mut SqliteConnection,
    messages: &mut [Message],
) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let ids = serde_json::to_string(
        &messages
            .iter()
            .map(|m| m.id.to_string())
            .collect::<Vec<_>>(),
    )
    .map_err(Error::internal)?;
    let rows = sqlx::query(
        "
        SELECT ai.message_id, ai.media_id, ai.thumbnail_id, ai.blurhash,
            md.kind, md.content_type, md.width, md.height, md.size, md.duration_ms,
            md.explicit OR th.explicit AS explicit
        FROM album_items AS ai
        JOIN media AS md ON md.id = ai.media_id
        JOIN media AS th ON th.id = ai.thumbnail_id
        WHERE ai.message_id IN (SELECT value FROM json_each(?1))
        ORDER BY ai.message_id, ai.position",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut albums: HashMap<Uuid, Vec<MediaItem>> = HashMap::new();
    for row in &rows {
        albums
            .entry(uuid_col(row, "message_id")?)
            .or_default()
            .push(MediaItem {
                media_id: uuid_col(row, "media_id")?,
                thumbnail_id: uuid_col(row, "thumbnail_id")?,
                kind: media_kind(&row.try_get::<String, _>("kind")?)?,
                content_type: row.try_get("content_type")?,
                width: row.try_get("width")?,
                height: row.try_get("height")?,
                size: row.try_get("size")?,
                duration_ms: row.try_get("duration_ms")?,
                blurhash: row.try_get("blurhash")?,
                explicit: row.try_get("explicit")?,
            });
    }
    for message in messages {
        message.media = albums.remove(&message.id).unwrap_or_default();
    }
    Ok(())
}

/// Checks that every item is a finished upload of the sender's (a photo or video) with a
/// small photo as its thumbnail. Reads only: a refusal leaves nothing to undo.
pub(super) async fn check_album(
    conn: &mut SqliteConnection,
    sender_id: Uuid,
    items: &[MediaAttachment],
) -> Result<()> {
    for (position, item) in items.iter().enumerate() {
        let owned = |id: Uuid| {
            sqlx::query(
                "SELECT kind, width, height, size FROM media WHERE id = ?1 AND owner_id = ?2",
            )
            .bind(id.to_string())
            .bind(sender_id.to_string())
        };
        let not_uploaded = || {
            Error::api(
                ErrorCode::MediaNotFound,
                format!(
                    "item {} of the album was not uploaded by you: upload every photo, video \
                     and thumbnail before sending",
                    position + 1
                ),
            )
        };
        let Some(main) = owned(item.media_id).fetch_optional(&mut *conn).await? else {
            return Err(not_uploaded());
        };
        let kind = media_kind(&main.try_get::<String, _>("kind")?)?;
        if kind == MediaKind::Voice {
            return Err(Error::api(
                ErrorCode::BadRequest,
                "a voice note is sent on its own, not in an album",
            ));
        }
        let Some(thumb) = owned(item.thumbnail_id).fetch_optional(&mut *conn).await? else {
            return Err(not_uploaded());
        };
        let thumb_kind = media_kind(&thumb.try_get::<String, _>("kind")?)?;
        let (w, h, size): (u32, u32, u32) = (
            thumb.try_get("width")?,
            thumb.try_get("height")?,
            thumb.try_get("size")?,
        );
        if thumb_kind != MediaKind::Image
            || w.max(h) > THUMB_MAX_EDGE
            || size as usize > THUMB_MAX_BYTES
        {
            return Err(Error::api(
                ErrorCode::InvalidImage,
                format!(
                    "the thumbnail of item {} must be a photo of at most {THUMB_MAX_EDGE} px \
                     and {} KiB",
                    position + 1,
                    THUMB_MAX_BYTES / 1024
                ),
            ));
        }
    }
    Ok(())
}

/// Records the album of `message_id`, checked by [`check_album`].
pub(super) async fn insert_album(
    conn: &mut SqliteConnection,
    message_id: Uuid,
    items: &[MediaAttachment],
) -> sqlx::Result<()> {
    for (position, item) in items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO album_items (message_id, position, media_id, thumbnail_id, blurhash)
            VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(message_id.to_string())
        .bind(position as i64)
        .bind(item.media_id.to_string())
        .bind(item.thumbnail_id.to_string())
        .bind(&item.blurhash)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn upload_row(row: &sqlx::sqlite::SqliteRow) -> Result<UploadState> {
    Ok(UploadState {
        owner_id: uuid_col(row, "owner_id")?,
        length: u64::try_from(row.try_get::<i64, _>("length")?).unwrap_or(0),
        received: u64::try_from(row.try_get::<i64, _>("received")?).unwrap_or(0),
    })
}

impl SqliteStore {
    pub(super) async fn upload_by_id(&self, id: Uuid) -> Result<Option<UploadState>> {
        let row = sqlx::query("SELECT owner_id, length, received FROM uploads WHERE id = ?1")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(upload_row).transpose()
    }

    pub(super) async fn upload_begin(
        &self,
        id: Uuid,
        owner_id: Uuid,
        length: u64,
        now: i64,
    ) -> Result<UploadState> {
        let row = sqlx::query(
            "
            INSERT INTO uploads (id, owner_id, length, received, created_at, updated_at)
            VALUES (?1, ?2, ?3, 0, ?4, ?4)
            ON CONFLICT (id) DO UPDATE SET updated_at = updated_at
            RETURNING owner_id, length, received",
        )
        .bind(id.to_string())
        .bind(owner_id.to_string())
        .bind(i64::try_from(length).unwrap_or(i64::MAX))
        .bind(now)
        .fetch_one(&self.writer)
        .await?;
        upload_row(&row)
    }

    pub(super) async fn upload_progress(&self, id: Uuid, received: u64, now: i64) -> Result<()> {
        sqlx::query("UPDATE uploads SET received = ?2, updated_at = ?3 WHERE id = ?1")
            .bind(id.to_string())
            .bind(i64::try_from(received).unwrap_or(i64::MAX))
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub(super) async fn uploads_untouched_since(&self, before: i64) -> Result<Vec<Uuid>> {
        let rows = sqlx::query("SELECT id FROM uploads WHERE updated_at < ?1")
            .bind(before)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(|r| uuid_col(r, "id")).collect()
    }

    pub(super) async fn upload_end(&self, id: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM uploads WHERE id = ?1")
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub(super) async fn upload_claim(
        &self,
        id: Uuid,
        holder: Uuid,
        now: i64,
        until: i64,
    ) -> Result<bool> {
        // Inserted, or taken over from a claim that ran out; a running one is left alone.
        let done = sqlx::query(
            "
            INSERT INTO upload_claims (upload_id, holder, expires_at) VALUES (?1, ?2, ?4)
            ON CONFLICT (upload_id) DO UPDATE
                SET holder = excluded.holder, expires_at = excluded.expires_at
                WHERE upload_claims.expires_at <= ?3",
        )
        .bind(id.to_string())
        .bind(holder.to_string())
        .bind(now)
        .bind(until)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn upload_claim_renew(
        &self,
        id: Uuid,
        holder: Uuid,
        until: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE upload_claims SET expires_at = ?3 WHERE upload_id = ?1 AND holder = ?2",
        )
        .bind(id.to_string())
        .bind(holder.to_string())
        .bind(until)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn upload_claim_release(&self, id: Uuid, holder: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM upload_claims WHERE upload_id = ?1 AND holder = ?2")
            .bind(id.to_string())
            .bind(holder.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
