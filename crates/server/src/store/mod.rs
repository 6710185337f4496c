//! Persistent state behind a trait, so handlers never see a database type.
//!
//! [`SqliteStore`] is the embedded default (one process, one writer connection);
//! [`PgStore`] keeps the same state in PostgreSQL, shared by several server instances.
//! Rule outcomes that need the store's atomicity (username taken, id conflict, group full,
//! not a member) come back as [`Error::Api`](crate::error::Error::Api) with the protocol code,
//! and both stores keep them under concurrent writers.

mod groups;
pub mod postgres;
mod safety;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use natter_protocol::{
    Account, Conversation, ErrorCode, MediaAttachment, MediaInfo, MediaKind, Message, PlayedMark,
    ReceiptKind, UserSummary, VoiceAttachment,
};
use uuid::Uuid;

use crate::error::{Error, Result};

pub use groups::{GroupStore, Membership};
pub use postgres::PgStore;
pub use safety::{NewReport, SafetyStore};
pub use sqlite::SqliteStore;

/// Opens the store a database URL names, migrating it: `None` is the SQLite file in
/// `data_dir`, a `postgres://` or `postgresql://` URL is a PostgreSQL database.
pub async fn open(database: Option<&str>, data_dir: &Path) -> anyhow::Result<Arc<dyn Store>> {
    match database {
        None => Ok(Arc::new(SqliteStore::open(data_dir).await?)),
        Some(url) if postgres::is_postgres_url(url) => Ok(Arc::new(PgStore::connect(url).await?)),
        Some(url) => anyhow::bail!(
            "unsupported database URL {} (expected postgres://…)",
            postgres::redacted(url)
        ),
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("database"))
    }
}

/// What `insert_message` answers for an id that is already stored: the stored message for
/// an identical re-send (same conversation, sender, text, voice note and album), otherwise
/// `id_conflict`. Shared by the stores so both judge a re-send the same way.
fn resend_outcome(stored: Message, message: &NewMessage) -> Result<Outcome<Message>> {
    let same_album = stored
        .media
        .iter()
        .map(|i| (i.media_id, i.thumbnail_id, &i.blurhash))
        .eq(message
            .media
            .iter()
            .map(|i| (i.media_id, i.thumbnail_id, &i.blurhash)));
    if stored.conversation_id == message.conversation_id
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
    }
}

/// What `insert_media` answers for an id that is already stored: the same owner and bytes
/// are a re-upload, anything else is `id_conflict`.
fn reupload_outcome(stored: StoredMedia, media: &NewMedia) -> Result<Outcome<StoredMedia>> {
    if stored.owner_id == media.owner_id && stored.sha256 == media.sha256 {
        Ok(Outcome::Existing(stored))
    } else {
        Err(Error::api(
            ErrorCode::IdConflict,
            "this media id was already used for a different file",
        ))
    }
}

/// A user about to be stored.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    /// Canonical (lower-case) username.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub birthdate: NaiveDate,
    pub created_at: i64,
}

/// What log-in needs to check a password.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub account: Account,
    pub password_hash: String,
}

/// A session row: only the SHA-256 of the bearer token is stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: [u8; 32],
    pub user_id: Uuid,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A group about to be created; `member_ids` excludes the creator and has no duplicates.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub id: Uuid,
    pub name: String,
    pub creator_id: Uuid,
    pub member_ids: Vec<Uuid>,
    /// Those of `member_ids` who shared no conversation with the creator: each is one new
    /// conversation in the creator's daily limit.
    pub counted: Vec<Uuid>,
    pub created_at: i64,
}

/// A message about to be stored; the store assigns `seq`.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub sender_id: Uuid,
    pub text: String,
    /// A voice note the sender uploaded; the store checks it exists and is theirs.
    pub voice: Option<VoiceAttachment>,
    /// An album's photos and videos with their thumbnails, all uploaded by the sender; the
    /// store checks each one inside the insert's transaction.
    pub media: Vec<MediaAttachment>,
    pub sent_at: i64,
    /// The sender's message limit, counted again inside the insert's transaction with every
    /// message of theirs already stored (a re-send is never refused): parallel sends cannot
    /// get past it together. `None`: no limit (the store's own tests).
    pub rate: Option<crate::rate::Window>,
}

/// A resumable upload in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadState {
    pub owner_id: Uuid,
    /// Total size announced when it began.
    pub length: u64,
    /// Bytes stored durably so far.
    pub received: u64,
}

/// An uploaded, validated media file about to be recorded (its bytes are already in the
/// blob store under `sha256`).
#[derive(Debug, Clone)]
pub struct NewMedia {
    pub id: Uuid,
    pub owner_id: Uuid,
    /// What the content turned out to be.
    pub kind: MediaKind,
    pub content_type: String,
    pub size: u32,
    pub duration_ms: u32,
    /// Pixels as displayed (photos, videos); 0 for voice notes.
    pub width: u32,
    pub height: u32,
    pub sha256: [u8; 32],
    pub created_at: i64,
    /// The nudity classifier's scores as JSON (photos and thumbnails; `None` otherwise).
    pub nsfw_scores: Option<String>,
    /// Whether those scores make it explicit.
    pub explicit: bool,
}

/// A media file's record: where its bytes are and how to serve them.
#[derive(Debug, Clone)]
pub struct StoredMedia {
    pub info: MediaInfo,
    pub owner_id: Uuid,
    pub sha256: [u8; 32],
    /// Explicit itself, or the other half (photo or thumbnail) of an album item that is:
    /// withheld from viewers under 18.
    pub explicit: bool,
}

/// Whether a write created something new or found it already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    Created(T),
    Existing(T),
}

impl<T> Outcome<T> {
    pub fn is_created(&self) -> bool {
        matches!(self, Self::Created(_))
    }

    pub fn into_inner(self) -> T {
        match self {
            Self::Created(v) | Self::Existing(v) => v,
        }
    }
}

/// A page of history: `after_seq < seq < before_seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryPage {
    /// The first `limit` messages after `after_seq`.
    After { after_seq: i64, limit: u32 },
    /// The newest `limit` messages in the range.
    Before {
        after_seq: i64,
        before_seq: i64,
        limit: u32,
    },
}

/// What sending a message needs to know: [`Store::send_facts`].
#[derive(Debug, Clone)]
pub struct SendFacts {
    /// Every member, the sender included.
    pub members: Vec<Uuid>,
    /// A group the sender was invited to and has not accepted: they cannot write there yet.
    pub sender_invited: bool,
    /// Group members only invited so far: texts reach them, media does not.
    pub invited: Vec<Uuid>,
    /// Members who blocked the sender: nothing the sender writes reaches them.
    pub blockers: Vec<Uuid>,
    pub facts: natter_protocol::policy::ConversationFacts,
}

#[async_trait]
pub trait Store: SafetyStore + GroupStore + Send + Sync {
    // --- users and sessions ---

    /// Fails with `username_taken` when the name exists (case-insensitively).
    async fn create_user(&self, user: NewUser) -> Result<Account>;
    /// Looks up by canonical username.
    async fn credentials(&self, username: &str) -> Result<Option<Credentials>>;
    async fn account(&self, user_id: Uuid) -> Result<Option<Account>>;
    /// Looks up by canonical username.
    async fn user_by_username(&self, username: &str) -> Result<Option<UserSummary>>;
    async fn create_session(&self, session: NewSession) -> Result<()>;
    /// The user of an unexpired session (`expires_at > now`).
    async fn session_user(&self, token_hash: [u8; 32], now: i64) -> Result<Option<Uuid>>;
    /// The account of an unexpired session's user: [`Store::session_user`] and
    /// [`Store::account`] together, in one query, as every direct-message request needs both
    /// (the age gate).
    async fn session_account(&self, token_hash: [u8; 32], now: i64) -> Result<Option<Account>>;
    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<()>;

    // --- conversations ---

    /// Gets or creates THE direct conversation of an unordered pair (`a != b`), atomically.
    async fn get_or_create_direct(
        &self,
        new_id: Uuid,
        creator_id: Uuid,
        other_id: Uuid,
        now: i64,
    ) -> Result<Outcome<Conversation>>;
    async fn create_group(&self, group: NewGroup) -> Result<Conversation>;
    /// Invites `user_id` to a group on behalf of `actor_id`, checking atomically: actor is a
    /// member (else `conversation_not_found`), a group (`wrong_conversation_kind`), actor is
    /// the creator (`not_group_creator`), not full (`group_full`). Existing member: no-op.
    /// `counted`: the invitation counts against the actor's daily new conversations.
    async fn add_member(
        &self,
        conversation_id: Uuid,
        actor_id: Uuid,
        user_id: Uuid,
        now: i64,
        counted: bool,
    ) -> Result<Outcome<Conversation>>;
    /// The conversation if `member_id` belongs to it; `None` otherwise (also when absent).
    async fn conversation_for_member(
        &self,
        conversation_id: Uuid,
        member_id: Uuid,
    ) -> Result<Option<Conversation>>;
    /// Conversations of a user, newest activity first.
    async fn conversations_of(&self, user_id: Uuid) -> Result<Vec<Conversation>>;
    /// Member ids if `member_id` belongs to the conversation; `None` otherwise.
    async fn member_ids(&self, conversation_id: Uuid, member_id: Uuid)
        -> Result<Option<Vec<Uuid>>>;

    // --- messages and receipts ---

    /// Stores a message with the next seq, or returns the stored one for an identical
    /// re-send. Fails with `conversation_not_found` for non-members and `id_conflict` when
    /// the id was used for a different message.
    async fn insert_message(&self, message: NewMessage) -> Result<Outcome<Message>>;
    /// Messages oldest first. The caller has checked membership.
    async fn history(&self, conversation_id: Uuid, page: HistoryPage) -> Result<Vec<Message>>;
    /// Moves a member's receipt forward (clamped to `last_seq`; read also raises
    /// delivered). Returns the positions that moved; `conversation_not_found` for
    /// non-members.
    async fn update_receipt(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        kind: ReceiptKind,
        up_to_seq: i64,
    ) -> Result<Vec<(ReceiptKind, i64)>>;

    /// Everything sending a message needs to know, for a member of the conversation (`None`
    /// for anyone else): its members and the safety facts, in one query: each query is a
    /// round trip to a connection, which on a busy server cost more than the reading. (The
    /// message limit is counted by [`Store::insert_message`], inside its transaction.)
    async fn send_facts(&self, conversation_id: Uuid, sender_id: Uuid)
        -> Result<Option<SendFacts>>;

    // --- media ---

    /// The record of a media id, whoever owns it (for idempotent re-uploads).
    async fn media(&self, media_id: Uuid) -> Result<Option<StoredMedia>>;
    /// Records an uploaded file. The same id with the same owner and bytes is `Existing`;
    /// otherwise a used id fails with `id_conflict`.
    async fn insert_media(&self, media: NewMedia) -> Result<Outcome<StoredMedia>>;
    /// The media if `user_id` may fetch it: its owner, or a member of a conversation with
    /// a message that carries it (as a voice note, an album item or an item's thumbnail),
    /// unless they are only invited to that group or blocked the message's sender. `None`
    /// otherwise (also when absent), exactly as for a file that does not exist.
    async fn media_for_user(&self, media_id: Uuid, user_id: Uuid) -> Result<Option<StoredMedia>>;
    /// Records that `user_id` played the voice note `message_id` of a conversation they
    /// belong to. Returns whether this is the first time. `conversation_not_found` for
    /// non-members; `bad_request` when the message is not a voice note of that
    /// conversation. The sender playing their own note records nothing.
    async fn mark_played(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        user_id: Uuid,
        now: i64,
    ) -> Result<bool>;

    /// Played marks recorded at or after `since` in conversations `user_id` belongs to,
    /// oldest first, at most `limit`.
    async fn played_since(&self, user_id: Uuid, since: i64, limit: u32) -> Result<Vec<PlayedMark>>;

    /// A resumable upload in progress, whoever started it.
    async fn upload(&self, id: Uuid) -> Result<Option<UploadState>>;
    /// Starts a resumable upload of `length` bytes, or returns the one already under `id`
    /// (the caller checks its owner and length).
    async fn begin_upload(
        &self,
        id: Uuid,
        owner_id: Uuid,
        length: u64,
        now: i64,
    ) -> Result<UploadState>;
    /// Records that the first `received` bytes are stored durably.
    async fn upload_received(&self, id: Uuid, received: u64, now: i64) -> Result<()>;
    /// Forgets an upload (finished and recorded as media, refused, or abandoned).
    async fn end_upload(&self, id: Uuid) -> Result<()>;
    /// Uploads in progress that received nothing since `untouched_since` (ms since the
    /// epoch): abandoned, to be swept.
    async fn stale_uploads(&self, untouched_since: i64) -> Result<Vec<Uuid>>;
    /// Claims the right to write upload `id` for `holder` until `until` (ms): granted unless
    /// another holder's claim is still running at `now`. Every instance asks the same
    /// database, so two requests never write one upload at once, on any instance.
    async fn claim_upload(&self, id: Uuid, holder: Uuid, now: i64, until: i64) -> Result<bool>;
    /// Extends `holder`'s claim to `until`; false when it is no longer theirs.
    async fn renew_upload_claim(&self, id: Uuid, holder: Uuid, until: i64) -> Result<bool>;
    /// Gives `holder`'s claim up.
    async fn release_upload_claim(&self, id: Uuid, holder: Uuid) -> Result<()>;

    /// Whether the database answers (`SELECT 1`): what `/readyz` reports.
    async fn ping(&self) -> Result<()>;
    /// Closes connections after the last request.
    async fn close(&self);
}
