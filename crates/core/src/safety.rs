//! The safety rules as the user meets them: message requests (accept, delete), blocking,
//! reporting, the nudity filter setting, and the on-device classifier every photo goes
//! through before it is staged. The server applies the same rules and is the authority.

use natter_protocol::{validate, ApiError, ReportRequest, UserSummary, Withheld};
use uuid::Uuid;

use crate::client::Client;
use crate::error::{CoreError, Result};
use crate::views::{ConversationView, CoreEvent};

/// The nudity classifier, loaded once per process on first use (about 70 ms in release).
pub(crate) fn classifier() -> Result<natter_safety::Classifier> {
    natter_safety::Classifier::shared()
        .map_err(|e| CoreError::Storage(format!("the nudity model did not load: {e}")))
}

/// Whether the classifier finds these encoded images explicit (any one of them).
pub(crate) fn any_explicit(images: &[&[u8]]) -> Result<bool> {
    let model = classifier()?;
    for bytes in images {
        let c = model
            .classify_bytes(bytes)
            .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
        if c.verdict == natter_safety::Verdict::Explicit {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Client {
    /// Message requests: direct conversations started by someone this account has not
    /// accepted or written to, newest first. They carry no unread badge in the main list.
    pub async fn requests(&self) -> Result<Vec<ConversationView>> {
        Ok(self
            .inner
            .cache
            .conversations(self.me()?)
            .await?
            .into_iter()
            .filter(|c| c.request)
            .collect())
    }

    /// Accepts a message request: it moves to the main list and the other person may send
    /// photos, videos and voice notes. A group invitation: this account joins, and the
    /// group's photos, videos and voice notes, withheld until now, are fetched.
    pub async fn accept_request(&self, conversation: Uuid) -> Result<ConversationView> {
        let (token, _) = self.auth()?;
        let conv = self.api().accept(&token, conversation).await?;
        self.inner
            .cache
            .upsert_conversations(std::slice::from_ref(&conv))
            .await?;
        self.refetch_withheld(Some(conversation), Withheld::Invitation, None)
            .await?;
        let view = self.conversation(conversation).await?;
        self.emit(CoreEvent::Conversation {
            conversation: view.clone(),
        });
        Ok(view)
    }

    /// Deletes a message request (or a conversation) from this account's lists; it comes
    /// back only if the other person writes again. A group invitation is declined: the group
    /// never appears again unless someone invites this account anew.
    pub async fn delete_request(&self, conversation: Uuid) -> Result<()> {
        let (token, _) = self.auth()?;
        self.api().delete_conversation(&token, conversation).await?;
        self.inner.cache.forget_conversation(conversation).await?;
        self.emit(CoreEvent::ConversationRemoved { conversation });
        Ok(())
    }

    /// Blocks someone: nothing can be sent between you either way and they stop seeing you
    /// type. A pending request from them is deleted.
    pub async fn block(&self, username: &str) -> Result<()> {
        let (token, me) = self.auth()?;
        let username = username.trim().to_lowercase();
        self.api().block(&token, &username).await?;
        self.refresh_blocked().await?;
        if let Some(id) = self.inner.cache.direct_with(me.id, &username).await? {
            let view = self.conversation(id).await?;
            if view.request {
                self.inner.cache.forget_conversation(id).await?;
                self.emit(CoreEvent::ConversationRemoved { conversation: id });
            } else {
                self.emit(CoreEvent::Conversation { conversation: view });
            }
        }
        Ok(())
    }

    pub async fn unblock(&self, username: &str) -> Result<()> {
        let (token, me) = self.auth()?;
        let username = username.trim().to_lowercase();
        let was = self
            .inner
            .cache
            .blocked_users()
            .await?
            .into_iter()
            .find(|u| u.username == username);
        self.api().unblock(&token, &username).await?;
        self.refresh_blocked().await?;
        // What they wrote in shared groups while blocked is fetched whole from now on.
        if let Some(was) = was {
            self.refetch_withheld(None, Withheld::Blocked, Some(was.id))
                .await?;
        }
        if let Some(id) = self.inner.cache.direct_with(me.id, &username).await? {
            self.emit(CoreEvent::Conversation {
                conversation: self.conversation(id).await?,
            });
        }
        Ok(())
    }

    /// The people this account has blocked (as last fetched from the server).
    pub async fn blocked_users(&self) -> Result<Vec<UserSummary>> {
        self.inner.cache.blocked_users().await
    }

    pub(crate) async fn refresh_blocked(&self) -> Result<()> {
        let (token, _) = self.auth()?;
        let users = self.api().blocked(&token).await?;
        self.inner.cache.set_blocked(&users).await
    }

    /// Reports someone to the moderators: a reason and the chosen messages of a
    /// conversation (none chosen: their latest messages there).
    pub async fn report(
        &self,
        username: &str,
        conversation: Option<Uuid>,
        message_ids: Vec<Uuid>,
        reason: &str,
    ) -> Result<()> {
        let (token, _) = self.auth()?;
        let reason = validate::report_reason(reason)?;
        self.api()
            .report(
                &token,
                &ReportRequest {
                    username: username.trim().to_lowercase(),
                    conversation_id: conversation,
                    message_ids,
                    reason,
                },
            )
            .await
    }

    /// Switches the nudity filter (refused under 18 with `nudity_filter_locked`).
    pub async fn set_nudity_filter(&self, on: bool) -> Result<natter_protocol::Account> {
        let (token, _) = self.auth()?;
        let account = self.api().settings(&token, on).await?;
        self.update_account(account.clone()).await?;
        Ok(account)
    }

    /// Re-reads the account (the filter changes on the 18th birthday) and the block list.
    pub(crate) async fn refresh_safety(&self) -> Result<()> {
        let (token, _) = self.auth()?;
        let account = self.api().me(&token).await?;
        self.update_account(account).await?;
        self.refresh_blocked().await
    }
}
