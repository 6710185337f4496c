//! The safety rules' records in the PostgreSQL store: filter choice, requests, blocks,
//! reports and rate-limit counts.

use async_trait::async_trait;
use natter_protocol::{Conversation, ErrorCode, Message, Report, UserSummary};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::conversations::load_conversation;
use super::{album, message_row, no_nul, PgStore, MESSAGE_SELECT};
use crate::error::{Error, Result};
use crate::store::{NewReport, SafetyStore};

/// `user_id` accepts the conversation (and sees it again if they had deleted the request).
pub(super) async fn accept(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    user_id: Uuid,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE members SET accepted = true, hidden = false
        WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// `sender_id` wrote in the conversation: writing back accepts a request, and a new message
/// brings a deleted request back to the other members' lists.
pub(super) async fn wrote(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    sender_id: Uuid,
) -> Result<()> {
    accept(conn, conversation_id, sender_id).await?;
    sqlx::query("UPDATE members SET hidden = false WHERE conversation_id = $1 AND hidden")
        .bind(conversation_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn times(rows: &[PgRow]) -> Result<Vec<i64>> {
    rows.iter()
        .map(|r| r.try_get::<i64, _>(0).map_err(Error::from))
        .collect()
}

fn conversation_kind(kind: Option<String>) -> Option<natter_protocol::ConversationKind> {
    match kind.as_deref() {
        Some("direct") => Some(natter_protocol::ConversationKind::Direct),
        Some("group") => Some(natter_protocol::ConversationKind::Group),
        _ => None,
    }
}

#[async_trait]
impl SafetyStore for PgStore {
    async fn nudity_choice(&self, user_id: Uuid) -> Result<Option<bool>> {
        let row = sqlx::query("SELECT nudity_filter FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<Option<bool>, _>(0))
            .transpose()?
            .flatten())
    }

    async fn set_nudity_choice(&self, user_id: Uuid, on: bool) -> Result<()> {
        sqlx::query("UPDATE users SET nudity_filter = $2 WHERE id = $1")
            .bind(user_id)
            .bind(on)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn accept_request(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<Conversation>> {
        let mut tx = self.pool.begin().await?;
        if !accept(&mut tx, conversation_id, user_id).await? {
            return Ok(None);
        }
        let conversation = load_conversation(&mut tx, conversation_id).await?;
        tx.commit().await?;
        Ok(conversation)
    }

    async fn hide_conversation(&self, conversation_id: Uuid, user_id: Uuid) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE members SET hidden = true WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn block(&self, blocker: Uuid, blocked: Uuid, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(blocker)
        .bind(blocked)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn unblock(&self, blocker: Uuid, blocked: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
            .bind(blocker)
            .bind(blocked)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// By username in byte order (`COLLATE "C"`), as SQLite orders text, whatever the
    /// database's locale would make of `_` and `.`.
    async fn blocked_by(&self, blocker: Uuid) -> Result<Vec<UserSummary>> {
        let rows = sqlx::query(
            "SELECT u.id, u.username FROM blocks AS b JOIN users AS u ON u.id = b.blocked_id
             WHERE b.blocker_id = $1 ORDER BY u.username COLLATE \"C\"",
        )
        .bind(blocker)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UserSummary {
                    id: r.try_get("id")?,
                    username: r.try_get("username")?,
                })
            })
            .collect()
    }

    async fn blocks_with(&self, user: Uuid, others: &[Uuid]) -> Result<Vec<Uuid>> {
        if others.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "
            SELECT blocked_id AS other FROM blocks
            WHERE blocker_id = $1 AND blocked_id = ANY($2)
            UNION
            SELECT blocker_id AS other FROM blocks
            WHERE blocked_id = $1 AND blocker_id = ANY($2)",
        )
        .bind(user)
        .bind(others)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("other"))
            .collect::<Result<_, _>>()?)
    }

    async fn insert_report(&self, report: NewReport) -> Result<()> {
        no_nul(
            &report.reason,
            ErrorCode::InvalidReport,
            "a report's reason",
        )?;
        let messages = serde_json::to_string(&report.messages).map_err(Error::internal)?;
        sqlx::query(
            "
            INSERT INTO reports
                (id, reporter_id, reported_id, conversation_id, reason, messages, created_at)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
        )
        .bind(report.id)
        .bind(report.reporter_id)
        .bind(report.reported_id)
        .bind(report.conversation_id)
        .bind(&report.reason)
        .bind(messages)
        .bind(report.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn reports(&self) -> Result<Vec<Report>> {
        let rows = sqlx::query(
            "
            SELECT r.id, a.username AS reporter, b.username AS reported, r.conversation_id,
                c.kind AS conversation_kind, c.name AS conversation_name,
                r.reason, r.messages::text AS messages, r.created_at
            FROM reports AS r
            JOIN users AS a ON a.id = r.reporter_id
            JOIN users AS b ON b.id = r.reported_id
            LEFT JOIN conversations AS c ON c.id = r.conversation_id
            ORDER BY r.created_at, r.added",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let messages: String = r.try_get("messages")?;
                Ok(Report {
                    id: r.try_get("id")?,
                    reporter: r.try_get("reporter")?,
                    reported: r.try_get("reported")?,
                    conversation_id: r.try_get("conversation_id")?,
                    conversation_kind: conversation_kind(r.try_get("conversation_kind")?),
                    conversation_name: r
                        .try_get::<Option<String>, _>("conversation_name")?
                        .filter(|n| !n.is_empty()),
                    reason: r.try_get("reason")?,
                    messages: serde_json::from_str(&messages).map_err(Error::internal)?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn messages_for_report(
        &self,
        conversation_id: Uuid,
        ids: &[Uuid],
        sender_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let mut conn = self.pool.acquire().await?;
        let rows = if ids.is_empty() {
            let sql = format!(
                "{MESSAGE_SELECT}
                WHERE m.conversation_id = $1 AND m.sender_id = $2 AND m.event IS NULL
                ORDER BY m.seq DESC LIMIT $3"
            );
            let mut rows = sqlx::query(&sql)
                .bind(conversation_id)
                .bind(sender_id)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
            rows.reverse();
            rows
        } else {
            let sql = format!(
                "{MESSAGE_SELECT}
                WHERE m.conversation_id = $1 AND m.id = ANY($2)
                ORDER BY m.seq ASC"
            );
            sqlx::query(&sql)
                .bind(conversation_id)
                .bind(ids)
                .fetch_all(&mut *conn)
                .await?
        };
        let mut messages = rows.iter().map(message_row).collect::<Result<Vec<_>>>()?;
        album::fill_albums(&mut conn, &mut messages).await?;
        Ok(messages)
    }

    async fn directs_started_since(&self, creator_id: Uuid, since: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT created_at FROM conversations
             WHERE creator_id = $1 AND kind = 'direct' AND created_at >= $2 ORDER BY created_at",
        )
        .bind(creator_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        times(&rows)
    }

    async fn direct_between(&self, a: Uuid, b: Uuid) -> Result<Option<Uuid>> {
        let key = format!("{}:{}", a.min(b), a.max(b));
        let row = sqlx::query("SELECT id FROM conversations WHERE direct_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    async fn message_exists(&self, id: Uuid) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}
