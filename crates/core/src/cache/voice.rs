//! Voice-note state kept on the device: who played a note, where playback stopped, and
//! played marks not yet acknowledged by the server.

use natter_protocol::policy::{AgeBand, ConversationFacts};
use sqlx::Row;
use uuid::Uuid;

use super::{uuid, Cache};
use crate::error::Result;

/// Where a voice note's file is and what it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VoiceRef {
    pub conversation_id: Uuid,
    pub media_id: Uuid,
    pub sender_id: Uuid,
}

impl Cache {
    pub(crate) async fn voice_ref(&self, message_id: Uuid) -> Result<Option<VoiceRef>> {
        let row = sqlx::query(
            "SELECT conversation_id, voice_media_id, sender_id FROM messages
            WHERE id = ?1 AND voice_media_id IS NOT NULL",
        )
        .bind(message_id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.map(|row| {
            Ok(VoiceRef {
                conversation_id: uuid(&row, "conversation_id")?,
                media_id: uuid(&row, "voice_media_id")?,
                sender_id: uuid(&row, "sender_id")?,
            })
        })
        .transpose()
    }

    /// Adds `user` to those who played a note. With `pending`, the server still has to be
    /// told (this account played it here). Returns whether anything changed.
    pub(crate) async fn add_played(
        &self,
        message_id: Uuid,
        user: Uuid,
        pending: bool,
    ) -> Result<bool> {
        let user = user.to_string();
        let changed = sqlx::query(
            r#"
            UPDATE messages
            SET played_by = CASE WHEN played_by = '' THEN ?2 ELSE played_by || ',' || ?2 END,
                played_pending = MAX(played_pending, ?3)
            WHERE id = ?1 AND voice_media_id IS NOT NULL AND sender_id != ?2
              AND instr(',' || played_by || ',', ',' || ?2 || ',') = 0
            "#,
        )
        .bind(message_id.to_string())
        .bind(&user)
        .bind(i64::from(pending))
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// Played marks made here that the server has not acknowledged: (conversation, message).
    pub(crate) async fn pending_played(&self) -> Result<Vec<(Uuid, Uuid)>> {
        let rows = sqlx::query(
            "SELECT conversation_id, id FROM messages WHERE played_pending = 1 ORDER BY sort_key",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((uuid(r, "conversation_id")?, uuid(r, "id")?)))
            .collect()
    }

    pub(crate) async fn clear_pending_played(&self, message_id: Uuid) -> Result<()> {
        sqlx::query("UPDATE messages SET played_pending = 0 WHERE id = ?1")
            .bind(message_id.to_string())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Remembers where playback of a note stopped. Returns whether the message is a note.
    pub(crate) async fn set_play_position(
        &self,
        message_id: Uuid,
        position_ms: u32,
    ) -> Result<bool> {
        let changed = sqlx::query(
            "UPDATE messages SET play_position_ms = ?2 WHERE id = ?1 AND voice_media_id IS NOT NULL",
        )
        .bind(message_id.to_string())
        .bind(position_ms)
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// The oldest note from someone else after `sort_key` in a conversation that this
    /// account has not played: what plays next when a note ends.
    pub(crate) async fn next_unplayed_voice(
        &self,
        me: Uuid,
        conversation_id: Uuid,
        after_sort_key: i64,
    ) -> Result<Option<Uuid>> {
        let me = me.to_string();
        let row = sqlx::query(
            r#"
            SELECT id FROM messages
            WHERE conversation_id = ?1 AND sort_key > ?2 AND voice_media_id IS NOT NULL
              AND sender_id != ?3 AND instr(',' || played_by || ',', ',' || ?3 || ',') = 0
            ORDER BY sort_key LIMIT 1
            "#,
        )
        .bind(conversation_id.to_string())
        .bind(after_sort_key)
        .bind(&me)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| uuid(&r, "id")).transpose()
    }

    /// What the safety rules need to know about a cached conversation before this account
    /// sends media in it (queued messages count: they go out first, in order).
    /// History lines ("X left") are not messages: they do not open a group for media.
    pub(crate) async fn conversation_facts(
        &self,
        me: Uuid,
        conversation_id: Uuid,
    ) -> Result<Option<ConversationFacts>> {
        let row = sqlx::query(
            r#"
            SELECT c.kind,
                EXISTS (SELECT 1 FROM messages m
                        WHERE m.conversation_id = c.id AND m.event IS NULL) AS prior,
                EXISTS (SELECT 1 FROM messages m
                        WHERE m.conversation_id = c.id AND m.sender_id != ?2)
                OR NOT EXISTS (SELECT 1 FROM members o
                        WHERE o.conversation_id = c.id AND o.user_id != ?2 AND o.accepted = 0)
                    AS others_accepted,
                EXISTS (SELECT 1 FROM members o JOIN blocked_users b ON b.user_id = o.user_id
                        WHERE o.conversation_id = c.id AND o.user_id != ?2) AS blocked
            FROM conversations c WHERE c.id = ?1
            "#,
        )
        .bind(conversation_id.to_string())
        .bind(me.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(ConversationFacts {
                group: r.try_get::<String, _>("kind")? == "group",
                has_prior_message: r.try_get("prior")?,
                accepted: r.try_get("others_accepted")?,
                blocked: r.try_get("blocked")?,
            })
        })
        .transpose()
    }

    /// This account's age band today (from the session's birthdate). Without a session, the
    /// strictest band that can hold a chat, so nothing is ever looser than it should be.
    pub(crate) async fn my_age_band(&self) -> Result<AgeBand> {
        let birthdate: Option<String> = sqlx::query_scalar("SELECT birthdate FROM session")
            .fetch_optional(&self.read)
            .await?;
        let born = birthdate.and_then(|b| chrono::NaiveDate::parse_from_str(&b, "%Y-%m-%d").ok());
        Ok(match born {
            Some(b) => AgeBand::on(b, chrono::Utc::now().date_naive()),
            None => AgeBand::Teen,
        })
    }

    /// An adult chose not to see the media reminder again in this conversation.
    pub(crate) async fn turn_off_media_reminder(&self, conversation_id: Uuid) -> Result<bool> {
        let changed = sqlx::query("UPDATE conversations SET media_reminder_off = 1 WHERE id = ?1")
            .bind(conversation_id.to_string())
            .execute(&self.write)
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    /// Where the catch-up of played marks resumes (server ms; 0 = from the beginning).
    pub(crate) async fn played_cursor(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT value FROM sync_state WHERE key = 'played'")
                .fetch_optional(&self.read)
                .await?
                .unwrap_or(0),
        )
    }

    pub(crate) async fn set_played_cursor(&self, at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_state (key, value) VALUES ('played', ?1)
            ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
        )
        .bind(at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The sort key of a message (to find what comes after it).
    pub(crate) async fn sort_key(&self, message_id: Uuid) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT sort_key FROM messages WHERE id = ?1")
            .bind(message_id.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok(r.try_get("sort_key")?)).transpose()
    }
}
