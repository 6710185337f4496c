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
