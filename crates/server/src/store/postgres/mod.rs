//! The shared store: one PostgreSQL database for every server instance.
//!
//! The SQLite store gets part of its atomicity from having a single writer connection; here
//! several processes write at once, so every invariant holds under concurrent writers on its
//! own, at the default `READ COMMITTED` isolation:
//! - message `seq`s: the insert's transaction bumps `conversations.last_seq` first, which
//!   row-locks the conversation until commit, so inserts into one conversation serialise and
//!   a rolled-back insert gives its number back (no gaps, no duplicates);
//! - one direct conversation per pair, case-insensitive usernames, media ids, played marks,
//!   blocks and uploads: `INSERT … ON CONFLICT` against a unique constraint (a conflicting
//!   insert waits for the other transaction, then sees its row);
//! - a message id used twice (re-send or conflict), group size and membership, receipts
//!   only moving forward: decided under a row lock (`FOR UPDATE`, or the `last_seq` bump).
//!
//! Nothing catches a failed statement to carry on inside a transaction: a failed statement
//! aborts a PostgreSQL transaction, so conflicts are answered by `ON CONFLICT` and row
//! counts instead.

use std::str::FromStr as _;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use natter_protocol::{
    Account, Conversation, ErrorCode, MediaKind, Message, PlayedMark, ReceiptKind, UserSummary,
    VoiceNote,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions as _, Connection as _, PgPool, Row};
use uuid::Uuid;

use super::{
    Credentials, HistoryPage, NewGroup, NewMedia, NewMessage, NewSession, NewUser, Outcome,
    SendFacts, Store, StoredMedia, UploadState,
};
use crate::error::{Error, Result};

mod accounts;
mod album;
mod conversations;
mod groups;
mod messages;
mod safety;
mod scratch;
mod voice;

pub use scratch::{drop_scratch_database, scratch_database};

/// Connections per server instance. PostgreSQL's default limit is 100 for all of them.
const POOL_SIZE: u32 = 16;
/// How long a request waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PgStore {
    pool: PgPool,
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    matches!(scheme.as_deref(), Some("postgres" | "postgresql"))
}

/// `url` with its password (in the user info or a `password=` parameter) replaced by `***`,
/// fit for error messages and logs.
pub fn redacted(url: &str) -> String {
    scratch::UrlParts::split(url).redacted()
}

/// The numbered migrations, applied by [`PgStore::connect`] (and to the tests' template).
fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations/postgres")
}

impl PgStore {
    /// Connects to the database `url` names and applies pending migrations (under
    /// PostgreSQL's advisory lock, so instances starting together migrate once).
    ///
    /// The first connection is made directly rather than through the pool, so an
    /// unreachable server, a refused log-in or a missing database fails at once with its own
    /// cause (the pool would retry until its timeout and say only that it timed out).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let shown = redacted(url);
        let options = PgConnectOptions::from_str(url)
            .with_context(|| format!("bad PostgreSQL URL {shown}"))?;
        let mut first = options
            .connect()
            .await
            .with_context(|| format!("connecting to PostgreSQL at {shown}"))?;
        migrator()
            .run(&mut first)
            .await
            .with_context(|| format!("migrating the PostgreSQL database at {shown}"))?;
        first
            .close()
            .await
            .with_context(|| format!("closing the migration connection to {shown}"))?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Self { pool })
    }
}

// --- row mapping ---

/// A non-negative `bigint` column as the protocol's `u32` (sizes, durations, pixels).
fn u32_col(row: &PgRow, col: &str) -> Result<u32> {
    let v: i64 = row.try_get(col)?;
    Ok(u32::try_from(v).with_context(|| format!("column {col} out of range: {v}"))?)
}

fn media_kind(s: &str) -> Result<MediaKind> {
    match s {
        "voice" => Ok(MediaKind::Voice),
        "image" => Ok(MediaKind::Image),
        "video" => Ok(MediaKind::Video),
        other => Err(anyhow::anyhow!("unknown media kind {other:?}").into()),
    }
}

/// PostgreSQL's `text` cannot hold U+0000 (SQLite's can): refused as the caller's mistake
/// with `code` rather than failing the statement as an internal error.
fn no_nul(text: &str, code: ErrorCode, what: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::api(code, format!("{what} may not contain U+0000")));
    }
    Ok(())
}

/// Columns of `messages AS m JOIN users AS u` read by [`message_row`]. `played_by` is in
/// user id order, as SQLite's `group_concat` over the `(message_id, user_id)` key gives it.
const MESSAGE_SELECT: &str = "
    SELECT m.id, m.conversation_id, m.seq, m.sender_id, u.username AS sender, m.text, m.sent_at,
        m.event, m.voice_media_id, m.voice_waveform, md.duration_ms AS voice_duration_ms,
        md.size AS voice_size,
        CASE WHEN m.voice_media_id IS NULL THEN NULL
            ELSE ARRAY(SELECT p.user_id FROM voice_plays AS p WHERE p.message_id = m.id
                       ORDER BY p.user_id)
        END AS played_by
    FROM messages AS m
    JOIN users AS u ON u.id = m.sender_id
    LEFT JOIN media AS md ON md.id = m.voice_media_id";

fn message_row(row: &PgRow) -> Result<Message> {
    Ok(Message {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        seq: row.try_get("seq")?,
        sender_id: row.try_get("sender_id")?,
        sender: row.try_get("sender")?,
        text: row.try_get("text")?,
        sent_at: row.try_get("sent_at")?,
        voice: voice_cols(row)?,
        played_by: row
            .try_get::<Option<Vec<Uuid>>, _>("played_by")?
            .unwrap_or_default(),
        // filled by album::fill_albums
        media: Vec::new(),
        withheld: None,
        event: row
            .try_get::<Option<sqlx::types::Json<natter_protocol::GroupEvent>>, _>("event")?
            .map(|json| json.0),
    })
}

fn voice_cols(row: &PgRow) -> Result<Option<VoiceNote>> {
    let Some(media_id) = row.try_get::<Option<Uuid>, _>("voice_media_id")? else {
        return Ok(None);
    };
    Ok(Some(VoiceNote {
        media_id,
        duration_ms: u32_col(row, "voice_duration_ms")?,
        size: u32_col(row, "voice_size")?,
        waveform: row
            .try_get::<Option<Vec<u8>>, _>("voice_waveform")?
            .unwrap_or_default(),
    }))
}

#[async_trait]
impl Store for PgStore {
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

    async fn insert_message(&self, message: NewMessage) -> Result<Outcome<Message>> {
        self.message_insert(message).await
    }

    async fn history(&self, conversation_id: Uuid, page: HistoryPage) -> Result<Vec<Message>> {
        self.history_page(conversation_id, page).await
    }

    async fn update_receipt(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        kind: ReceiptKind,
        up_to_seq: i64,
    ) -> Result<Vec<(ReceiptKind, i64)>> {
        self.receipt_update(conversation_id, user_id, kind, up_to_seq)
            .await
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
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
