//! The safety rules' state in the cache: this account's nudity filter, message requests and
//! the people it blocked.

use natter_protocol::policy::{AgeBand, FilterState};
use natter_protocol::UserSummary;
use sqlx::Row;
use uuid::Uuid;

use super::{uuid, Cache};
use crate::error::Result;

impl Cache {
    /// This account's age band and nudity filter today. Without a session: the strictest
    /// band that can hold a chat, filter on.
    pub(crate) async fn my_filter(&self) -> Result<(AgeBand, FilterState)> {
        let band = self.my_age_band().await?;
        let row = sqlx::query("SELECT nudity_filter FROM session")
            .fetch_optional(&self.read)
            .await?;
        let choice = row.map(|r| r.try_get::<bool, _>(0)).transpose()?;
        // Under 18 the rule wins whatever is stored; from 18 the server's answer is the choice.
        Ok((
            band,
            natter_protocol::policy::nudity_filter(band, choice.or(Some(true))),
        ))
    }

    /// Whether a conversation is a request for `me` (not accepted, and nothing written back
    /// yet: writing accepts, before the server says so), and whether `me` blocked someone in
    /// it.
    pub(crate) async fn request_and_block(&self, me: Uuid, id: Uuid) -> Result<(bool, bool)> {
        let row = sqlx::query(
            r#"
            SELECT
                EXISTS (SELECT 1 FROM members WHERE conversation_id = ?1 AND user_id = ?2
                        AND accepted = 0)
                AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1
                        AND sender_id = ?2) AS request,
                EXISTS (SELECT 1 FROM members m JOIN blocked_users b ON b.user_id = m.user_id
                        WHERE m.conversation_id = ?1 AND m.user_id != ?2) AS blocked
            "#,
        )
        .bind(id.to_string())
        .bind(me.to_string())
        .fetch_one(&self.read)
        .await?;
        Ok((row.try_get("request")?, row.try_get("blocked")?))
    }

    /// Replaces the list of people this account blocked with the server's.
    pub(crate) async fn set_blocked(&self, users: &[UserSummary]) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM blocked_users")
            .execute(&mut *tx)
            .await?;
        for u in users {
            sqlx::query("INSERT INTO blocked_users (user_id, username) VALUES (?1, ?2)")
                .bind(u.id.to_string())
                .bind(&u.username)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn blocked_users(&self) -> Result<Vec<UserSummary>> {
        let rows = sqlx::query("SELECT user_id, username FROM blocked_users ORDER BY username")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(UserSummary {
                    id: uuid(r, "user_id")?,
                    username: r.try_get("username")?,
                })
            })
            .collect()
    }

    /// Forgets a conversation here (a deleted request): its messages go with it. It comes
    /// back from the server if the other person writes again.
    pub(crate) async fn forget_conversation(&self, id: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM conversations WHERE id = ?1")
            .bind(id.to_string())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Forgets the copies the server sent without their content (`why`), in `conv` or in
    /// every conversation, from `sender` or anyone, and lowers the conversation's synced
    /// position below them, so the next catch-up fetches them whole. Returns the
    /// conversations to catch up.
    pub(crate) async fn drop_withheld(
        &self,
        conv: Option<Uuid>,
        why: natter_protocol::Withheld,
        sender: Option<Uuid>,
    ) -> Result<Vec<Uuid>> {
        let mut tx = self.write.begin().await?;
        let rows = sqlx::query(
            "
            SELECT conversation_id, MIN(seq) AS first FROM messages
            WHERE withheld = ?1 AND (?2 IS NULL OR conversation_id = ?2)
                AND (?3 IS NULL OR sender_id = ?3)
            GROUP BY conversation_id",
        )
        .bind(super::messages::withheld_str(why))
        .bind(conv.map(|c| c.to_string()))
        .bind(sender.map(|s| s.to_string()))
        .fetch_all(&mut *tx)
        .await?;
        let mut convs = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = uuid(row, "conversation_id")?;
            let first: i64 = row.try_get("first")?;
            sqlx::query(
                "DELETE FROM messages WHERE conversation_id = ?1 AND withheld = ?2
                    AND (?3 IS NULL OR sender_id = ?3)",
            )
            .bind(id.to_string())
            .bind(super::messages::withheld_str(why))
            .bind(sender.map(|s| s.to_string()))
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE conversations SET synced_seq = MIN(synced_seq, ?2) WHERE id = ?1")
                .bind(id.to_string())
                .bind(first - 1)
                .execute(&mut *tx)
                .await?;
            super::receipts::recount_unread(&mut tx, id).await?;
            convs.push(id);
        }
        tx.commit().await?;
        Ok(convs)
    }

    /// The nudity filter as the server last said.
    pub(crate) async fn set_filter(&self, on: bool, locked: bool) -> Result<()> {
        sqlx::query("UPDATE session SET nudity_filter = ?1, nudity_filter_locked = ?2")
            .bind(on)
            .bind(locked)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
