//! The local SQLite cache of one profile: session, conversations, messages and the outbox.
//!
//! One writer connection and a few readers (WAL), `synchronous=FULL` because the outbox holds
//! messages that exist nowhere else yet. Bursts are written in one transaction.

mod album;
mod conversations;
mod messages;
mod outbox;
mod receipts;
mod safety;
mod session;
mod voice;

pub(crate) use session::SERVER_URL;

use std::path::Path;
use std::time::Duration;

use natter_protocol::{Account, ConversationKind};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row;
use uuid::Uuid;

use crate::error::{CoreError, Result};

/// Sort keys of messages still in the outbox start here, above any sequence number, and stay
/// below 2^53 so JavaScript numbers hold them exactly.
pub const PENDING_BASE: i64 = 1 << 52;

/// Rows per multi-row INSERT (13 parameters each, far below SQLite's limit).
const INSERT_CHUNK: usize = 200;

/// The signed-in account on this profile.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub server_url: String,
    pub token: String,
    pub account: Account,
}

/// A message waiting to be delivered.
#[derive(Debug, Clone)]
pub(crate) struct OutboxItem {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    pub text: String,
    /// The voice note, if the message is one.
    pub voice: Option<natter_protocol::VoiceAttachment>,
    /// Whether the voice note's file is already on the server.
    pub uploaded: bool,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

pub(crate) use album::PendingItem;

/// A voice note written locally, about to be queued.
#[derive(Debug, Clone)]
pub(crate) struct PendingVoice {
    pub media_id: Uuid,
    pub duration_ms: u32,
    pub size: u32,
    pub waveform: Vec<u8>,
}

#[derive(Clone)]
pub struct Cache {
    write: SqlitePool,
    read: SqlitePool,
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn uuid(row: &SqliteRow, col: &str) -> Result<Uuid> {
    let s: String = row.try_get(col)?;
    Uuid::parse_str(&s).map_err(|e| CoreError::Storage(format!("bad uuid in {col}: {e}")))
}

fn kind_str(kind: ConversationKind) -> &'static str {
    match kind {
        ConversationKind::Direct => "direct",
        ConversationKind::Group => "group",
    }
}

const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, sort_key, sender_id, sender, text, \
    sent_at, failed, voice_media_id, voice_duration_ms, voice_size, voice_waveform, played_by, \
    play_position_ms, withheld, event, \
    (SELECT o.held_until FROM outbox o WHERE o.message_id = messages.id) AS held_until";

/// Positions of the other members, from which the ticks of own messages follow.
#[derive(Debug, Clone, Copy, Default)]
struct Positions {
    delivered: i64,
    read: i64,
}

impl Cache {
    /// Opens (creating if needed) the cache file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(Self { write, read })
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}
