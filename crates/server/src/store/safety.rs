//! What the safety rules keep: the nudity filter's choice, message requests, blocks, the
//! moderation queue, and the counts the rate limits need. A supertrait of
//! [`Store`](super::Store), so every store keeps all of it.

use async_trait::async_trait;
use natter_protocol::{Conversation, Message, Report, UserSummary};
use uuid::Uuid;

use crate::error::Result;

/// A report about to join the moderation queue; `messages` are copies taken now.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub id: Uuid,
    pub reporter_id: Uuid,
    pub reported_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub reason: String,
    pub messages: Vec<Message>,
    pub created_at: i64,
}

#[async_trait]
pub trait SafetyStore: Send + Sync {
    /// An adult's own choice for the nudity filter (`None`: never chose).
    async fn nudity_choice(&self, user_id: Uuid) -> Result<Option<bool>>;
    async fn set_nudity_choice(&self, user_id: Uuid, on: bool) -> Result<()>;

    /// `user_id` accepts the conversation (a message request): media may now be sent to
    /// them, and it is back in their list if they had deleted it. `None` for non-members.
    async fn accept_request(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<Conversation>>;
    /// `user_id` deletes a request: it leaves their lists until the other writes again.
    /// Returns false for non-members.
    async fn hide_conversation(&self, conversation_id: Uuid, user_id: Uuid) -> Result<bool>;

    /// Records that `blocker` blocked `blocked` (again: no-op).
    async fn block(&self, blocker: Uuid, blocked: Uuid, now: i64) -> Result<()>;
    async fn unblock(&self, blocker: Uuid, blocked: Uuid) -> Result<()>;
    /// Whom `blocker` has blocked, by username.
    async fn blocked_by(&self, blocker: Uuid) -> Result<Vec<UserSummary>>;
    /// Those of `others` with a block between them and `user`, either way.
    async fn blocks_with(&self, user: Uuid, others: &[Uuid]) -> Result<Vec<Uuid>>;

    async fn insert_report(&self, report: NewReport) -> Result<()>;
    /// The moderation queue, oldest first.
    async fn reports(&self) -> Result<Vec<Report>>;
    /// Messages of a conversation for a report: those with these ids (any sender), or with
    /// no ids the newest `limit` from `sender_id`; oldest first.
    async fn messages_for_report(
        &self,
        conversation_id: Uuid,
        ids: &[Uuid],
        sender_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Message>>;

    /// When the direct conversations `creator_id` started at or after `since` were started.
    async fn directs_started_since(&self, creator_id: Uuid, since: i64) -> Result<Vec<i64>>;
    /// The direct conversation of two users, if it exists.
    async fn direct_between(&self, a: Uuid, b: Uuid) -> Result<Option<Uuid>>;
    /// Whether a message with this id is stored (an idempotent re-send is not a new one).
    async fn message_exists(&self, id: Uuid) -> Result<bool>;
}
