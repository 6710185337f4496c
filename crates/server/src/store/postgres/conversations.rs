//! Conversations and their members in the PostgreSQL store: direct conversations (one per
//! pair), groups, and the shared queries that load a conversation with its members.

use std::collections::HashMap;

use natter_protocol::{Conversation, ConversationKind, ErrorCode, Member};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{groups, no_nul, safety, PgStore};
use crate::error::{Error, Result};
use crate::store::{NewGroup, Outcome};

/// Columns of `conversations AS c` read by [`conversation_row`].
const CONVERSATION_COLUMNS: &str = "c.id, c.kind, c.name, c.creator_id, c.last_seq, c.created_at";

fn conversation_row(row: &PgRow) -> Result<Conversation> {
    let kind: String = row.try_get("kind")?;
    let kind = match kind.as_str() {
        "direct" => ConversationKind::Direct,
        "group" => ConversationKind::Group,
        other => return Err(anyhow::anyhow!("bad conversation kind {other:?}").into()),
    };
    let name: String = row.try_get("name")?;
    Ok(Conversation {
        id: row.try_get("id")?,
        kind,
        name: (kind == ConversationKind::Group).then_some(name),
        creator_id: row.try_get("creator_id")?,
        members: Vec::new(),
        last_seq: row.try_get("last_seq")?,
        created_at: row.try_get("created_at")?,
    })
}

fn member_row(row: &PgRow) -> Result<Member> {
    Ok(Member {
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        delivered_seq: row.try_get("delivered_seq")?,
        read_seq: row.try_get("read_seq")?,
        accepted: row.try_get("accepted")?,
        invited_by: row.try_get("invited_by")?,
    })
}

// --- shared queries (run on a pooled connection or inside a write transaction) ---

/// Members in the order they joined; `added` (insertion order) breaks ties, as SQLite's
/// rowid does.
pub(super) async fn load_conversation(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Conversation>> {
    let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations AS c WHERE c.id = $1");
    let Some(row) = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut conversation = conversation_row(&row)?;
    let rows = sqlx::query(
        "
        SELECT m.user_id, u.username, m.delivered_seq, m.read_seq, m.accepted, m.invited_by
        FROM members AS m
        JOIN users AS u ON u.id = m.user_id
        WHERE m.conversation_id = $1
        ORDER BY m.joined_at, m.added",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    conversation.members = rows.iter().map(member_row).collect::<Result<_>>()?;
    Ok(Some(conversation))
}

pub(super) async fn is_member(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    user_id: Uuid,
) -> Result<bool> {
    let row = sqlx::query("SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2")
        .bind(conversation_id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// `accepted`: false for the recipient of a new direct conversation (a message request) and
/// for someone invited to a group (`invited_by`).
pub(super) async fn insert_member(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    user_id: Uuid,
    now: i64,
    accepted: bool,
    invited_by: Option<Uuid>,
) -> Result<()> {
    sqlx::query(
        "
        INSERT INTO members
            (conversation_id, user_id, joined_at, delivered_seq, read_seq, accepted, invited_by)
        VALUES ($1, $2, $3, 0, 0, $4, $5)",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(now)
    .bind(accepted)
    .bind(invited_by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn loaded(conversation: Option<Conversation>) -> Result<Conversation> {
    conversation
        .ok_or_else(|| anyhow::anyhow!("conversation vanished inside its transaction").into())
}

impl PgStore {
    /// `ON CONFLICT (direct_key) DO NOTHING`: of two instances creating the same pair's
    /// conversation, the second's insert waits for the first to commit, inserts nothing, and
    /// its next statement (a new snapshot under `READ COMMITTED`) finds the first's row.
    #[tracing::instrument(name = "get_or_create_direct", skip_all)]
    pub(super) async fn direct_get_or_create(
        &self,
        new_id: Uuid,
        creator_id: Uuid,
        other_id: Uuid,
        now: i64,
    ) -> Result<Outcome<Conversation>> {
        // The same text key as the SQLite store's: hyphenated lower-case ids, smaller first.
        let direct_key = format!("{}:{}", creator_id.min(other_id), creator_id.max(other_id));
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "
            INSERT INTO conversations
                (id, kind, name, creator_id, direct_key, last_seq, created_at, last_activity_at)
            VALUES ($1, 'direct', '', $2, $3, 0, $4, $4)
            ON CONFLICT (direct_key) DO NOTHING",
        )
        .bind(new_id)
        .bind(creator_id)
        .bind(&direct_key)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            insert_member(&mut tx, new_id, creator_id, now, true, None).await?;
            insert_member(&mut tx, new_id, other_id, now, false, None).await?;
        }
        let id: Uuid = sqlx::query("SELECT id FROM conversations WHERE direct_key = $1")
            .bind(&direct_key)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
        if !inserted {
            // Opening the conversation with someone who wrote first accepts their request.
            safety::accept(&mut tx, id, creator_id).await?;
        }
        let conversation = loaded(load_conversation(&mut tx, id).await?)?;
        tx.commit().await?;
        Ok(if inserted {
            Outcome::Created(conversation)
        } else {
            Outcome::Existing(conversation)
        })
    }

    #[tracing::instrument(name = "create_group", skip_all)]
    pub(super) async fn group_create(&self, group: NewGroup) -> Result<Conversation> {
        no_nul(&group.name, ErrorCode::InvalidGroupName, "a group name")?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "
            INSERT INTO conversations
                (id, kind, name, creator_id, direct_key, last_seq, created_at, last_activity_at)
            VALUES ($1, 'group', $2, $3, NULL, 0, $4, $4)",
        )
        .bind(group.id)
        .bind(&group.name)
        .bind(group.creator_id)
        .bind(group.created_at)
        .execute(&mut *tx)
        .await?;
        insert_member(
            &mut tx,
            group.id,
            group.creator_id,
            group.created_at,
            true,
            None,
        )
        .await?;
        // Everyone named is invited: texts reach them, media does not, until they accept.
        for member in &group.member_ids {
            let (id, creator) = (group.id, group.creator_id);
            insert_member(&mut tx, id, *member, group.created_at, false, Some(creator)).await?;
            if group.counted.contains(member) {
                groups::record_invite(&mut tx, id, creator, *member, group.created_at).await?;
            }
        }
        let conversation = loaded(load_conversation(&mut tx, group.id).await?)?;
        tx.commit().await?;
        Ok(conversation)
    }

    /// The conversation's row is locked before its members are counted, so two instances
    /// adding the last free place (or the same user) at once take turns: the second sees
    /// the first's member and answers `group_full` (or `Existing`).
    #[tracing::instrument(name = "add_member", skip_all)]
    pub(super) async fn member_add(
        &self,
        conversation_id: Uuid,
        actor_id: Uuid,
        user_id: Uuid,
        now: i64,
        counted: bool,
    ) -> Result<Outcome<Conversation>> {
        let mut tx = self.pool.begin().await?;
        if !is_member(&mut tx, conversation_id, actor_id).await? {
            return Err(Error::conversation_not_found());
        }
        // NO KEY UPDATE: conflicts with itself and with a message insert's `last_seq` bump,
        // not with the key-share locks that inserting rows referencing it takes.
        sqlx::query("SELECT 1 FROM conversations WHERE id = $1 FOR NO KEY UPDATE")
            .bind(conversation_id)
            .execute(&mut *tx)
            .await?;
        let conversation = loaded(load_conversation(&mut tx, conversation_id).await?)?;
        if conversation.kind != ConversationKind::Group {
            return Err(Error::api(
                ErrorCode::WrongConversationKind,
                "members can only be added to group conversations",
            ));
        }
        if conversation.creator_id != actor_id {
            return Err(Error::api(
                ErrorCode::NotGroupCreator,
                "only the creator of a group may add members",
            ));
        }
        if conversation.members.iter().any(|m| m.user_id == user_id) {
            return Ok(Outcome::Existing(conversation));
        }
        if conversation.members.len() >= natter_protocol::limits::GROUP_MAX_MEMBERS {
            return Err(Error::api(
                ErrorCode::GroupFull,
                format!(
                    "a group has at most {} members",
                    natter_protocol::limits::GROUP_MAX_MEMBERS
                ),
            ));
        }
        insert_member(
            &mut tx,
            conversation_id,
            user_id,
            now,
            false,
            Some(actor_id),
        )
        .await?;
        if counted {
            groups::record_invite(&mut tx, conversation_id, actor_id, user_id, now).await?;
        }
        let conversation = loaded(load_conversation(&mut tx, conversation_id).await?)?;
        tx.commit().await?;
        Ok(Outcome::Created(conversation))
    }

    pub(super) async fn conversation_of_member(
        &self,
        conversation_id: Uuid,
        member_id: Uuid,
    ) -> Result<Option<Conversation>> {
        let mut conn = self.pool.acquire().await?;
        let conversation = load_conversation(&mut conn, conversation_id).await?;
        Ok(conversation.filter(|c| c.members.iter().any(|m| m.user_id == member_id)))
    }

    pub(super) async fn conversations_listed(&self, user_id: Uuid) -> Result<Vec<Conversation>> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "
            SELECT {CONVERSATION_COLUMNS}
            FROM members AS me
            JOIN conversations AS c ON c.id = me.conversation_id
            WHERE me.user_id = $1 AND NOT me.hidden
            ORDER BY c.last_activity_at DESC, c.created_at DESC, c.id DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(user_id)
            .fetch_all(&mut *conn)
            .await?;
        let mut conversations = rows
            .iter()
            .map(conversation_row)
            .collect::<Result<Vec<_>>>()?;
        let member_rows = sqlx::query(
            "
            SELECT m.conversation_id, m.user_id, u.username, m.delivered_seq, m.read_seq,
                m.accepted, m.invited_by
            FROM members AS me
            JOIN members AS m ON m.conversation_id = me.conversation_id
            JOIN users AS u ON u.id = m.user_id
            WHERE me.user_id = $1 AND NOT me.hidden
            ORDER BY m.joined_at, m.added",
        )
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut members: HashMap<Uuid, Vec<Member>> = HashMap::new();
        for row in &member_rows {
            members
                .entry(row.try_get("conversation_id")?)
                .or_default()
                .push(member_row(row)?);
        }
        for conversation in &mut conversations {
            conversation.members = members.remove(&conversation.id).unwrap_or_default();
        }
        Ok(conversations)
    }

    pub(super) async fn ids_of_members(
        &self,
        conversation_id: Uuid,
        member_id: Uuid,
    ) -> Result<Option<Vec<Uuid>>> {
        let rows = sqlx::query("SELECT user_id FROM members WHERE conversation_id = $1")
            .bind(conversation_id)
            .fetch_all(&self.pool)
            .await?;
        let ids = rows
            .iter()
            .map(|row| row.try_get("user_id"))
            .collect::<Result<Vec<Uuid>, _>>()?;
        Ok(ids.contains(&member_id).then_some(ids))
    }
}
