//! Messages in the cache: pages for the chat view (with ticks from the other members' positions),
//! own messages written before the server has them, and batches the server sent stored at once.

use std::collections::{BTreeSet, HashMap};

use natter_protocol::{Account, Message, Withheld};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use super::{
    album, now_ms, uuid, Cache, PendingVoice, Positions, INSERT_CHUNK, MESSAGE_COLUMNS,
    PENDING_BASE,
};
use crate::error::{CoreError, Result};
use crate::views::{MessageStatus, MessageView, VoiceView};

impl Cache {
    async fn positions(&self, me: Uuid, conv: Uuid) -> Result<Positions> {
        let row = sqlx::query(
            r#"
            SELECT COALESCE(MIN(delivered_seq), 0), COALESCE(MIN(read_seq), 0)
            FROM members WHERE conversation_id = ?1 AND user_id != ?2
            "#,
        )
        .bind(conv.to_string())
        .bind(me.to_string())
        .fetch_one(&self.read)
        .await?;
        Ok(Positions {
            delivered: row.try_get(0)?,
            read: row.try_get(1)?,
        })
    }

    fn message_view(me: Uuid, pos: Positions, row: &SqliteRow) -> Result<MessageView> {
        let sender_id = uuid(row, "sender_id")?;
        let seq: Option<i64> = row.try_get("seq")?;
        let failed: Option<String> = row.try_get("failed")?;
        let mine = sender_id == me;
        let status = match (mine, seq, &failed) {
            (false, _, _) => MessageStatus::Received,
            (true, _, Some(_)) => MessageStatus::Failed,
            (true, None, None) => MessageStatus::Sending,
            (true, Some(s), None) if pos.read >= s => MessageStatus::Read,
            (true, Some(s), None) if pos.delivered >= s => MessageStatus::Delivered,
            (true, Some(_), None) => MessageStatus::Sent,
        };
        Ok(MessageView {
            id: uuid(row, "id")?,
            conversation_id: uuid(row, "conversation_id")?,
            seq,
            sort_key: row.try_get("sort_key")?,
            sender_id,
            sender: row.try_get("sender")?,
            text: row.try_get("text")?,
            sent_at: row.try_get("sent_at")?,
            mine,
            status,
            error: failed,
            held_until: row.try_get("held_until")?,
            voice: Self::voice_view(me, mine, row)?,
            // filled by attach_albums
            media: Vec::new(),
            blocked_sender: row.try_get::<Option<String>, _>("withheld")?.as_deref()
                == Some(withheld_str(Withheld::Blocked)),
            event: row
                .try_get::<Option<String>, _>("event")?
                .map(|json| serde_json::from_str(&json))
                .transpose()
                .map_err(|e| CoreError::Storage(format!("bad group event: {e}")))?,
        })
    }

    fn voice_view(me: Uuid, mine: bool, row: &SqliteRow) -> Result<Option<VoiceView>> {
        let Some(media_id) = row.try_get::<Option<String>, _>("voice_media_id")? else {
            return Ok(None);
        };
        let played_by: String = row.try_get("played_by")?;
        let played = if mine {
            !played_by.is_empty()
        } else {
            played_by.split(',').any(|u| u == me.to_string())
        };
        Ok(Some(VoiceView {
            media_id: Uuid::parse_str(&media_id)
                .map_err(|e| CoreError::Storage(format!("bad media id: {e}")))?,
            duration_ms: row
                .try_get::<Option<u32>, _>("voice_duration_ms")?
                .unwrap_or(0),
            size: row.try_get::<Option<u32>, _>("voice_size")?.unwrap_or(0),
            waveform: row
                .try_get::<Option<Vec<u8>>, _>("voice_waveform")?
                .unwrap_or_default(),
            played,
            position_ms: row.try_get("play_position_ms")?,
        }))
    }

    /// Up to `limit` messages with `sort_key < before` (newest when `before` is `None`),
    /// returned oldest first.
    pub async fn messages(
        &self,
        me: Uuid,
        conv: Uuid,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageView>> {
        self.page(me, conv, Some(before.unwrap_or(i64::MAX)), None, limit)
            .await
    }

    /// Up to `limit` messages with `sort_key > after`, oldest first (paging forward).
    pub async fn messages_after(
        &self,
        me: Uuid,
        conv: Uuid,
        after: i64,
        limit: u32,
    ) -> Result<Vec<MessageView>> {
        self.page(me, conv, None, Some(after), limit).await
    }

    /// One page next to a sort key: the `limit` closest below `before`, or above `after`;
    /// oldest first either way.
    async fn page(
        &self,
        me: Uuid,
        conv: Uuid,
        before: Option<i64>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageView>> {
        let pos = self.positions(me, conv).await?;
        let (cmp, order, key) = match (before, after) {
            (_, Some(a)) => (">", "ASC", a),
            (b, None) => ("<", "DESC", b.unwrap_or(i64::MAX)),
        };
        let rows = sqlx::query(&format!(
            r#"
            SELECT {MESSAGE_COLUMNS} FROM messages
            WHERE conversation_id = ?1 AND sort_key {cmp} ?2 AND {LISTED}
            ORDER BY sort_key {order} LIMIT ?3
            "#
        ))
        .bind(conv.to_string())
        .bind(key)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        let mut views = rows
            .iter()
            .map(|r| Self::message_view(me, pos, r))
            .collect::<Result<Vec<_>>>()?;
        if order == "DESC" {
            views.reverse();
        }
        self.attach_albums(&mut views).await?;
        Ok(views)
    }

    pub async fn message(&self, me: Uuid, id: Uuid) -> Result<Option<MessageView>> {
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1 AND {LISTED}"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let pos = self.positions(me, uuid(&row, "conversation_id")?).await?;
        let mut view = [Self::message_view(me, pos, &row)?];
        self.attach_albums(&mut view).await?;
        let [view] = view;
        Ok(Some(view))
    }

    /// Writes a new message locally and queues it for delivery, in one transaction, so it is
    /// shown at once and survives the process being killed.
    pub(crate) async fn insert_pending(
        &self,
        conv: Uuid,
        id: Uuid,
        sender: &Account,
        text: &str,
        voice: Option<&PendingVoice>,
        album: &[natter_protocol::MediaItem],
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        let top: Option<i64> =
            sqlx::query_scalar("SELECT MAX(sort_key) FROM messages WHERE conversation_id = ?1")
                .bind(conv.to_string())
                .fetch_one(&mut *tx)
                .await?;
        let sort_key = top.map_or(PENDING_BASE, |t| (t + 1).max(PENDING_BASE));
        sqlx::query(
            r#"
            INSERT INTO messages (id, conversation_id, seq, sort_key, sender_id, sender, text, sent_at,
                voice_media_id, voice_duration_ms, voice_size, voice_waveform)
            VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            "#,
        )
        .bind(id.to_string())
        .bind(conv.to_string())
        .bind(sort_key)
        .bind(sender.id.to_string())
        .bind(&sender.username)
        .bind(text)
        .bind(now)
        .bind(voice.map(|v| v.media_id.to_string()))
        .bind(voice.map(|v| v.duration_ms))
        .bind(voice.map(|v| v.size))
        .bind(voice.map(|v| v.waveform.clone()))
        .execute(&mut *tx)
        .await?;
        album::insert_items(&mut tx, id, album, false).await?;
        sqlx::query(
            "INSERT INTO outbox (message_id, conversation_id, next_attempt_at) VALUES (?1, ?2, ?3)",
        )
        .bind(id.to_string())
        .bind(conv.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE conversations SET updated_at = MAX(updated_at, ?2) WHERE id = ?1")
            .bind(conv.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores messages from the server in one transaction. Known ids are updated in place
    /// (an outbox message being acknowledged), so nothing is ever duplicated. Returns the
    /// conversations that gained messages and, separately, ids of conversations not cached
    /// yet (their messages are skipped; fetch the conversation and store again).
    pub async fn store_messages(&self, msgs: &[Message]) -> Result<StoreOutcome> {
        let mut out = StoreOutcome::default();
        if msgs.is_empty() {
            return Ok(out);
        }
        let mut tx = self.write.begin().await?;
        let me: Option<String> = sqlx::query_scalar("SELECT user_id FROM session")
            .fetch_optional(&mut *tx)
            .await?;
        // Our read position per known conversation (absent = not cached).
        let mut read_pos: HashMap<Uuid, i64> = HashMap::new();
        for conv in msgs
            .iter()
            .map(|m| m.conversation_id)
            .collect::<BTreeSet<_>>()
        {
            let known: Option<i64> = sqlx::query_scalar(
                r#"
                SELECT COALESCE((SELECT read_seq FROM members
                                 WHERE conversation_id = c.id AND user_id = ?2), 0)
                FROM conversations c WHERE c.id = ?1
                "#,
            )
            .bind(conv.to_string())
            .bind(me.as_deref().unwrap_or(""))
            .fetch_optional(&mut *tx)
            .await?;
            match known {
                Some(r) => {
                    read_pos.insert(conv, r);
                }
                None => {
                    out.unknown_conversations.insert(conv);
                }
            }
        }
        let storable: Vec<&Message> = msgs
            .iter()
            .filter(|m| read_pos.contains_key(&m.conversation_id))
            .collect();

        // New messages: multi-row inserts; RETURNING names the rows that really were new.
        let mut inserted: BTreeSet<Uuid> = BTreeSet::new();
        for chunk in storable.chunks(INSERT_CHUNK) {
            let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO messages (id, conversation_id, seq, sort_key, sender_id, sender, text, \
                 sent_at, voice_media_id, voice_duration_ms, voice_size, voice_waveform, played_by, \
                 withheld, event) ",
            );
            q.push_values(chunk, |mut b, m| {
                let voice = m.voice.as_ref();
                b.push_bind(m.id.to_string())
                    .push_bind(m.conversation_id.to_string())
                    .push_bind(m.seq)
                    .push_bind(m.seq)
                    .push_bind(m.sender_id.to_string())
                    .push_bind(&m.sender)
                    .push_bind(&m.text)
                    .push_bind(m.sent_at)
                    .push_bind(voice.map(|v| v.media_id.to_string()))
                    .push_bind(voice.map(|v| v.duration_ms))
                    .push_bind(voice.map(|v| v.size))
                    .push_bind(voice.map(|v| v.waveform.clone()))
                    .push_bind(played_by_column(&m.played_by))
                    .push_bind(m.withheld.map(withheld_str))
                    .push_bind(m.event.as_ref().and_then(|e| serde_json::to_string(e).ok()));
            });
            q.push(" ON CONFLICT (id) DO NOTHING RETURNING id");
            let ids: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
            for id in ids {
                inserted
                    .insert(Uuid::parse_str(&id).map_err(|e| CoreError::Storage(e.to_string()))?);
            }
        }
        let mut unread: HashMap<Uuid, i64> = HashMap::new();
        for m in &storable {
            if inserted.contains(&m.id) {
                album::insert_items(&mut tx, m.id, &m.media, true).await?;
                let from_other = me.as_deref() != Some(m.sender_id.to_string().as_str());
                if from_other && m.seq > read_pos[&m.conversation_id] {
                    *unread.entry(m.conversation_id).or_default() += 1;
                }
            } else {
                // Already here: our own message coming back acknowledged (or a repeat).
                // The server's duration (measured from the audio) replaces the recorder's.
                sqlx::query(
                    r#"
                    UPDATE messages SET seq = ?2, sort_key = ?2, sent_at = ?3, failed = NULL,
                        voice_duration_ms = COALESCE(?4, voice_duration_ms),
                        voice_size = COALESCE(?5, voice_size),
                        played_by = CASE WHEN ?6 = '' THEN played_by ELSE ?6 END
                    WHERE id = ?1
                    "#,
                )
                .bind(m.id.to_string())
                .bind(m.seq)
                .bind(m.sent_at)
                .bind(m.voice.as_ref().map(|v| v.duration_ms))
                .bind(m.voice.as_ref().map(|v| v.size))
                .bind(played_by_column(&m.played_by))
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM outbox WHERE message_id = ?1")
                    .bind(m.id.to_string())
                    .execute(&mut *tx)
                    .await?;
                // Every item of an acknowledged album is on the server; the server's sizes
                // (measured from the files) replace ours.
                for item in &m.media {
                    sqlx::query(
                        r#"
                        UPDATE message_media
                        SET uploaded = 1, thumb_uploaded = 1, failed = NULL, size = ?3,
                            sent_bytes = ?3, width = ?4, height = ?5, duration_ms = ?6, mime = ?7
                        WHERE message_id = ?1 AND media_id = ?2
                        "#,
                    )
                    .bind(m.id.to_string())
                    .bind(item.media_id.to_string())
                    .bind(item.size)
                    .bind(item.width)
                    .bind(item.height)
                    .bind(item.duration_ms)
                    .bind(&item.content_type)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            let top = out.stored.entry(m.conversation_id).or_insert((0, 0));
            top.0 = top.0.max(m.seq);
            top.1 = top.1.max(m.sent_at);
        }
        for (conv, (seq, at)) in &out.stored {
            sqlx::query(
                r#"
                UPDATE conversations
                SET last_seq = MAX(last_seq, ?2), updated_at = MAX(updated_at, ?3),
                    unread = unread + ?4
                WHERE id = ?1
                "#,
            )
            .bind(conv.to_string())
            .bind(seq)
            .bind(at)
            .bind(unread.get(conv).copied().unwrap_or(0))
            .execute(&mut *tx)
            .await?;
            advance_synced(&mut tx, *conv).await?;
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// Messages a chat lists: everything but the photos, videos and voice notes of a group this
/// account has not joined (they are fetched again once it accepts).
const LISTED: &str = "(withheld IS NULL OR withheld != 'invitation')";

/// The `withheld` column.
pub(crate) fn withheld_str(why: Withheld) -> &'static str {
    match why {
        Withheld::Invitation => "invitation",
        Withheld::Blocked => "blocked",
    }
}

/// The `played_by` column: comma-separated user ids.
fn played_by_column(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// What [`Cache::store_messages`] did.
#[derive(Debug, Default)]
pub struct StoreOutcome {
    /// Conversation → (highest seq stored, newest sent_at).
    pub stored: HashMap<Uuid, (i64, i64)>,
    pub unknown_conversations: BTreeSet<Uuid>,
}

/// Raises `synced_seq` over every contiguous seq now stored.
async fn advance_synced(tx: &mut Transaction<'_, Sqlite>, conv: Uuid) -> Result<()> {
    let mut synced: i64 = sqlx::query_scalar("SELECT synced_seq FROM conversations WHERE id = ?1")
        .bind(conv.to_string())
        .fetch_one(&mut **tx)
        .await?;
    let start = synced;
    loop {
        let seqs: Vec<i64> = sqlx::query_scalar(
            r#"
            SELECT seq FROM messages
            WHERE conversation_id = ?1 AND sort_key > ?2 AND sort_key < ?3
            ORDER BY sort_key LIMIT 1000
            "#,
        )
        .bind(conv.to_string())
        .bind(synced)
        .bind(PENDING_BASE)
        .fetch_all(&mut **tx)
        .await?;
        let before = synced;
        for s in &seqs {
            if *s == synced + 1 {
                synced = *s;
            } else {
                break;
            }
        }
        if synced == before || seqs.len() < 1000 {
            break;
        }
    }
    if synced != start {
        sqlx::query("UPDATE conversations SET synced_seq = ?2 WHERE id = ?1")
            .bind(conv.to_string())
            .bind(synced)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
