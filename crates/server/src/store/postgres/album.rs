//! Albums and resumable uploads in the PostgreSQL store: the items a message carries,
//! checking that every item is the sender's own finished upload, and uploads in progress.

use std::collections::HashMap;

use natter_protocol::limits::{THUMB_MAX_BYTES, THUMB_MAX_EDGE};
use natter_protocol::{ErrorCode, MediaAttachment, MediaItem, MediaKind, Message};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{media_kind, u32_col, PgStore};
use crate::error::{Error, Result};
use crate::store::UploadState;

/// Fills `media` of each message from `album_items` (one query for the whole page).
pub(super) async fn fill_albums(conn: &mut PgConnection, messages: &mut [Message]) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = messages.iter().map(|m| m.id).collect();
    let rows = sqlx::query(
        "
        SELECT ai.message_id, ai.media_id, ai.thumbnail_id, ai.blurhash,
            md.kind, md.content_type, md.width, md.height, md.size, md.duration_ms,
            md.explicit OR th.explicit AS explicit
        FROM album_items AS ai
        JOIN media AS md ON md.id = ai.media_id
        JOIN media AS th ON th.id = ai.thumbnail_id
        WHERE ai.message_id = ANY($1)
        ORDER BY ai.message_id, ai.position",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut albums: HashMap<Uuid, Vec<MediaItem>> = HashMap::new();
    for row in &rows {
        albums
            .entry(row.try_get("message_id")?)
            .or_default()
            .push(MediaItem {
                media_id: row.try_get("media_id")?,
                thumbnail_id: row.try_get("thumbnail_id")?,
                kind: media_kind(&row.try_get::<String, _>("kind")?)?,
                content_type: row.try_get("content_type")?,
                width: u32_col(row, "width")?,
                height: u32_col(row, "height")?,
                size: u32_col(row, "size")?,
                duration_ms: u32_col(row, "duration_ms")?,
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
/// small photo as its thumbnail, then records the album under `message_id`.
pub(super) async fn insert_album(
    conn: &mut PgConnection,
    message_id: Uuid,
    sender_id: Uuid,
    items: &[MediaAttachment],
) -> Result<()> {
    for (position, item) in items.iter().enumerate() {
        let owned = |id: Uuid| {
            sqlx::query(
                "SELECT kind, width, height, size FROM media WHERE id = $1 AND owner_id = $2",
            )
            .bind(id)
            .bind(sender_id)
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
        let (w, h, size) = (
            u32_col(&thumb, "width")?,
            u32_col(&thumb, "height")?,
            u32_col(&thumb, "size")?,
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
        sqlx::query(
            "INSERT INTO album_items (message_id, position, media_id, thumbnail_id, blurhash)
            VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(message_id)
        .bind(i32::try_from(position).map_err(Error::internal)?)
        .bind(item.media_id)
        .bind(item.thumbnail_id)
        .bind(&item.blurhash)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn upload_row(row: &PgRow) -> Result<UploadState> {
    Ok(UploadState {
        owner_id: row.try_get("owner_id")?,
        length: u64::try_from(row.try_get::<i64, _>("length")?).unwrap_or(0),
        received: u64::try_from(row.try_get::<i64, _>("received")?).unwrap_or(0),
    })
}

impl PgStore {
    pub(super) async fn upload_by_id(&self, id: Uuid) -> Result<Option<UploadState>> {
        let row = sqlx::query("SELECT owner_id, length, received FROM uploads WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(upload_row).transpose()
    }

    /// One statement: of two instances beginning the same upload, the second's insert waits
    /// for the first and returns its row unchanged (the no-op update makes it returnable).
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
            VALUES ($1, $2, $3, 0, $4, $4)
            ON CONFLICT (id) DO UPDATE SET updated_at = uploads.updated_at
            RETURNING owner_id, length, received",
        )
        .bind(id)
        .bind(owner_id)
        .bind(i64::try_from(length).unwrap_or(i64::MAX))
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        upload_row(&row)
    }

    pub(super) async fn upload_progress(&self, id: Uuid, received: u64, now: i64) -> Result<()> {
        sqlx::query("UPDATE uploads SET received = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(i64::try_from(received).unwrap_or(i64::MAX))
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn uploads_untouched_since(&self, before: i64) -> Result<Vec<Uuid>> {
        let rows = sqlx::query("SELECT id FROM uploads WHERE updated_at < $1")
            .bind(before)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?)
    }

    pub(super) async fn upload_end(&self, id: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
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
            INSERT INTO upload_claims (upload_id, holder, expires_at) VALUES ($1, $2, $4)
            ON CONFLICT (upload_id) DO UPDATE
                SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
                WHERE upload_claims.expires_at <= $3",
        )
        .bind(id)
        .bind(holder)
        .bind(now)
        .bind(until)
        .execute(&self.pool)
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
            "UPDATE upload_claims SET expires_at = $3 WHERE upload_id = $1 AND holder = $2",
        )
        .bind(id)
        .bind(holder)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn upload_claim_release(&self, id: Uuid, holder: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM upload_claims WHERE upload_id = $1 AND holder = $2")
            .bind(id)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
