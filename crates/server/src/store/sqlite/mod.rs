//! The embedded store: one SQLite file, `DATA_DIR/natter.db`.
//!
//! One writer connection (so write transactions never race each other into `SQLITE_BUSY`)
//! and a small pool of readers; every connection gets the same pragmas (WAL, foreign keys,
//! busy timeout, `synchronous=FULL`).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::NaiveDate;
use natter_protocol::{
    Account, Conversation, ConversationKind, ErrorCode, MediaKind, Member, Message, PlayedMark,
    ReceiptKind, UserSummary, VoiceNote,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::{
    Credentials, HistoryPage, NewGroup, NewMedia, NewMessage, NewSession, NewUser, Outcome, Store,
    StoredMedia, UploadState,
};
use crate::error::{Error, Result};

mod album;
mod safety;
mod voice;

const READERS: u32 = 4;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("database"))
    }
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
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .with_context(|| format!("migrating {}", path.display()))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options)
            .await
            .with_context(|| format!("opening {} for reading", path.display()))?;
        Ok(Self { writer, reader })
    }
}

// --- row mapping ---

fn uuid_col(row: &SqliteRow, col: &str) -> Result<Uuid> {
    let s: String = row.try_get(col)?;
    Ok(Uuid::parse_str(&s).with_context(|| format!("bad UUID in column {col}: {s:?}"))?)
}

fn account_row(row: &SqliteRow) -> Result<Account> {
    let birthdate: String = row.try_get("birthdate")?;
    Ok(Account {
        id: uuid_col(row, "id")?,
        username: row.try_get("username")?,
        birthdate: NaiveDate::parse_from_str(&birthdate, "%Y-%m-%d")
            .with_context(|| format!("bad birthdate {birthdate:?}"))?,
        // filled in from the age and the choice by routes::safety::account_view
        nudity_filter: false,
        nudity_filter_locked: false,
    })
}

fn media_kind(s: &str) -> Result<MediaKind> {
    match s {
        "voice" => Ok(MediaKind::Voice),
        "image" => Ok(MediaKind::Image),
        "video" => Ok(MediaKind::Video),
        other => Err(anyhow::anyhow!("unknown media kind {other:?}").into()),
    }
}

fn kind_str(kind: ConversationKind) -> &'static str {
    match kind {
        ConversationKind::Direct => "direct",
        ConversationKind::Group => "group",
    }
}

/// Columns of `conversations AS c` read by [`conversation_row`].
const CONVERSATION_COLUMNS: &str = "c.id, c.kind, c.name, c.creator_id, c.last_seq, c.created_at";

fn conversation_row(row: &SqliteRow) -> Result<Conversation> {
    let kind: String = row.try_get("kind")?;
    let kind = match kind.as_str() {
        "direct" => ConversationKind::Direct,
        "group" => ConversationKind::Group,
        other => return Err(anyhow::anyhow!("bad conversation kind {other:?}").into()),
    };
    let name: String = row.try_get("name")?;
    Ok(Conversation {
        id: uuid_col(row, "id")?,
        kind,
        name: (kind == ConversationKind::Group).then_some(name),
        creator_id: uuid_col(row, "creator_id")?,
        members: Vec::new(),
        last_seq: row.try_get("last_seq")?,
        created_at: row.try_get("created_at")?,
    })
}

fn member_row(row: &SqliteRow) -> Result<Member> {
    Ok(Member {
        user_id: uuid_col(row, "user_id")?,
        username: row.try_get("username")?,
        delivered_seq: row.try_get("delivered_seq")?,
        read_seq: row.try_get("read_seq")?,
        accepted: row.try_get("accepted")?,
    })
}

/// Columns of `messages AS m JOIN users AS u` read by [`message_row`].
const MESSAGE_SELECT: &str = "
    SELECT m.id, m.conversation_id, m.seq, m.sender_id, u.username AS sender, m.text, m.sent_at,
        m.voice_media_id, m.voice_waveform, md.duration_ms AS voice_duration_ms,
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

// --- shared queries (run on a reader or inside a write transaction) ---

async fn load_conversation(conn: &mut SqliteConnection, id: Uuid) -> Result<Option<Conversation>> {
    let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations AS c WHERE c.id = ?1");
    let Some(row) = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut conversation = conversation_row(&row)?;
    let rows = sqlx::query(
        "
        SELECT m.user_id, u.username, m.delivered_seq, m.read_seq, m.accepted
        FROM members AS m
        JOIN users AS u ON u.id = m.user_id
        WHERE m.conversation_id = ?1
        ORDER BY m.joined_at, m.rowid",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    conversation.members = rows.iter().map(member_row).collect::<Result<_>>()?;
    Ok(Some(conversation))
}

async fn is_member(
    conn: &mut SqliteConnection,
    conversation_id: Uuid,
    user_id: Uuid,
) -> Result<bool> {
    let row = sqlx::query("SELECT 1 FROM members WHERE conversation_id = ?1 AND user_id = ?2")
        .bind(conversation_id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// `accepted`: false for the recipient of a new direct conversation (a message request).
async fn insert_member(
    conn: &mut SqliteConnection,
    conversation_id: Uuid,
    user_id: Uuid,
    now: i64,
    accepted: bool,
) -> Result<()> {
    sqlx::query(
        "
        INSERT INTO members
            (conversation_id, user_id, joined_at, delivered_seq, read_seq, accepted)
        VALUES (?1, ?2, ?3, 0, 0, ?4)",
    )
    .bind(conversation_id.to_string())
    .bind(user_id.to_string())
    .bind(now)
    .bind(accepted)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn loaded(conversation: Option<Conversation>) -> Result<Conversation> {
    conversation
        .ok_or_else(|| anyhow::anyhow!("conversation vanished inside its transaction").into())
}

#[async_trait]
impl Store for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn create_user(&self, user: NewUser) -> Result<Account> {
        let result = sqlx::query(
            "
            INSERT INTO users (id, username, password_hash, birthdate, created_at)
            VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.birthdate.format("%Y-%m-%d").to_string())
        .bind(user.created_at)
        .execute(&self.writer)
        .await;
        match result {
            Ok(_) => Ok(Account {
                id: user.id,
                username: user.username,
                birthdate: user.birthdate,
                // filled in from the age and the choice by routes::safety::account_view
                nudity_filter: false,
                nudity_filter_locked: false,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::api(
                ErrorCode::UsernameTaken,
                format!("the username {:?} is taken", user.username),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn credentials(&self, username: &str) -> Result<Option<Credentials>> {
        let row = sqlx::query(
            "
            SELECT id, username, birthdate, password_hash
            FROM users
            WHERE lower(username) = lower(?1)",
        )
        .bind(username)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(Credentials {
                account: account_row(&row)?,
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    async fn account(&self, user_id: Uuid) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT id, username, birthdate FROM users WHERE id = ?1")
            .bind(user_id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(account_row).transpose()
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserSummary>> {
        let row = sqlx::query("SELECT id, username FROM users WHERE lower(username) = lower(?1)")
            .bind(username)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|row| {
            Ok(UserSummary {
                id: uuid_col(&row, "id")?,
                username: row.try_get("username")?,
            })
        })
        .transpose()
    }

    #[tracing::instrument(skip_all, err)]
    async fn create_session(&self, session: NewSession) -> Result<()> {
        sqlx::query(
            "
            INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
            VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(session.token_hash.as_slice())
        .bind(session.user_id.to_string())
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: [u8; 32], now: i64) -> Result<Option<Uuid>> {
        let row =
            sqlx::query("SELECT user_id FROM sessions WHERE token_hash = ?1 AND expires_at > ?2")
                .bind(token_hash.as_slice())
                .bind(now)
                .fetch_optional(&self.reader)
                .await?;
        row.map(|row| uuid_col(&row, "user_id")).transpose()
    }

    #[tracing::instrument(skip_all, err)]
    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
            .bind(token_hash.as_slice())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn get_or_create_direct(
        &self,
        new_id: Uuid,
        creator_id: Uuid,
        other_id: Uuid,
        now: i64,
    ) -> Result<Outcome<Conversation>> {
        let direct_key = format!("{}:{}", creator_id.min(other_id), creator_id.max(other_id));
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query(
            "
            INSERT INTO conversations
                (id, kind, name, creator_id, direct_key, last_seq, created_at, last_activity_at)
            VALUES (?1, 'direct', '', ?2, ?3, 0, ?4, ?4)
            ON CONFLICT (direct_key) DO NOTHING",
        )
        .bind(new_id.to_string())
        .bind(creator_id.to_string())
        .bind(&direct_key)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            insert_member(&mut tx, new_id, creator_id, now, true).await?;
            insert_member(&mut tx, new_id, other_id, now, false).await?;
        }
        let id = sqlx::query("SELECT id FROM conversations WHERE direct_key = ?1")
            .bind(&direct_key)
            .fetch_one(&mut *tx)
            .await?;
        let id = uuid_col(&id, "id")?;
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

    #[tracing::instrument(skip_all)]
    async fn create_group(&self, group: NewGroup) -> Result<Conversation> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "
            INSERT INTO conversations
                (id, kind, name, creator_id, direct_key, last_seq, created_at, last_activity_at)
            VALUES (?1, ?2, ?3, ?4, NULL, 0, ?5, ?5)",
        )
        .bind(group.id.to_string())
        .bind(kind_str(ConversationKind::Group))
        .bind(&group.name)
        .bind(group.creator_id.to_string())
        .bind(group.created_at)
        .execute(&mut *tx)
        .await?;
        insert_member(&mut tx, group.id, group.creator_id, group.created_at, true).await?;
        for member in &group.member_ids {
            insert_member(&mut tx, group.id, *member, group.created_at, true).await?;
        }
        let conversation = loaded(load_conversation(&mut tx, group.id).await?)?;
        tx.commit().await?;
        Ok(conversation)
    }

    #[tracing::instrument(skip_all)]
    async fn add_member(
        &self,
        conversation_id: Uuid,
        actor_id: Uuid,
        user_id: Uuid,
        now: i64,
    ) -> Result<Outcome<Conversation>> {
        let mut tx = self.writer.begin().await?;
        if !is_member(&mut tx, conversation_id, actor_id).await? {
            return Err(Error::conversation_not_found());
        }
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
        insert_member(&mut tx, conversation_id, user_id, now, true).await?;
        let conversation = loaded(load_conversation(&mut tx, conversation_id).await?)?;
        tx.commit().await?;
        Ok(Outcome::Created(conversation))
    }

    async fn conversation_for_member(
        &self,
        conversation_id: Uuid,
        member_id: Uuid,
    ) -> Result<Option<Conversation>> {
        let mut conn = self.reader.acquire().await?;
        let conversation = load_conversation(&mut conn, conversation_id).await?;
        Ok(conversation.filter(|c| c.members.iter().any(|m| m.user_id == member_id)))
    }

    async fn conversations_of(&self, user_id: Uuid) -> Result<Vec<Conversation>> {
        let mut conn = self.reader.acquire().await?;
        let sql = format!(
            "
            SELECT {CONVERSATION_COLUMNS}
            FROM members AS me
            JOIN conversations AS c ON c.id = me.conversation_id
            WHERE me.user_id = ?1 AND me.hidden = 0
            ORDER BY c.last_activity_at DESC, c.created_at DESC, c.id DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(user_id.to_string())
            .fetch_all(&mut *conn)
            .await?;
        let mut conversations = rows
            .iter()
            .map(conversation_row)
            .collect::<Result<Vec<_>>>()?;
        let member_rows = sqlx::query(
            "
            SELECT m.conversation_id, m.user_id, u.username, m.delivered_seq, m.read_seq,
                m.accepted
            FROM members AS me
            JOIN members AS m ON m.conversation_id = me.conversation_id
            JOIN users AS u ON u.id = m.user_id
            WHERE me.user_id = ?1 AND me.hidden = 0
            ORDER BY m.joined_at, m.rowid",
        )
        .bind(user_id.to_string())
        .fetch_all(&mut *conn)
        .await?;
        let mut members: HashMap<Uuid, Vec<Member>> = HashMap::new();
        for row in &member_rows {
            members
                .entry(uuid_col(row, "conversation_id")?)
                .or_default()
                .push(member_row(row)?);
        }
        for conversation in &mut conversations {
            conversation.members = members.remove(&conversation.id).unwrap_or_default();
        }
        Ok(conversations)
    }

    async fn member_ids(
        &self,
        conversation_id: Uuid,
        member_id: Uuid,
    ) -> Result<Option<Vec<Uuid>>> {
        let rows = sqlx::query("SELECT user_id FROM members WHERE conversation_id = ?1")
            .bind(conversation_id.to_string())
            .fetch_all(&self.reader)
            .await?;
        let ids = rows
            .iter()
            .map(|row| uuid_col(row, "user_id"))
            .collect::<Result<Vec<_>>>()?;
        Ok(ids.contains(&member_id).then_some(ids))
    }

    #[tracing::instrument(skip_all)]
    async fn insert_message(&self, message: NewMessage) -> Result<Outcome<Message>> {
        let mut tx = self.writer.begin().await?;
        if !is_member(&mut tx, message.conversation_id, message.sender_id).await? {
            return Err(Error::conversation_not_found());
        }
        let sql = format!("{MESSAGE_SELECT} WHERE m.id = ?1");
        if let Some(row) = sqlx::query(&sql)
            .bind(message.id.to_string())
            .fetch_optional(&mut *tx)
            .await?
        {
            let mut stored = [message_row(&row)?];
            album::fill_albums(&mut tx, &mut stored).await?;
            let [stored] = stored;
            let same_album = stored
                .media
                .iter()
                .map(|i| (i.media_id, i.thumbnail_id, &i.blurhash))
                .eq(message
                    .media
                    .iter()
                    .map(|i| (i.media_id, i.thumbnail_id, &i.blurhash)));
            return if stored.conversation_id == message.conversation_id
                && stored.sender_id == message.sender_id
                && stored.text == message.text
                && stored.voice.as_ref().map(|v| (v.media_id, &v.waveform))
                    == message.voice.as_ref().map(|v| (v.media_id, &v.waveform))
                && same_album
            {
                Ok(Outcome::Existing(stored))
            } else {
                Err(Error::api(
                    ErrorCode::IdConflict,
                    "this message id was already used for a different message",
                ))
            };
        }
        if let Some(voice) = &message.voice {
            let owned = sqlx::query("SELECT 1 FROM media WHERE id = ?1 AND owner_id = ?2")
                .bind(voice.media_id.to_string())
                .bind(message.sender_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            if owned.is_none() {
                return Err(Error::api(
                    ErrorCode::MediaNotFound,
                    "upload the voice note before sending it",
                ));
            }
        }
        let seq: i64 = sqlx::query(
            "
            UPDATE conversations
            SET last_seq = last_seq + 1, last_activity_at = ?2
            WHERE id = ?1
            RETURNING last_seq",
        )
        .bind(message.conversation_id.to_string())
        .bind(message.sent_at)
        .fetch_one(&mut *tx)
        .await?
        .try_get("last_seq")?;
        sqlx::query(
            "
            INSERT INTO messages (id, conversation_id, seq, sender_id, text, sent_at,
                voice_media_id, voice_waveform)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(message.id.to_string())
        .bind(message.conversation_id.to_string())
        .bind(seq)
        .bind(message.sender_id.to_string())
        .bind(&message.text)
        .bind(message.sent_at)
        .bind(message.voice.as_ref().map(|v| v.media_id.to_string()))
        .bind(message.voice.as_ref().map(|v| v.waveform.clone()))
        .execute(&mut *tx)
        .await?;
        album::insert_album(&mut tx, message.id, message.sender_id, &message.media).await?;
        sqlx::query(
            "
            UPDATE members
            SET delivered_seq = max(delivered_seq, ?3), read_seq = max(read_seq, ?3)
            WHERE conversation_id = ?1 AND user_id = ?2",
        )
        .bind(message.conversation_id.to_string())
        .bind(message.sender_id.to_string())
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        safety::wrote(&mut tx, message.conversation_id, message.sender_id).await?;
        let row = sqlx::query(&sql)
            .bind(message.id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let mut stored = [message_row(&row)?];
        album::fill_albums(&mut tx, &mut stored).await?;
        let [stored] = stored;
        tx.commit().await?;
        Ok(Outcome::Created(stored))
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
        let mut tx = self.writer.begin().await?;
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

    async fn conversation_facts(
        &self,
        conversation_id: Uuid,
        sender_id: Uuid,
    ) -> Result<natter_protocol::policy::ConversationFacts> {
        self.facts(conversation_id, sender_id).await
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

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
