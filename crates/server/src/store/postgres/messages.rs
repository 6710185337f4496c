//! Messages and receipts in the PostgreSQL store: `seq` allocation, idempotent re-sends,
//! history pages, receipts that only move forward.

use natter_protocol::{ErrorCode, Message, ReceiptKind};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::conversations::is_member;
use super::{album, message_row, no_nul, safety, PgStore, MESSAGE_SELECT};
use crate::error::{Error, Result};
use crate::store::{resend_outcome, HistoryPage, NewMessage, Outcome};

/// The stored message `id` with its album, if any.
async fn stored_message(conn: &mut PgConnection, id: Uuid) -> Result<Option<Message>> {
    let sql = format!("{MESSAGE_SELECT} WHERE m.id = $1");
    let Some(row) = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut stored = [message_row(&row)?];
    album::fill_albums(conn, &mut stored).await?;
    let [stored] = stored;
    Ok(Some(stored))
}

/// The advisory-lock key that serialises one sender's message inserts: the two halves of
/// their id folded together (a collision only makes two senders take turns).
fn sender_lock_key(sender: Uuid) -> i64 {
    let bits = sender.as_u128();
    ((bits >> 64) as u64 ^ bits as u64) as i64
}

impl PgStore {
    /// The transaction's first write bumps `last_seq`, which locks the conversation's row
    /// until commit or rollback: inserts into one conversation, from any instance, take
    /// turns, each sees the previous one's message, and a refused insert rolls its number
    /// back. A message id already stored (checked under that lock, so a concurrent re-send
    /// into the same conversation is seen) is a re-send or a conflict; the insert itself is
    /// `ON CONFLICT (id) DO NOTHING` for the same id racing in from another conversation.
    #[tracing::instrument(name = "insert_message", skip_all)]
    ///
    /// The sender's message limit is counted after that, under a transaction-scoped advisory
    /// lock on the sender taken first thing (so always before the conversation's row: no lock
    /// cycle): a sender's inserts into any conversation, from any instance, take turns, and
    /// each counts the ones committed before it.
    pub(super) async fn message_insert(&self, message: NewMessage) -> Result<Outcome<Message>> {
        let mut tx = self.pool.begin().await?;
        if message.rate.is_some() {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(sender_lock_key(message.sender_id))
                .execute(&mut *tx)
                .await?;
        }
        if !is_member(&mut tx, message.conversation_id, message.sender_id).await? {
            return Err(Error::conversation_not_found());
        }
        let seq: i64 = sqlx::query(
            "
            UPDATE conversations
            SET last_seq = last_seq + 1, last_activity_at = $2
            WHERE id = $1
            RETURNING last_seq",
        )
        .bind(message.conversation_id)
        .bind(message.sent_at)
        .fetch_one(&mut *tx)
        .await?
        .try_get("last_seq")?;
        if let Some(stored) = stored_message(&mut tx, message.id).await? {
            tx.rollback().await?;
            return resend_outcome(stored, &message);
        }
        if let Some(window) = message.rate {
            let times: Vec<i64> = sqlx::query_scalar(
                "SELECT sent_at FROM messages WHERE sender_id = $1 AND sent_at >= $2
                 ORDER BY sent_at",
            )
            .bind(message.sender_id)
            .bind(window.start(message.sent_at))
            .fetch_all(&mut *tx)
            .await?;
            if let Some(wait) = window.wait(&times, message.sent_at) {
                tx.rollback().await?;
                tracing::warn!(user_id = %message.sender_id, sent = times.len(), "message rate limit reached");
                return Err(crate::rate::messages_too_fast(wait).into());
            }
        }
        no_nul(&message.text, ErrorCode::InvalidText, "a message")?;
        if let Some(voice) = &message.voice {
            let owned = sqlx::query("SELECT 1 FROM media WHERE id = $1 AND owner_id = $2")
                .bind(voice.media_id)
                .bind(message.sender_id)
                .fetch_optional(&mut *tx)
                .await?;
            if owned.is_none() {
                return Err(Error::api(
                    ErrorCode::MediaNotFound,
                    "upload the voice note before sending it",
                ));
            }
        }
        let inserted = sqlx::query(
            "
            INSERT INTO messages (id, conversation_id, seq, sender_id, text, sent_at,
                voice_media_id, voice_waveform)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (id) DO NOTHING",
        )
        .bind(message.id)
        .bind(message.conversation_id)
        .bind(seq)
        .bind(message.sender_id)
        .bind(&message.text)
        .bind(message.sent_at)
        .bind(message.voice.as_ref().map(|v| v.media_id))
        .bind(message.voice.as_ref().map(|v| v.waveform.as_slice()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // Another conversation's insert of this id committed meanwhile.
            tx.rollback().await?;
            let mut conn = self.pool.acquire().await?;
            let stored = stored_message(&mut conn, message.id)
                .await?
                .ok_or_else(|| {
                    anyhow::anyhow!("message {} conflicted but is not stored", message.id)
                })?;
            return resend_outcome(stored, &message);
        }
        album::insert_album(&mut tx, message.id, message.sender_id, &message.media).await?;
        sqlx::query(
            "
            UPDATE members
            SET delivered_seq = GREATEST(delivered_seq, $3), read_seq = GREATEST(read_seq, $3)
            WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(message.conversation_id)
        .bind(message.sender_id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        safety::wrote(&mut tx, message.conversation_id, message.sender_id).await?;
        let stored = stored_message(&mut tx, message.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("message vanished inside its transaction"))?;
        tx.commit().await?;
        Ok(Outcome::Created(stored))
    }

    pub(super) async fn history_page(
        &self,
        conversation_id: Uuid,
        page: HistoryPage,
    ) -> Result<Vec<Message>> {
        let mut conn = self.pool.acquire().await?;
        let rows = match page {
            HistoryPage::After { after_seq, limit } => {
                let sql = format!(
                    "{MESSAGE_SELECT}
                    WHERE m.conversation_id = $1 AND m.seq > $2
                    ORDER BY m.seq ASC
                    LIMIT $3"
                );
                sqlx::query(&sql)
                    .bind(conversation_id)
                    .bind(after_seq)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *conn)
                    .await?
            }
            HistoryPage::Before {
                after_seq,
                before_seq,
                limit,
            } => {
                let sql = format!(
                    "{MESSAGE_SELECT}
                    WHERE m.conversation_id = $1 AND m.seq > $2 AND m.seq < $3
                    ORDER BY m.seq DESC
                    LIMIT $4"
                );
                let mut rows = sqlx::query(&sql)
                    .bind(conversation_id)
                    .bind(after_seq)
                    .bind(before_seq)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *conn)
                    .await?;
                rows.reverse();
                rows
            }
        };
        let mut messages = rows.iter().map(message_row).collect::<Result<Vec<_>>>()?;
        album::fill_albums(&mut conn, &mut messages).await?;
        Ok(messages)
    }

    /// The member's row is read `FOR UPDATE`: two receipts for one member (from two devices
    /// on two instances) take turns, and the second compares against the first's result, so
    /// a position never moves back and each move is reported once.
    #[tracing::instrument(name = "update_receipt", skip_all)]
    pub(super) async fn receipt_update(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        kind: ReceiptKind,
        up_to_seq: i64,
    ) -> Result<Vec<(ReceiptKind, i64)>> {
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query(
            "
            SELECT c.last_seq, m.delivered_seq, m.read_seq
            FROM members AS m
            JOIN conversations AS c ON c.id = m.conversation_id
            WHERE m.conversation_id = $1 AND m.user_id = $2
            FOR UPDATE OF m",
        )
        .bind(conversation_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Err(Error::conversation_not_found());
        };
        let last_seq: i64 = row.try_get("last_seq")?;
        let delivered: i64 = row.try_get("delivered_seq")?;
        let read: i64 = row.try_get("read_seq")?;
        let target = up_to_seq.clamp(0, last_seq);
        let new_delivered = delivered.max(target);
        let new_read = match kind {
            ReceiptKind::Read => read.max(target),
            ReceiptKind::Delivered => read,
        };
        let mut moved = Vec::new();
        if new_delivered > delivered {
            moved.push((ReceiptKind::Delivered, new_delivered));
        }
        if new_read > read {
            moved.push((ReceiptKind::Read, new_read));
        }
        if !moved.is_empty() {
            sqlx::query(
                "
                UPDATE members SET delivered_seq = $3, read_seq = $4
                WHERE conversation_id = $1 AND user_id = $2",
            )
            .bind(conversation_id)
            .bind(user_id)
            .bind(new_delivered)
            .bind(new_read)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(moved)
    }
}
