//! Group membership in the SQLite store: invitations, joining, leaving, removal, renaming,
//! and the history lines these write.

use async_trait::async_trait;
use natter_protocol::{Conversation, ConversationKind, GroupEvent, Message};
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::{load_conversation, uuid_col, SqliteStore};
use crate::error::Result;
use crate::store::{GroupStore, Membership};

/// Records that inviting `invitee` counted as one of `inviter`'s new conversations.
pub(super) async fn record_invite(
    conn: &mut SqliteConnection,
    conversation_id: Uuid,
    inviter: Uuid,
    invitee: Uuid,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO group_invites (inviter_id, invitee_id, conversation_id, created_at)
        VALUES (?1, ?2, ?3, ?4)",
    )
    .bind(inviter.to_string())
    .bind(invitee.to_string())
    .bind(conversation_id.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes `event` as the group's next message, from `actor_id`.
async fn append_event(
    conn: &mut SqliteConnection,
    conversation_id: Uuid,
    actor_id: Uuid,
    event: GroupEvent,
    now: i64,
) -> Result<Message> {
    let seq: i64 = sqlx::query(
        "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = ?2
        WHERE id = ?1 RETURNING last_seq",
    )
    .bind(conversation_id.to_string())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?
    .try_get("last_seq")?;
    let id = Uuid::now_v7();
    let json = serde_json::to_string(&event).map_err(anyhow::Error::from)?;
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, seq, sender_id, text, sent_at, event)
        VALUES (?1, ?2, ?3, ?4, '', ?5, ?6)",
    )
    .bind(id.to_string())
    .bind(conversation_id.to_string())
    .bind(seq)
    .bind(actor_id.to_string())
    .bind(now)
    .bind(json)
    .execute(&mut *conn)
    .await?;
    let sender: String = sqlx::query("SELECT username FROM users WHERE id = ?1")
        .bind(actor_id.to_string())
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
impl GroupStore for SqliteStore {
    async fn membership(&self, conversation_id: Uuid, user_id: Uuid) -> Result<Option<Membership>> {
        let row = sqlx::query(
            "
            SELECT c.kind, c.creator_id, mb.accepted,
                (SELECT group_concat(o.user_id) FROM members AS o
                 WHERE o.conversation_id = c.id) AS members
            FROM conversations AS c
            JOIN members AS mb ON mb.conversation_id = c.id AND mb.user_id = ?2
            WHERE c.id = ?1",
        )
        .bind(conversation_id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let kind = if row.try_get::<String, _>("kind")? == "group" {
            ConversationKind::Group
        } else {
            ConversationKind::Direct
        };
        let members = row
            .try_get::<Option<String>, _>("members")?
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| Uuid::parse_str(s).map_err(|e| anyhow::anyhow!("bad member id {s:?}: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Some(Membership {
            kind,
            accepted: row.try_get("accepted")?,
            creator_id: uuid_col(&row, "creator_id")?,
            members,
        }))
    }

    async fn strangers(&self, user: Uuid, others: &[Uuid]) -> Result<Vec<Uuid>> {
        let mut strangers = Vec::new();
        let mut conn = self.reader.acquire().await?;
        for other in others {
            let shared = sqlx::query(
                "SELECT 1 FROM members AS a
                JOIN members AS b ON b.conversation_id = a.conversation_id AND b.user_id = ?2
                WHERE a.user_id = ?1 LIMIT 1",
            )
            .bind(user.to_string())
            .bind(other.to_string())
            .fetch_optional(&mut *conn)
            .await?;
            if shared.is_none() {
                strangers.push(*other);
            }
        }
        Ok(strangers)
    }

    async fn invites_counted_since(&self, inviter: Uuid, since: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT created_at FROM group_invites
            WHERE inviter_id = ?1 AND created_at >= ?2 ORDER BY created_at",
        )
        .bind(inviter.to_string())
        .bind(since)
        .fetch_all(&self.reader)
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
        let mut tx = self.write().await?;
        let joined = sqlx::query(
            "UPDATE members SET accepted = 1, hidden = 0
            WHERE conversation_id = ?1 AND user_id = ?2 AND accepted = 0
                AND EXISTS (SELECT 1 FROM conversations WHERE id = ?1 AND kind = 'group')",
        )
        .bind(conversation_id.to_string())
        .bind(user_id.to_string())
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
        let mut tx = self.write().await?;
        let removed =
            sqlx::query("DELETE FROM members WHERE conversation_id = ?1 AND user_id = ?2")
                .bind(conversation_id.to_string())
                .bind(user_id.to_string())
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
        let mut tx = self.write().await?;
        sqlx::query("UPDATE conversations SET name = ?2 WHERE id = ?1 AND kind = 'group'")
            .bind(conversation_id.to_string())
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
