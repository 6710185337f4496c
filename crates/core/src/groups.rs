//! Groups as their members meet them: an invitation is a request (accepted or declined
//! like one, in `safety.rs`), and a member may leave; the admin (creator) removes members
//! and renames the group. The server is the authority for every rule; this keeps the cache
//! and the front ends in step.

use natter_protocol::{validate, Withheld};
use uuid::Uuid;

use crate::client::Client;
use crate::error::Result;
use crate::views::{ConversationView, CoreEvent};

impl Client {
    /// Leaves a group: nothing more reaches this account, the others see "X left", and it
    /// leaves this device's lists.
    pub async fn leave_group(&self, conversation: Uuid) -> Result<()> {
        let (token, _) = self.auth()?;
        self.api().leave(&token, conversation).await?;
        self.forget(conversation).await
    }

    /// Removes a member or invitee from a group (its admin only).
    pub async fn remove_member(
        &self,
        conversation: Uuid,
        username: &str,
    ) -> Result<ConversationView> {
        let (token, _) = self.auth()?;
        let username = validate::username(username)?;
        let conv = self
            .api()
            .remove_member(&token, conversation, &username)
            .await?;
        let view = self.remember(conv).await?;
        crate::sync::catch_up_conversation(self, conversation).await?;
        Ok(view)
    }

    /// Renames a group (its admin only).
    pub async fn rename_group(&self, conversation: Uuid, name: &str) -> Result<ConversationView> {
        let (token, _) = self.auth()?;
        let name = validate::group_name(name)?;
        let conv = self.api().rename_group(&token, conversation, &name).await?;
        let view = self.remember(conv).await?;
        crate::sync::catch_up_conversation(self, conversation).await?;
        Ok(view)
    }

    /// Forgets a conversation this account is no longer in (left, declined, removed).
    pub(crate) async fn forget(&self, conversation: Uuid) -> Result<()> {
        self.inner.cache.forget_conversation(conversation).await?;
        self.emit(CoreEvent::ConversationRemoved { conversation });
        Ok(())
    }

    /// Fetches again, whole, what the server sent without its content for `why` (the media
    /// of a group just joined; what someone just unblocked wrote).
    pub(crate) async fn refetch_withheld(
        &self,
        conversation: Option<Uuid>,
        why: Withheld,
        sender: Option<Uuid>,
    ) -> Result<()> {
        let convs = self
            .inner
            .cache
            .drop_withheld(conversation, why, sender)
            .await?;
        for conv in convs {
            crate::sync::catch_up_conversation(self, conv).await?;
            self.emit(CoreEvent::Conversation {
                conversation: self.conversation(conv).await?,
            });
        }
        Ok(())
    }
}
