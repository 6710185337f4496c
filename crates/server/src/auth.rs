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
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::state::{now_ms, AppState};

/// Argon2 work allowed at once: one hash per core. Each takes about 19 MiB and a core for
/// tens of milliseconds. Unbounded, a burst of sign-ups or log-ins (or an attacker's) ran as
/// many at once as the blocking pool has threads, hundreds, each with its 19 MiB, and the
/// allocator kept that memory afterwards (1.4 GiB resident after 10,000 sign-ups, against 65
/// MiB on a fresh start). More than one per core would not finish any sooner: they wait here.
fn hashing_permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
    })
}

/// Runs `work` on the blocking pool once one of `permits` is free.
async fn bounded<T: Send + 'static>(
    permits: &Semaphore,
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _permit = permits.acquire().await.context("hashing permits closed")?;
    tokio::task::spawn_blocking(work)
        .await
        .context("password hashing task")
}

/// Hashes a password with argon2id and a random salt, off the async threads.
pub async fn hash_password(password: String) -> Result<String> {
    bounded(hashing_permits(), move || hash_blocking(&password)).await?
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
    bounded(hashing_permits(), move || {
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
    .await?
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// However many requests hash at once, no more than the permits run at a time, and all
    /// of them finish.
    #[tokio::test]
    async fn hashing_runs_no_more_at_once_than_its_permits() {
        let permits = Semaphore::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs = (0..8).map(|i| {
            let (running, peak) = (running.clone(), peak.clone());
            bounded(&permits, move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(30));
                running.fetch_sub(1, Ordering::SeqCst);
                i
            })
        });
        let done: Vec<usize> = futures_util::future::join_all(jobs)
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()
            .expect("every job runs");
        assert_eq!(done, (0..8).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 2, "two at a time, never more");
    }

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse".into()).await.expect("hash");
        assert!(verify_password("correct horse".into(), Some(hash.clone()))
            .await
            .expect("verify"));
        assert!(!verify_password("wrong horse".into(), Some(hash))
            .await
            .expect("verify"));
        assert!(!verify_password("correct horse".into(), None)
            .await
            .expect("unknown user"));
    }
}
