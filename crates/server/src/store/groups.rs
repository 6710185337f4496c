//! What group membership keeps beyond the conversation itself: where a member stands
//! (invited or joined), leaving and removal, renaming, the lines these write into a group's
//! history, and the invitations that count against the daily limit of new conversations. A
//! supertrait of [`Store`](super::Store), so every store keeps all of it.

use async_trait::async_trait;
use natter_protocol::{Conversation, ConversationKind, GroupEvent, Message};
use uuid::Uuid;

use crate::error::Result;

/// Where a member stands in a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub kind: ConversationKind,
    /// Groups: false while only invited. Direct conversations: false for a message request.
    pub accepted: bool,
    /// The group's admin.
    pub creator_id: Uuid,
    /// Every member, this one included.
    pub members: Vec<Uuid>,
}

impl Membership {
    /// Invited to a group and not yet accepted: texts only, nothing to write.
    pub fn invited(&self) -> bool {
        self.kind == ConversationKind::Group && !self.accepted
    }
}

#[async_trait]
pub trait GroupStore: Send + Sync {
    /// `user_id`'s standing in a conversation; `None` for anyone else (also when absent).
    async fn membership(&self, conversation_id: Uuid, user_id: Uuid) -> Result<Option<Membership>>;
    /// Those of `others` who share no conversation with `user`: inviting one of them to a
    /// group is a new conversation, as writing to them directly would be.
    async fn strangers(&self, user: Uuid, others: &[Uuid]) -> Result<Vec<Uuid>>;
    /// When the invitations `inviter` sent at or after `since` that counted as new
    /// conversations were sent, oldest first.
    async fn invites_counted_since(&self, inviter: Uuid, since: i64) -> Result<Vec<i64>>;
    /// An invitee accepts: a full member from now on. `None` when they are not an invitee
    /// of that group.
    async fn join_group(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<Conversation>>;
    /// Takes `user_id` out of a group (leaving, declining, or removed by `actor_id`); with
    /// `event`, writes that line into the group's history from `actor_id` in the same
    /// transaction. Returns the group as it is now and the line; `None` when `user_id` was
    /// not a member.
    async fn remove_member(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        actor_id: Uuid,
        event: Option<GroupEvent>,
        now: i64,
    ) -> Result<Option<(Conversation, Option<Message>)>>;
    /// Renames a group and writes the `renamed` line from `actor_id`.
    async fn rename_group(
        &self,
        conversation_id: Uuid,
        actor_id: Uuid,
        name: &str,
        now: i64,
    ) -> Result<(Conversation, Message)>;
}
