//! The embedded store: one SQLite file, `DATA_DIR/natter.db`.
//!
//! One writer connection (so write transactions never race each other into `SQLITE_BUSY`)
//! and a small pool of readers; every connection gets the same pragmas (WAL, foreign keys,
//! busy timeout, `synchronous=FULL`). Write transactions begin `IMMEDIATE`: they take the
//! file's write lock before their first read, so even two stores opened on the same file
//! (two processes) serialise on the busy timeout instead of failing on a stale snapshot.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use natter_protocol::{
    Account, Conversation, MediaKind, Message, PlayedMark, ReceiptKind, UserSummary, VoiceNote,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use uuid::Uuid;

use super::{
    Credentials, HistoryPage, NewGroup, NewMedia, NewMessage, NewSession, NewUser, Outcome,
    SendFacts, Store, StoredMedia, UploadState,
};
use crate::error::{Error, Result};
use conversations::{is_member, load_conversation};

mod accounts;
mod album;
mod conversations;
mod groups;
mod messages;
mod safety;
mod voice;

const READERS: u32 = 4;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Sent messages go to the writer task, which commits them in batches (`messages.rs`).
    inserts: messages::Inserts,
}

impl SqliteStore {
    /// Opens (creating if needed) `data_dir/natter.db` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Self> {
        tokio::fs::create_dir_all(data_dir)
            .await
            .with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let path = data_dir.join("natter.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .with_context(|| format!("migrating {}", path.display()))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options)
            .await
            .with_context(|| format!("opening {} for reading", path.display()))?;
        let inserts =
            messages::Inserts::start(writer.clone()).context("starting the message writer")?;
        Ok(Self {
            writer,
            reader,
            inserts,
        })
    }

    /// A write transaction holding the file's write lock from its start (`BEGIN IMMEDIATE`):
    /// a deferred one that reads first could not upgrade once another connection to the
    /// file had written meanwhile (`SQLITE_BUSY_SNAPSHOT`, which no busy timeout retries).
    async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

// --- row mapping ---

fn uuid_col(row: &SqliteRow, col: &str) -> Result<Uuid> {
    let s: String = row.try_get(col)?;
    Ok(Uuid::parse_str(&s).with_context(|| format!("bad UUID in column {col}: {s:?}"))?)
}

fn media_kind(s: &str) -> Result<MediaKind> {
    match s {
        "voice" => Ok(MediaKind::Voice),
        "image" => Ok(MediaKind::Image),
        "video" => Ok(MediaKind::Video),
        other => Err(anyhow::anyhow!("unknown media kind {other:?}").into()),
    }
}

/// Columns of `messages AS m JOIN users AS u` read by [`message_row`].
const MESSAGE_SELECT: &str = "
    SELECT m.id, m.conversation_id, m.seq, m.sender_id, u.username AS sender, m.text, m.sent_at,
        m.event, m.voice_media_id, m.voice_waveform, md.duration_ms AS voice_duration_ms,
        md.size AS voice_size,
        CASE WHEN m.voice_media_id IS NULL THEN NULL
            ELSE (SELECT group_concat(p.user_id) FROM voice_plays AS p WHERE p.message_id = m.id)
        END AS played_by
    FROM messages AS m
    JOIN users AS u ON u.id = m.sender_id
    LEFT JOIN media AS md ON md.id = m.voice_media_id";

fn message_row(row: &SqliteRow) -> Result<Message> {
    Ok(Message {
        id: uuid_col(row, "id")?,
        conversation_id: uuid_col(row, "conversation_id")?,
        seq: row.try_get("seq")?,
        sender_id: uuid_col(row, "sender_id")?,
        sender: row.try_get("sender")?,
        text: row.try_get("text")?,
        sent_at: row.try_get("sent_at")?,
        voice: voice_cols(row)?,
        played_by: row
            .try_get::<Option<String>, _>("played_by")?
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| Uuid::parse_str(s).with_context(|| format!("bad UUID in played_by: {s:?}")))
            .collect::<anyhow::Result<_>>()?,
        // filled by album::fill_albums
        media: Vec::new(),
        withheld: None,
        event: row
            .try_get::<Option<String>, _>("event")?
            .map(|json| serde_json::from_str(&json).context("bad group event"))
            .transpose()?,
    })
}

fn voice_cols(row: &SqliteRow) -> Result<Option<VoiceNote>> {
    let Some(media_id) = row.try_get::<Option<String>, _>("voice_media_id")? else {
        return Ok(None);
    };
    Ok(Some(VoiceNote {
        media_id: Uuid::parse_str(&media_id)
            .with_context(|| format!("bad media id {media_id:?}"))?,
        duration_ms: row.try_get("voice_duration_ms")?,
        size: row.try_get("voice_size")?,
        waveform: row
            .try_get::<Option<Vec<u8>>, _>("voice_waveform")?
            .unwrap_or_default(),
    }))
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, user: NewUser) -> Result<Account> {
        self.user_insert(user).await
    }

    async fn credentials(&self, username: &str) -> Result<Option<Credentials>> {
        self.user_credentials(username).await
    }

    async fn account(&self, user_id: Uuid) -> Result<Option<Account>> {
        self.account_by_id(user_id).await
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserSummary>> {
        self.user_named(username).await
    }

    async fn create_session(&self, session: NewSession) -> Result<()> {
        self.session_insert(session).await
    }

    async fn session_user(&self, token_hash: [u8; 32], now: i64) -> Result<Option<Uuid>> {
        self.session_lookup(token_hash, now).await
    }

    async fn session_account(&self, token_hash: [u8; 32], now: i64) -> Result<Option<Account>> {
        self.session_account_lookup(token_hash, now).await
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<()> {
        self.session_delete(token_hash).await
    }

    async fn get_or_create_direct(
        &self,
        new_id: Uuid,
        creator_id: Uuid,
        other_id: Uuid,
        now: i64,
    ) -> Result<Outcome<Conversation>> {
        self.direct_get_or_create(new_id, creator_id, other_id, now)
            .await
    }

    async fn create_group(&self, group: NewGroup) -> Result<Conversation> {
        self.group_create(group).await
    }

    async fn add_member(
        &self,
        conversation_id: Uuid,
        actor_id: Uuid,
        user_id: Uuid,
        now: i64,
        counted: bool,
    ) -> Result<Outcome<Conversation>> {
        self.member_add(conversation_id, actor_id, user_id, now, counted)
            .await
    }

    async fn conversation_for_member(
        &self,
        conversation_id: Uuid,
        member_id: Uuid,
    ) -> Result<Option<Conversation>> {
        self.conversation_of_member(conversation_id, member_id)
            .await
    }

    async fn conversations_of(&self, user_id: Uuid) -> Result<Vec<Conversation>> {
        self.conversations_listed(user_id).await
    }

    async fn member_ids(
        &self,
        conversation_id: Uuid,
        member_id: Uuid,
    ) -> Result<Option<Vec<Uuid>>> {
        self.ids_of_members(conversation_id, member_id).await
    }

    #[tracing::instrument(skip_all)]
    async fn insert_message(&self, message: NewMessage) -> Result<Outcome<Message>> {
        self.inserts.insert(message).await
    }

    async fn history(&self, conversation_id: Uuid, page: HistoryPage) -> Result<Vec<Message>> {
        let id = conversation_id.to_string();
        let rows = match page {
            HistoryPage::After { after_seq, limit } => {
                let sql = format!(
                    "{MESSAGE_SELECT}
                    WHERE m.conversation_id = ?1 AND m.seq > ?2
                    ORDER BY m.seq ASC
                    LIMIT ?3"
                );
                sqlx::query(&sql)
                    .bind(id)
                    .bind(after_seq)
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await?
            }
            HistoryPage::Before {
                after_seq,
                before_seq,
                limit,
            } => {
                let sql = format!(
                    "{MESSAGE_SELECT}
                    WHERE m.conversation_id = ?1 AND m.seq > ?2 AND m.seq < ?3
                    ORDER BY m.seq DESC
                    LIMIT ?4"
                );
                let mut rows = sqlx::query(&sql)
                    .bind(id)
                    .bind(after_seq)
                    .bind(before_seq)
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await?;
                rows.reverse();
                rows
            }
        };
        let mut messages = rows.iter().map(message_row).collect::<Result<Vec<_>>>()?;
        let mut conn = self.reader.acquire().await?;
        album::fill_albums(&mut conn, &mut messages).await?;
        Ok(messages)
    }

    #[tracing::instrument(skip_all)]
    async fn update_receipt(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        kind: ReceiptKind,
        up_to_seq: i64,
    ) -> Result<Vec<(ReceiptKind, i64)>> {
        let mut tx = self.write().await?;
        let Some(row) = sqlx::query(
            "
            SELECT c.last_seq, m.delivered_seq, m.read_seq
            FROM members AS m
            JOIN conversations AS c ON c.id = m.conversation_id
            WHERE m.conversation_id = ?1 AND m.user_id = ?2",
        )
        .bind(conversation_id.to_string())
        .bind(user_id.to_string())
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
                UPDATE members SET delivered_seq = ?3, read_seq = ?4
                WHERE conversation_id = ?1 AND user_id = ?2",
            )
            .bind(conversation_id.to_string())
            .bind(user_id.to_string())
            .bind(new_delivered)
            .bind(new_read)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(moved)
    }

    async fn send_facts(
        &self,
        conversation_id: Uuid,
        sender_id: Uuid,
    ) -> Result<Option<SendFacts>> {
        self.facts_for_send(conversation_id, sender_id).await
    }

    async fn media(&self, media_id: Uuid) -> Result<Option<StoredMedia>> {
        self.media_by_id(media_id).await
    }

    async fn insert_media(&self, media: NewMedia) -> Result<Outcome<StoredMedia>> {
        self.insert_media_row(media).await
    }

    async fn media_for_user(&self, media_id: Uuid, user_id: Uuid) -> Result<Option<StoredMedia>> {
        self.media_visible_to(media_id, user_id).await
    }

    async fn mark_played(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        user_id: Uuid,
        now: i64,
    ) -> Result<bool> {
        self.record_play(conversation_id, message_id, user_id, now)
            .await
    }

    async fn played_since(&self, user_id: Uuid, since: i64, limit: u32) -> Result<Vec<PlayedMark>> {
        self.plays_since(user_id, since, limit).await
    }

    async fn upload(&self, id: Uuid) -> Result<Option<UploadState>> {
        self.upload_by_id(id).await
    }

    async fn begin_upload(
        &self,
        id: Uuid,
        owner_id: Uuid,
        length: u64,
        now: i64,
    ) -> Result<UploadState> {
        self.upload_begin(id, owner_id, length, now).await
    }

    async fn upload_received(&self, id: Uuid, received: u64, now: i64) -> Result<()> {
        self.upload_progress(id, received, now).await
    }

    async fn end_upload(&self, id: Uuid) -> Result<()> {
        self.upload_end(id).await
    }

    async fn stale_uploads(&self, untouched_since: i64) -> Result<Vec<Uuid>> {
        self.uploads_untouched_since(untouched_since).await
    }

    async fn claim_upload(&self, id: Uuid, holder: Uuid, now: i64, until: i64) -> Result<bool> {
        self.upload_claim(id, holder, now, until).await
    }

    async fn renew_upload_claim(&self, id: Uuid, holder: Uuid, until: i64) -> Result<bool> {
        self.upload_claim_renew(id, holder, until).await
    }

    async fn release_upload_claim(&self, id: Uuid, holder: Uuid) -> Result<()> {
        self.upload_claim_release(id, holder).await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
