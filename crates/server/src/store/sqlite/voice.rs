//! Media records (voice notes, photos, videos) in the SQLite store: who may fetch a file,
//! played marks.

use natter_protocol::policy::ConversationFacts;
use natter_protocol::{ErrorCode, MediaInfo, PlayedMark};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::{is_member, media_kind, uuid_col, SqliteStore};
use crate::error::{Error, Result};
use crate::store::{reupload_outcome, NewMedia, Outcome, SendFacts, StoredMedia};

/// `explicit` counts the other half of an album item too: a thumbnail of an explicit photo
/// is withheld with it, and so is the photo of an explicit thumbnail (a video's poster).
const MEDIA_SELECT: &str = "
    SELECT md.id, md.owner_id, md.kind, md.content_type, md.size, md.duration_ms, md.sha256,
        md.width, md.height,
        md.explicit OR EXISTS (
            SELECT 1 FROM album_items AS ai
            JOIN media AS other ON other.id IN (ai.media_id, ai.thumbnail_id)
            WHERE (ai.media_id = md.id OR ai.thumbnail_id = md.id) AND other.explicit = 1
        ) AS explicit
    FROM media AS md";

/// What the safety rules need to know before `?2` sends in conversation `?1`; no row when
/// `?2` is not a member.
const FACTS_COLUMNS: &str = "
    c.kind,
    EXISTS (SELECT 1 FROM messages AS pm
            WHERE pm.conversation_id = c.id AND pm.event IS NULL) AS prior,
    NOT EXISTS (SELECT 1 FROM members AS o
                WHERE o.conversation_id = c.id AND o.user_id != ?2
                    AND o.accepted = 0) AS others_accepted,
    EXISTS (SELECT 1 FROM members AS o
            JOIN blocks AS b
                ON (b.blocker_id = o.user_id AND b.blocked_id = ?2)
                OR (b.blocker_id = ?2 AND b.blocked_id = o.user_id)
            WHERE o.conversation_id = c.id AND o.user_id != ?2) AS blocked";
const FACTS_FROM: &str = "
    FROM conversations AS c
    JOIN members AS mb ON mb.conversation_id = c.id AND mb.user_id = ?2
    WHERE c.id = ?1";

/// Whether member `mb` (user `?2`) of conversation `c` gets the content of message `m`:
/// not while only invited to a group, never from someone they blocked
/// (`natter_protocol::policy::withheld`, for files).
const READER_MAY_SEE: &str = "
    (c.kind = 'direct' OR mb.accepted = 1)
    AND NOT EXISTS (SELECT 1 FROM blocks AS b
                    WHERE b.blocker_id = ?2 AND b.blocked_id = m.sender_id)";

fn facts_row(row: &SqliteRow) -> Result<ConversationFacts> {
    Ok(ConversationFacts {
        group: row.try_get::<String, _>("kind")? == "group",
        has_prior_message: row.try_get("prior")?,
        accepted: row.try_get("others_accepted")?,
        blocked: row.try_get("blocked")?,
    })
}

fn media_row(row: &SqliteRow) -> Result<StoredMedia> {
    let sha: Vec<u8> = row.try_get("sha256")?;
    Ok(StoredMedia {
        info: MediaInfo {
            id: uuid_col(row, "id")?,
            kind: media_kind(&row.try_get::<String, _>("kind")?)?,
            content_type: row.try_get("content_type")?,
            size: row.try_get("size")?,
            duration_ms: row.try_get("duration_ms")?,
            width: row.try_get("width")?,
            height: row.try_get("height")?,
        },
        owner_id: uuid_col(row, "owner_id")?,
        sha256: sha
            .try_into()
            .map_err(|_| anyhow::anyhow!("bad sha256 column"))?,
        explicit: row.try_get("explicit")?,
    })
}

impl SqliteStore {
    /// [`Store::send_facts`](crate::store::Store::send_facts) in one query: each query is a
    /// round trip to a reader thread and back through the runtime, which cost a busy server
    /// more than the reading.
    pub(super) async fn facts_for_send(
        &self,
        conversation_id: Uuid,
        sender_id: Uuid,
    ) -> Result<Option<SendFacts>> {
        let sql = format!(
            "SELECT {FACTS_COLUMNS},
                (SELECT group_concat(o.user_id) FROM members AS o
                 WHERE o.conversation_id = c.id) AS members,
                c.kind = 'group' AND mb.accepted = 0 AS sender_invited,
                (SELECT group_concat(o.user_id) FROM members AS o
                 WHERE o.conversation_id = c.id AND c.kind = 'group' AND o.accepted = 0)
                    AS invited,
                (SELECT group_concat(b.blocker_id) FROM blocks AS b
                 JOIN members AS o ON o.conversation_id = c.id AND o.user_id = b.blocker_id
                 WHERE b.blocked_id = ?2) AS blockers
            {FACTS_FROM}"
        );
        let row = sqlx::query(&sql)
            .bind(conversation_id.to_string())
            .bind(sender_id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let list = |col: &str| -> Result<String> {
            Ok(row.try_get::<Option<String>, _>(col)?.unwrap_or_default())
        };
        let ids = |col: &str| -> Result<Vec<Uuid>> {
            Ok(list(col)?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| Uuid::parse_str(s).map_err(|e| anyhow::anyhow!("bad user id {s:?}: {e}")))
                .collect::<anyhow::Result<Vec<_>>>()?)
        };
        let members = ids("members")?;
        Ok(Some(SendFacts {
            members,
            sender_invited: row.try_get("sender_invited")?,
            invited: ids("invited")?,
            blockers: ids("blockers")?,
            facts: facts_row(&row)?,
        }))
    }

    pub(super) async fn media_by_id(&self, media_id: Uuid) -> Result<Option<StoredMedia>> {
        let sql = format!("{MEDIA_SELECT} WHERE md.id = ?1");
        let row = sqlx::query(&sql)
            .bind(media_id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(media_row).transpose()
    }

    #[tracing::instrument(skip_all, fields(media_id = %media.id))]
    pub(super) async fn insert_media_row(&self, media: NewMedia) -> Result<Outcome<StoredMedia>> {
        let mut tx = self.write().await?;
        let sql = format!("{MEDIA_SELECT} WHERE md.id = ?1");
        if let Some(row) = sqlx::query(&sql)
            .bind(media.id.to_string())
            .fetch_optional(&mut *tx)
            .await?
        {
            return reupload_outcome(media_row(&row)?, &media);
        }
        sqlx::query(
            "
            INSERT INTO media (id, owner_id, kind, content_type, size, duration_ms, sha256,
                created_at, width, height, nsfw_scores, explicit)
            VALUES (?1, ?2, ?8, ?3, ?4, ?5, ?6, ?7, ?9, ?10, ?11, ?12)",
        )
        .bind(media.id.to_string())
        .bind(media.owner_id.to_string())
        .bind(&media.content_type)
        .bind(media.size)
        .bind(media.duration_ms)
        .bind(media.sha256.as_slice())
        .bind(media.created_at)
        .bind(media.kind.as_str())
        .bind(media.width)
        .bind(media.height)
        .bind(media.nsfw_scores.as_deref())
        .bind(media.explicit)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&sql)
            .bind(media.id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let stored = media_row(&row)?;
        tx.commit().await?;
        Ok(Outcome::Created(stored))
    }

    pub(super) async fn media_visible_to(
        &self,
        media_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<StoredMedia>> {
        let sql = format!(
            "{MEDIA_SELECT}
            WHERE md.id = ?1 AND (
                md.owner_id = ?2
                OR EXISTS (
                    SELECT 1 FROM messages AS m
                    JOIN members AS mb ON mb.conversation_id = m.conversation_id
                    JOIN conversations AS c ON c.id = m.conversation_id
                    WHERE m.voice_media_id = md.id AND mb.user_id = ?2
                        AND {READER_MAY_SEE})
                OR EXISTS (
                    SELECT 1 FROM album_items AS ai
                    JOIN messages AS m ON m.id = ai.message_id
                    JOIN members AS mb ON mb.conversation_id = m.conversation_id
                    JOIN conversations AS c ON c.id = m.conversation_id
                    WHERE (ai.media_id = md.id OR ai.thumbnail_id = md.id)
                        AND mb.user_id = ?2 AND {READER_MAY_SEE}))"
        );
        let row = sqlx::query(&sql)
            .bind(media_id.to_string())
            .bind(user_id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(media_row).transpose()
    }

    #[tracing::instrument(skip_all)]
    pub(super) async fn record_play(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        user_id: Uuid,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        if !is_member(&mut tx, conversation_id, user_id).await? {
            return Err(Error::conversation_not_found());
        }
        let row = sqlx::query(
            "SELECT sender_id FROM messages
            WHERE id = ?1 AND conversation_id = ?2 AND voice_media_id IS NOT NULL",
        )
        .bind(message_id.to_string())
        .bind(conversation_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(Error::api(
                ErrorCode::BadRequest,
                "no such voice note in this conversation",
            ));
        };
        if uuid_col(&row, "sender_id")? == user_id {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT INTO voice_plays (message_id, user_id, played_at) VALUES (?1, ?2, ?3)
            ON CONFLICT DO NOTHING",
        )
        .bind(message_id.to_string())
        .bind(user_id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(inserted == 1)
    }

    pub(super) async fn plays_since(
        &self,
        user_id: Uuid,
        since: i64,
        limit: u32,
    ) -> Result<Vec<PlayedMark>> {
        let rows = sqlx::query(
            "
            SELECT m.conversation_id, p.message_id, p.user_id, p.played_at
            FROM voice_plays AS p
            JOIN messages AS m ON m.id = p.message_id
            JOIN members AS mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?1
            WHERE p.played_at >= ?2
            ORDER BY p.played_at
            LIMIT ?3",
        )
        .bind(user_id.to_string())
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PlayedMark {
                    conversation_id: uuid_col(r, "conversation_id")?,
                    message_id: uuid_col(r, "message_id")?,
                    user_id: uuid_col(r, "user_id")?,
                    played_at: r.try_get("played_at")?,
                })
            })
            .collect()
    }
}
