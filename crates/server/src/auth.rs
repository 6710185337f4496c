//! Passwords (argon2id), bearer tokens (random, stored only as SHA-256) and the
//! [`AuthUser`] extractor.

use std::sync::OnceLock;

use anyhow::Context as _;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::state::{now_ms, AppState};

/// Hashes a password with argon2id and a random salt, off the async threads.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .context("password hashing task")?
}

fn hash_blocking(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?
        .to_string())
}

/// Checks a password against a stored hash. With no hash (unknown user) it still does the
/// same work against a dummy hash, so response time does not reveal who exists.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = match hash {
            Some(h) => h,
            None => dummy_hash()?.to_string(),
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && ok)
    })
    .await
    .context("password verification task")?
}

fn dummy_hash() -> Result<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let h = hash_blocking("not a real password: timing equaliser")?;
    Ok(DUMMY.get_or_init(|| h))
}

/// A fresh bearer token (32 random bytes, base64url) and the SHA-256 that gets stored.
pub fn new_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The signed-in caller of a request (`Authorization: Bearer <token>`).
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: Uuid,
    pub token_hash: [u8; 32],
}

/// The bearer token of a request (`Authorization: Bearer <token>`), or `unauthenticated`.
fn bearer(headers: &HeaderMap) -> Result<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(Error::unauthenticated)
}

/// Resolves the bearer token of a request to its user, or `unauthenticated`.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<AuthUser> {
    let token_hash = hash_token(bearer(headers)?);
    let id = state
        .store
        .session_user(token_hash, now_ms())
        .await?
        .ok_or_else(Error::unauthenticated)?;
    Ok(AuthUser { id, token_hash })
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        authenticate(state, &parts.headers).await
    }
}

/// A signed-in user who may use direct messages: under 16 every conversation, message,
/// media and live-event route answers `dm_unavailable_under_16`. The age is recomputed on
/// every request, so access opens on the 16th birthday with nothing else to do.
#[derive(Debug, Clone, Copy)]
pub struct DmUser {
    pub id: Uuid,
    pub token_hash: [u8; 32],
}

/// [`authenticate`], then the DM age gate.
pub async fn authenticate_dm(state: &AppState, headers: &HeaderMap) -> Result<DmUser> {
    let token_hash = hash_token(bearer(headers)?);
    let account = state
        .store
        .session_account(token_hash, now_ms())
        .await?
        .ok_or_else(Error::unauthenticated)?;
    let band = natter_protocol::policy::AgeBand::on(account.birthdate, state.clock.today());
    natter_protocol::policy::may_use_dms(band)?;
    Ok(DmUser {
        id: account.id,
        token_hash,
    })
}

impl FromRequestParts<AppState> for DmUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        authenticate_dm(state, &parts.headers).await
    }
}
