//! Delivery and read positions, ours and the other members', and the unread count they imply.

use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use natter_protocol::ReceiptKind;

use super::{uuid, Cache, PENDING_BASE};
use crate::error::Result;

impl Cache {
    /// Moves a member's delivery or read position forward.
    pub(crate) async fn apply_receipt(
        &self,
        conv: Uuid,
        user: Uuid,
        kind: ReceiptKind,
        seq: i64,
    ) -> Result<()> {
        let sql = match kind {
            ReceiptKind::Delivered => {
                "UPDATE members SET delivered_seq = MAX(delivered_seq, ?3) WHERE conversation_id = ?1 AND user_id = ?2"
            }
            ReceiptKind::Read => {
                "UPDATE members SET read_seq = MAX(read_seq, ?3), delivered_seq = MAX(delivered_seq, ?3) WHERE conversation_id = ?1 AND user_id = ?2"
            }
        };
        let mut tx = self.write.begin().await?;
        let moved = sqlx::query(sql)
            .bind(conv.to_string())
            .bind(user.to_string())
            .bind(seq)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved > 0 && kind == ReceiptKind::Read {
            // Read on another of our devices: the unread count follows.
            recount_unread(&mut tx, conv).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks everything stored in `conv` as read by `me`. Returns the new read position if it
    /// moved (it is also kept as pending until the server acknowledges it).
    pub(crate) async fn mark_read(&self, me: Uuid, conv: Uuid) -> Result<Option<i64>> {
        let mut tx = self.write.begin().await?;
        let top: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(seq) FROM messages WHERE conversation_id = ?1 AND seq IS NOT NULL",
        )
        .bind(conv.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let Some(top) = top else { return Ok(None) };
        let moved = sqlx::query(
            r#"
            UPDATE members SET read_seq = ?3, delivered_seq = MAX(delivered_seq, ?3), read_pending = ?3
            WHERE conversation_id = ?1 AND user_id = ?2 AND read_seq < ?3
            "#,
        )
        .bind(conv.to_string())
        .bind(me.to_string())
        .bind(top)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        recount_unread(&mut tx, conv).await?;
        tx.commit().await?;
        Ok((moved > 0).then_some(top))
    }

    /// Read positions the server has not acknowledged yet.
    pub(crate) async fn pending_reads(&self, me: Uuid) -> Result<Vec<(Uuid, i64)>> {
        let rows = sqlx::query(
            "SELECT conversation_id, read_pending FROM members WHERE user_id = ?1 AND read_pending > 0",
        )
        .bind(me.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((uuid(r, "conversation_id")?, r.try_get("read_pending")?)))
            .collect()
    }

    pub(crate) async fn clear_pending_read(&self, me: Uuid, conv: Uuid, seq: i64) -> Result<()> {
        sqlx::query(
            "UPDATE members SET read_pending = 0 WHERE conversation_id = ?1 AND user_id = ?2 AND read_pending <= ?3",
        )
        .bind(conv.to_string())
        .bind(me.to_string())
        .bind(seq)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}

/// Our own read position in `conv` (0 when signed out or not a member).
pub(super) async fn my_read_seq(tx: &mut Transaction<'_, Sqlite>, conv: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar(
        r#"
        SELECT COALESCE((SELECT m.read_seq FROM members m, session s
                         WHERE m.conversation_id = ?1 AND m.user_id = s.user_id), 0)
        "#,
    )
    .bind(conv.to_string())
    .fetch_one(&mut **tx)
    .await?)
}

/// Counts unread messages from scratch (only when our read position moved other than by
/// reading here, which simply zeroes the count).
pub(super) async fn recount_unread(tx: &mut Transaction<'_, Sqlite>, conv: Uuid) -> Result<()> {
    sqlx::query(
        r#"
        UPDATE conversations SET unread = (
            SELECT COUNT(*) FROM messages m, session s
            WHERE m.conversation_id = ?1 AND m.sender_id != s.user_id
              AND m.sort_key > COALESCE((SELECT read_seq FROM members
                                         WHERE conversation_id = ?1 AND user_id = s.user_id), 0)
              AND m.sort_key < ?2)
        WHERE id = ?1
        "#,
    )
    .bind(conv.to_string())
    .bind(PENDING_BASE)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
