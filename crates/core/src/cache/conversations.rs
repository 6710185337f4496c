//! Conversations in the cache: stored as the server sees them, listed with their unread counts and last message.

use natter_protocol::{Conversation, ConversationKind};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::receipts::{my_read_seq, recount_unread};
use super::{kind_str, uuid, Cache};
use crate::error::Result;
use crate::views::{ConversationView, MediaReminder};

impl Cache {
    /// Stores conversations and their members as the server sees them.
    pub async fn upsert_conversations(&self, convs: &[Conversation]) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for c in convs {
            sqlx::query(
                r#"
                INSERT INTO conversations (id, kind, name, creator_id, created_at, last_seq, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5)
                ON CONFLICT (id) DO UPDATE SET
                    name = excluded.name,
                    last_seq = MAX(conversations.last_seq, excluded.last_seq)
                "#,
            )
            .bind(c.id.to_string())
            .bind(kind_str(c.kind))
            .bind(&c.name)
            .bind(c.creator_id.to_string())
            .bind(c.created_at)
            .bind(c.last_seq)
            .execute(&mut *tx)
            .await?;
            let my_read_before = my_read_seq(&mut tx, c.id).await?;
            let mut keep = Vec::with_capacity(c.members.len());
            for m in &c.members {
                keep.push(m.user_id.to_string());
                sqlx::query(
                    r#"
                    INSERT INTO members
                        (conversation_id, user_id, username, delivered_seq, read_seq, accepted,
                         invited_by)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                    ON CONFLICT (conversation_id, user_id) DO UPDATE SET
                        username = excluded.username,
                        accepted = excluded.accepted,
                        invited_by = excluded.invited_by,
                        delivered_seq = MAX(members.delivered_seq, excluded.delivered_seq),
                        read_seq = MAX(members.read_seq, excluded.read_seq)
                    "#,
                )
                .bind(c.id.to_string())
                .bind(m.user_id.to_string())
                .bind(&m.username)
                .bind(m.delivered_seq)
                .bind(m.read_seq)
                .bind(m.accepted)
                .bind(m.invited_by.map(|id| id.to_string()))
                .execute(&mut *tx)
                .await?;
            }
            let existing: Vec<String> =
                sqlx::query_scalar("SELECT user_id FROM members WHERE conversation_id = ?1")
                    .bind(c.id.to_string())
                    .fetch_all(&mut *tx)
                    .await?;
            for gone in existing.iter().filter(|u| !keep.contains(u)) {
                sqlx::query("DELETE FROM members WHERE conversation_id = ?1 AND user_id = ?2")
                    .bind(c.id.to_string())
                    .bind(gone)
                    .execute(&mut *tx)
                    .await?;
            }
            if my_read_seq(&mut tx, c.id).await? != my_read_before {
                recount_unread(&mut tx, c.id).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn conversation_ids(&self) -> Result<Vec<Uuid>> {
        let rows = sqlx::query("SELECT id FROM conversations")
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| uuid(r, "id")).collect()
    }

    /// `(synced_seq, last_seq)`: what is stored contiguously and what the server last said.
    pub(crate) async fn sync_positions(&self, conv: Uuid) -> Result<Option<(i64, i64)>> {
        let row = sqlx::query("SELECT synced_seq, last_seq FROM conversations WHERE id = ?1")
            .bind(conv.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// The direct conversation with `username`, if cached.
    pub async fn direct_with(&self, me: Uuid, username: &str) -> Result<Option<Uuid>> {
        let row = sqlx::query(
            r#"
            SELECT c.id FROM conversations c
            JOIN members m ON m.conversation_id = c.id
            WHERE c.kind = 'direct' AND m.username = ?1 AND m.user_id != ?2
            "#,
        )
        .bind(username.to_lowercase())
        .bind(me.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| uuid(&r, "id")).transpose()
    }

    pub async fn conversation(&self, me: Uuid, id: Uuid) -> Result<Option<ConversationView>> {
        let row = sqlx::query(
            "SELECT id, kind, name, creator_id, updated_at, unread, media_reminder_off FROM conversations WHERE id = ?1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        match row {
            Some(row) => Ok(Some(self.conversation_view(me, &row).await?)),
            None => Ok(None),
        }
    }

    /// Every cached conversation (message requests included), newest activity first.
    pub async fn conversations(&self, me: Uuid) -> Result<Vec<ConversationView>> {
        let rows = sqlx::query(
            "SELECT id, kind, name, creator_id, updated_at, unread, media_reminder_off FROM conversations ORDER BY updated_at DESC",
        )
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.conversation_view(me, row).await?);
        }
        Ok(out)
    }

    async fn conversation_view(&self, me: Uuid, row: &SqliteRow) -> Result<ConversationView> {
        let id = uuid(row, "id")?;
        let kind = match row.try_get::<String, _>("kind")?.as_str() {
            "group" => ConversationKind::Group,
            _ => ConversationKind::Direct,
        };
        let members: Vec<(String, String, bool, Option<String>)> = sqlx::query_as(
            "SELECT m.user_id, m.username, m.accepted,
                (SELECT i.username FROM members AS i
                 WHERE i.conversation_id = m.conversation_id AND i.user_id = m.invited_by)
            FROM members AS m WHERE m.conversation_id = ?1 ORDER BY m.username",
        )
        .bind(id.to_string())
        .fetch_all(&self.read)
        .await?;
        let me_s = me.to_string();
        let title = match kind {
            ConversationKind::Group => row
                .try_get::<Option<String>, _>("name")?
                .unwrap_or_default(),
            ConversationKind::Direct => members
                .iter()
                .find(|m| m.0 != me_s)
                .map(|m| m.1.clone())
                .unwrap_or_default(),
        };
        let last_message = self.messages(me, id, None, 1).await?.pop();
        let updated_at: i64 = row.try_get("updated_at")?;
        let band = self.my_age_band().await?;
        let media_reminder = MediaReminder {
            show: natter_protocol::policy::reminder_needed(
                band,
                row.try_get::<i64, _>("media_reminder_off")? != 0,
            ),
            can_turn_off: band.is_adult(),
        };
        let media_blocked = match self.conversation_facts(me, id).await? {
            Some(facts) => natter_protocol::policy::content_rule(
                natter_protocol::policy::Content::Media,
                facts,
            )
            .err(),
            None => None,
        };
        let (request, blocked) = self.request_and_block(me, id).await?;
        let group = kind == ConversationKind::Group;
        let mine = members.iter().find(|m| m.0 == me_s);
        // A group this account is only invited to is a request too, beside direct ones.
        let invitation = group && mine.is_some_and(|m| !m.2);
        let invited_by = if invitation {
            mine.and_then(|m| m.3.clone())
        } else {
            None
        };
        let invited = if group {
            members
                .iter()
                .filter(|m| !m.2)
                .map(|m| m.1.clone())
                .collect()
        } else {
            Vec::new()
        };
        let creator: String = row.try_get("creator_id")?;
        let admin = if group {
            members.iter().find(|m| m.0 == creator).map(|m| m.1.clone())
        } else {
            None
        };
        Ok(ConversationView {
            id,
            kind,
            title,
            invited,
            invited_by,
            members: members.into_iter().map(|m| m.1).collect(),
            is_creator: creator == me_s,
            admin,
            updated_at: last_message
                .as_ref()
                .map_or(updated_at, |m| m.sent_at.max(updated_at)),
            last_message,
            unread: row.try_get("unread")?,
            media_blocked,
            media_reminder,
            request: (request && kind == ConversationKind::Direct) || invitation,
            blocked: blocked && kind == ConversationKind::Direct,
        })
    }
}
