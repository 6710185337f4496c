//! Users and sessions in the PostgreSQL store.

use natter_protocol::{Account, ErrorCode, UserSummary};
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

use super::PgStore;
use crate::error::{Error, Result};
use crate::store::{Credentials, NewSession, NewUser};

fn account_row(row: &PgRow) -> Result<Account> {
    Ok(Account {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        birthdate: row.try_get("birthdate")?,
        // filled in from the age and the choice by routes::safety::account_view
        nudity_filter: false,
        nudity_filter_locked: false,
    })
}

impl PgStore {
    /// `ON CONFLICT DO NOTHING`: of two sign-ups with one name (case-insensitively, by the
    /// unique index on `lower(username)`), the second waits for the first to commit and then
    /// inserts nothing. Any unique conflict is answered `username_taken`, as the SQLite store
    /// answers any unique violation (the other one, a reused user id, does not happen).
    #[tracing::instrument(name = "create_user", skip_all)]
    pub(super) async fn user_insert(&self, user: NewUser) -> Result<Account> {
        let inserted = sqlx::query(
            "
            INSERT INTO users (id, username, password_hash, birthdate, created_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT DO NOTHING",
        )
        .bind(user.id)
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.birthdate)
        .bind(user.created_at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(Error::api(
                ErrorCode::UsernameTaken,
                format!("the username {:?} is taken", user.username),
            ));
        }
        Ok(Account {
            id: user.id,
            username: user.username,
            birthdate: user.birthdate,
            // filled in from the age and the choice by routes::safety::account_view
            nudity_filter: false,
            nudity_filter_locked: false,
        })
    }

    pub(super) async fn user_credentials(&self, username: &str) -> Result<Option<Credentials>> {
        let row = sqlx::query(
            "
            SELECT id, username, birthdate, password_hash
            FROM users
            WHERE lower(username) = lower($1)",
        )
        .bind(username)
        .fetch_optional(&self.pool)
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
        let row = sqlx::query("SELECT id, username, birthdate FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_row).transpose()
    }

    pub(super) async fn user_named(&self, username: &str) -> Result<Option<UserSummary>> {
        let row = sqlx::query("SELECT id, username FROM users WHERE lower(username) = lower($1)")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(UserSummary {
                id: row.try_get("id")?,
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
            VALUES ($1, $2, $3, $4)",
        )
        .bind(session.token_hash.as_slice())
        .bind(session.user_id)
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn session_lookup(
        &self,
        token_hash: [u8; 32],
        now: i64,
    ) -> Result<Option<Uuid>> {
        let row =
            sqlx::query("SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_at > $2")
                .bind(token_hash.as_slice())
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|row| row.try_get("user_id")).transpose()?)
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
            WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash.as_slice())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_row).transpose()
    }

    #[tracing::instrument(name = "delete_session", skip_all, err)]
    pub(super) async fn session_delete(&self, token_hash: [u8; 32]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash.as_slice())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
