//! Users and sessions in the SQLite store.

use anyhow::Context as _;
use chrono::NaiveDate;
use natter_protocol::{Account, ErrorCode, UserSummary};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::{uuid_col, SqliteStore};
use crate::error::{Error, Result};
use crate::store::{Credentials, NewSession, NewUser};

fn account_row(row: &SqliteRow) -> Result<Account> {
    let birthdate: String = row.try_get("birthdate")?;
    Ok(Account {
        id: uuid_col(row, "id")?,
        username: row.try_get("username")?,
        birthdate: NaiveDate::parse_from_str(&birthdate, "%Y-%m-%d")
            .with_context(|| format!("bad birthdate {birthdate:?}"))?,
        // filled in from the age and the choice by routes::safety::account_view
        nudity_filter: false,
        nudity_filter_locked: false,
    })
}

impl SqliteStore {
    #[tracing::instrument(name = "create_user", skip_all)]
    pub(super) async fn user_insert(&self, user: NewUser) -> Result<Account> {
        let result = sqlx::query(
            "
            INSERT INTO users (id, username, password_hash, birthdate, created_at)
            VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.birthdate.format("%Y-%m-%d").to_string())
        .bind(user.created_at)
        .execute(&self.writer)
        .await;
        match result {
            Ok(_) => Ok(Account {
                id: user.id,
                username: user.username,
                birthdate: user.birthdate,
                // filled in from the age and the choice by routes::safety::account_view
                nudity_filter: false,
                nudity_filter_locked: false,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::api(
                ErrorCode::UsernameTaken,
                format!("the username {:?} is taken", user.username),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn user_credentials(&self, username: &str) -> Result<Option<Credentials>> {
        let row = sqlx::query(
            "
            SELECT id, username, birthdate, password_hash
            FROM users
            WHERE lower(username) = lower(?1)",
        )
        .bind(username)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(Credentials {
                account: account_row(&row)?,
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    pub(super) async fn account_by_id(&self, user_id: Uuid) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT id, username, birthdate FROM users WHERE id = ?1")
            .bind(user_id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(account_row).transpose()
    }

    /// The session's user and their account in one query (every direct-message request).
    pub(super) async fn session_account_lookup(
        &self,
        token_hash: [u8; 32],
        now: i64,
    ) -> Result<Option<Account>> {
        let row = sqlx::query(
            "
            SELECT u.id, u.username, u.birthdate
            FROM sessions AS s JOIN users AS u ON u.id = s.user_id
            WHERE s.token_hash = ?1 AND s.expires_at > ?2",
        )
        .bind(token_hash.as_slice())
        .bind(now)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(account_row).transpose()
    }

    pub(super) async fn user_named(&self, username: &str) -> Result<Option<UserSummary>> {
        let row = sqlx::query("SELECT id, username FROM users WHERE lower(username) = lower(?1)")
            .bind(username)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|row| {
            Ok(UserSummary {
                id: uuid_col(&row, "id")?,
                username: row.try_get("username")?,
            })
        })
        .transpose()
    }

    #[tracing::instrument(name = "create_session", skip_all, err)]
    pub(super) async fn session_insert(&self, session: NewSession) -> Result<()> {
        sqlx::query(
            "
            INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
            VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(session.token_hash.as_slice())
        .bind(session.user_id.to_string())
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub(super) async fn session_lookup(
        &self,
        token_hash: [u8; 32],
        now: i64,
    ) -> Result<Option<Uuid>> {
        let row =
            sqlx::query("SELECT user_id FROM sessions WHERE token_hash = ?1 AND expires_at > ?2")
                .bind(token_hash.as_slice())
                .bind(now)
                .fetch_optional(&self.reader)
                .await?;
        row.map(|row| uuid_col(&row, "user_id")).transpose()
    }

    #[tracing::instrument(name = "delete_session", skip_all, err)]
    pub(super) async fn session_delete(&self, token_hash: [u8; 32]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
            .bind(token_hash.as_slice())
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
