//! The signed-in session stored in the profile.

use std::str::FromStr;

use natter_protocol::Account;
use sqlx::Row;

use super::{uuid, Cache, Session};
use crate::error::{CoreError, Result};

impl Cache {
    pub(crate) async fn session(&self) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT server_url, token, user_id, username, birthdate, nudity_filter,
                nudity_filter_locked FROM session WHERE id = 1",
        )
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let birthdate: String = row.try_get("birthdate")?;
        Ok(Some(Session {
            server_url: row.try_get("server_url")?,
            token: row.try_get("token")?,
            account: Account {
                id: uuid(&row, "user_id")?,
                username: row.try_get("username")?,
                birthdate: chrono::NaiveDate::from_str(&birthdate)
                    .map_err(|e| CoreError::Storage(format!("bad birthdate: {e}")))?,
                nudity_filter: row.try_get("nudity_filter")?,
                nudity_filter_locked: row.try_get("nudity_filter_locked")?,
            },
        }))
    }

    /// Stores a new session. A different account on the same profile starts from an empty
    /// cache, so one person's messages never show under another's name.
    pub(crate) async fn save_session(&self, s: &Session) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let previous: Option<String> = sqlx::query_scalar("SELECT user_id FROM session")
            .fetch_optional(&mut *tx)
            .await?;
        if previous.is_some_and(|p| p != s.account.id.to_string()) {
            sqlx::query("DELETE FROM outbox").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM conversations")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            r#"
            INSERT INTO session (id, server_url, token, user_id, username, birthdate,
                nudity_filter, nudity_filter_locked)
            VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT (id) DO UPDATE SET
                server_url = excluded.server_url, token = excluded.token,
                user_id = excluded.user_id, username = excluded.username,
                birthdate = excluded.birthdate, nudity_filter = excluded.nudity_filter,
                nudity_filter_locked = excluded.nudity_filter_locked
            "#,
        )
        .bind(&s.server_url)
        .bind(&s.token)
        .bind(s.account.id.to_string())
        .bind(&s.account.username)
        .bind(s.account.birthdate.to_string())
        .bind(s.account.nudity_filter)
        .bind(s.account.nudity_filter_locked)
        .execute(&mut *tx)
        .await?;
        set_setting(&mut tx, SERVER_URL, &s.server_url).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A setting that outlives sessions (see migration 0006), if set.
    pub(crate) async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1")
                .bind(key)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    pub(crate) async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        let mut conn = self.write.acquire().await?;
        set_setting(&mut conn, key, value).await
    }

    /// Forgets the token; cached messages and the outbox stay for the next log-in.
    pub(crate) async fn clear_session(&self) -> Result<()> {
        sqlx::query("DELETE FROM session")
            .execute(&self.write)
            .await?;
        Ok(())
    }
}

/// The setting key of the server the person chose.
pub(crate) const SERVER_URL: &str = "server_url";

async fn set_setting(conn: &mut sqlx::SqliteConnection, key: &str, value: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(())
}
