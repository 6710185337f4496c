//! The outbox table: messages written here that the server has not acknowledged yet.

use sqlx::Row;
use uuid::Uuid;

use super::{uuid, Cache, OutboxItem};

/// A queued album whose files are not all on the server yet.
#[derive(Debug, Clone)]
pub(crate) struct UploadJob {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    pub attempts: i64,
    pub next_attempt_at: i64,
}
use crate::error::Result;

impl Cache {
    /// The oldest queued message ready to go: messages go out in the order they were
    /// written, so a retry never lets a later message overtake an earlier one, except that
    /// an album waits aside until the upload worker has put its files on the server.
    pub(crate) async fn outbox_head(&self) -> Result<Option<OutboxItem>> {
        let row = sqlx::query(
            r#"
            SELECT o.message_id, o.conversation_id, m.text, o.attempts, o.next_attempt_at,
                o.uploaded, m.voice_media_id, m.voice_waveform
            FROM outbox o JOIN messages m ON m.id = o.message_id
            WHERE o.uploaded = 1
               OR NOT EXISTS (SELECT 1 FROM message_media mm WHERE mm.message_id = o.message_id)
            ORDER BY o.rowid LIMIT 1
            "#,
        )
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let voice = match row.try_get::<Option<String>, _>("voice_media_id")? {
            Some(_) => Some(natter_protocol::VoiceAttachment {
                media_id: uuid(&row, "voice_media_id")?,
                waveform: row
                    .try_get::<Option<Vec<u8>>, _>("voice_waveform")?
                    .unwrap_or_default(),
            }),
            None => None,
        };
        Ok(Some(OutboxItem {
            message_id: uuid(&row, "message_id")?,
            conversation_id: uuid(&row, "conversation_id")?,
            text: row.try_get("text")?,
            voice,
            uploaded: row.try_get::<i64, _>("uploaded")? != 0,
            attempts: row.try_get("attempts")?,
            next_attempt_at: row.try_get("next_attempt_at")?,
        }))
    }

    /// The oldest queued album with files not yet on the server (the upload worker's next job).
    pub(crate) async fn upload_head(&self) -> Result<Option<UploadJob>> {
        let row = sqlx::query(
            r#"
            SELECT o.message_id, o.conversation_id, o.upload_attempts, o.upload_next_at
            FROM outbox o
            WHERE o.uploaded = 0
              AND EXISTS (SELECT 1 FROM message_media mm WHERE mm.message_id = o.message_id)
            ORDER BY o.rowid LIMIT 1
            "#,
        )
        .fetch_optional(&self.read)
        .await?;
        row.map(|row| {
            Ok(UploadJob {
                message_id: uuid(&row, "message_id")?,
                conversation_id: uuid(&row, "conversation_id")?,
                attempts: row.try_get("upload_attempts")?,
                next_attempt_at: row.try_get("upload_next_at")?,
            })
        })
        .transpose()
    }

    pub(crate) async fn upload_retry_later(
        &self,
        id: Uuid,
        attempts: i64,
        next_attempt_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET upload_attempts = ?2, upload_next_at = ?3 WHERE message_id = ?1",
        )
        .bind(id.to_string())
        .bind(attempts)
        .bind(next_attempt_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub async fn outbox_len(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&self.read)
            .await?)
    }

    pub(crate) async fn outbox_retry_later(
        &self,
        id: Uuid,
        attempts: i64,
        next_attempt_at: i64,
        error: &str,
        held: bool,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4, held_until = ?5
             WHERE message_id = ?1",
        )
        .bind(id.to_string())
        .bind(attempts)
        .bind(next_attempt_at)
        .bind(error)
        .bind(held.then_some(next_attempt_at))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The queued message's voice note, or every file of its album, is on the server.
    pub(crate) async fn outbox_uploaded(&self, id: Uuid) -> Result<()> {
        sqlx::query("UPDATE outbox SET uploaded = 1 WHERE message_id = ?1")
            .bind(id.to_string())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Makes every queued message due now (the connection just came back).
    pub(crate) async fn outbox_retry_now(&self) -> Result<()> {
        sqlx::query("UPDATE outbox SET next_attempt_at = 0, upload_next_at = 0")
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// The server refused the message for good: keep it, marked failed, out of the queue.
    pub(crate) async fn outbox_fail(&self, id: Uuid, error: &str) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE messages SET failed = ?2 WHERE id = ?1")
            .bind(id.to_string())
            .bind(error)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM outbox WHERE message_id = ?1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Puts a message the server refused back in the queue (at its end), clearing the
    /// refusal and its items' refusals. Returns whether there was such a message.
    pub(crate) async fn requeue_failed(&self, id: Uuid) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let conv: Option<String> = sqlx::query_scalar(
            "UPDATE messages SET failed = NULL WHERE id = ?1 AND seq IS NULL AND failed IS NOT NULL
            RETURNING conversation_id",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(conv) = conv else { return Ok(false) };
        sqlx::query("UPDATE message_media SET failed = NULL WHERE message_id = ?1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO outbox (message_id, conversation_id, next_attempt_at) VALUES (?1, ?2, 0)
            ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(conv)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// After an item was removed from a refused album: when no item is refused any more,
    /// the rest goes out. Returns whether it was queued again.
    pub(crate) async fn requeue_if_nothing_failed(&self, id: Uuid) -> Result<bool> {
        let failed_items: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM message_media WHERE message_id = ?1 AND failed IS NOT NULL",
        )
        .bind(id.to_string())
        .fetch_one(&self.read)
        .await?;
        if failed_items > 0 {
            return Ok(false);
        }
        self.requeue_failed(id).await
    }

    /// Deletes a message the server never accepted (still queued, or refused), with its
    /// outbox entry. Returns its conversation, or `None` if there was no such unsent message.
    pub(crate) async fn discard_unsent(&self, id: Uuid) -> Result<Option<Uuid>> {
        let conv: Option<String> = sqlx::query_scalar(
            "DELETE FROM messages WHERE id = ?1 AND seq IS NULL RETURNING conversation_id",
        )
        .bind(id.to_string())
        .fetch_optional(&self.write)
        .await?;
        conv.map(|c| {
            Uuid::parse_str(&c).map_err(|e| crate::error::CoreError::Storage(e.to_string()))
        })
        .transpose()
    }
}
