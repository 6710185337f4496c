//! Group membership in the PostgreSQL store: invitations, joining, leaving, removal,
//! renaming, and the history lines these write. A line takes its `seq` from the same
//! `last_seq` bump as a message, under the conversation's row lock, so lines and messages
//! written by different instances at once still get one place each.

use async_trait::async_trait;
use natter_protocol::{Conversation, ConversationKind, ErrorCode, GroupEvent, Message};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::conversations::load_conversation;
use super::{no_nul, PgStore};
use crate::error::Result;
use crate::store::{GroupStore, Membership};

/// Records that inviting `invitee` counted as one of `inviter`'s new conversations.
pub(super) async fn record_invite(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    inviter: Uuid,
    invitee: Uuid,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO group_invites (inviter_id, invitee_id, conversation_id, created_at)
        VALUES ($1, $2, $3, $4)",
    )
    .bind(inviter)
    .bind(invitee)
    .bind(conversation_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes `event` as the group's next message, from `actor_id`.
async fn append_event(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    actor_id: Uuid,
    event: GroupEvent,
    now: i64,
) -> Result<Message> {
    let seq: i64 = sqlx::query(
        "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = $2
        WHERE id = $1 RETURNING last_seq",
    )
    .bind(conversation_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?
    .try_get("last_seq")?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, seq, sender_id, text, sent_at, event)
        VALUES ($1, $2, $3, $4, '', $5, $6)",
    )
    .bind(id)
    .bind(conversation_id)
    .bind(seq)
    .bind(actor_id)
    .bind(now)
    .bind(sqlx::types::Json(&event))
    .execute(&mut *conn)
    .await?;
    let sender: String = sqlx::query("SELECT username FROM users WHERE id = $1")
        .bind(actor_id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("username")?;
    Ok(Message {
        id,
        conversation_id,
        seq,
        sender_id: actor_id,
        sender,
        text: String::new(),
        sent_at: now,
        voice: None,
        played_by: Vec::new(),
        media: Vec::new(),
        withheld: None,
        event: Some(event),
    })
}

fn loaded(conversation: Option<Conversation>) -> Result<Conversation> {
    conversation.ok_or_else(|| anyhow::anyhow!("group vanished inside its transaction").into())
}

#[async_trait]
impl GroupStore for PgStore {
    async fn membership(&self, conversation_id: Uuid, user_id: Uuid) -> Result<Option<Membership>> {
        let row = sqlx::query(
            "
            SELECT c.kind, c.creator_id, mb.accepted,
                ARRAY(SELECT o.user_id FROM members AS o
                      WHERE o.conversation_id = c.id) AS members
            FROM conversations AS c
            JOIN members AS mb ON mb.conversation_id = c.id AND mb.user_id = $2
            WHERE c.id = $1",
        )
        .bind(conversation_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let kind = if row.try_get::<String, _>("kind")? == "group" {
            ConversationKind::Group
        } else {
            ConversationKind::Direct
        };
        Ok(Some(Membership {
            kind,
            accepted: row.try_get("accepted")?,
            creator_id: row.try_get("creator_id")?,
            members: row.try_get("members")?,
        }))
    }

    async fn strangers(&self, user: Uuid, others: &[Uuid]) -> Result<Vec<Uuid>> {
        let rows = sqlx::query(
            "SELECT o FROM unnest($2::uuid[]) AS o
            WHERE NOT EXISTS (
                SELECT 1 FROM members AS a
                JOIN members AS b ON b.conversation_id = a.conversation_id AND b.user_id = o
                WHERE a.user_id = $1)",
        )
        .bind(user)
        .bind(others)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get::<Uuid, _>(0)?)).collect()
    }

    async fn invites_counted_since(&self, inviter: Uuid, since: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT created_at FROM group_invites
            WHERE inviter_id = $1 AND created_at >= $2 ORDER BY created_at",
        )
        .bind(inviter)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<i64, _>("created_at")?))
            .collect()
    }

    async fn join_group(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<Conversation>> {
        let mut tx = self.pool.begin().await?;
        let joined = sqlx::query(
            "UPDATE members SET accepted = true, hidden = false
            WHERE conversation_id = $1 AND user_id = $2 AND NOT accepted
                AND EXISTS (SELECT 1 FROM conversations WHERE id = $1 AND kind = 'group')",
        )
        .bind(conversation_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !joined {
            return Ok(None);
        }
        let conversation = loaded(load_conversation(&mut tx, conversation_id).await?)?;
        tx.commit().await?;
        Ok(Some(conversation))
    }

    async fn remove_member(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        actor_id: Uuid,
        event: Option<GroupEvent>,
        now: i64,
    ) -> Result<Option<(Conversation, Option<Message>)>> {
        let mut tx = self.pool.begin().await?;
        let removed =
            sqlx::query("DELETE FROM members WHERE conversation_id = $1 AND user_id = $2")
                .bind(conversation_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
        if !removed {
            return Ok(None);
        }
        let line = match event {
            Some(event) => {
                Some(append_event(&mut tx, conversation_id, actor_id, event, now).await?)
            }
            None => None,
        };
        let conversation = loaded(load_conversation(&mut tx, conversation_id).await?)?;
        tx.commit().await?;
        Ok(Some((conversation, line)))
    }

    async fn rename_group(
        &self,
        conversation_id: Uuid,
        actor_id: Uuid,
        name: &str,
        now: i64,
    ) -> Result<(Conversation, Message)> {
        no_nul(name, ErrorCode::InvalidGroupName, "a group name")?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE conversations SET name = $2 WHERE id = $1 AND kind = 'group'")
            .bind(conversation_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let event = GroupEvent::Renamed {
            name: name.to_string(),
        };
        let line = append_event(&mut tx, conversation_id, actor_id, event, now).await?;
        let conversation = loaded(load_conversation(&mut tx, conversation_id).await?)?;
        tx.commit().await?;
        Ok((conversation, line))
    }
}
