//! The outbox worker: delivers queued messages in order, with their client ids, retrying with
//! backoff until the server acknowledges them. Because the id travels with every attempt, a
//! retry after a lost acknowledgement (or a killed process) never creates a duplicate.
//!
//! An album joins the queue once the upload worker ([`crate::album::upload`]) has put its
//! files on the server; until then the messages after it go ahead. Voice notes (at most
//! 1 MiB) are uploaded here, in their place in the queue.

use std::time::Duration;

use natter_protocol::{ErrorCode, SendMessageRequest};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::cache::now_ms;
use crate::client::Client;
use crate::error::{CoreError, Result};
use crate::views::CoreEvent;

const BACKOFF_FIRST_MS: i64 = 500;
const BACKOFF_MAX_MS: i64 = 30_000;

/// Delay before attempt `attempts + 1`: doubling from 0.5 s up to 30 s, ±20 % jitter so many
/// clients coming back at once do not retry in lockstep.
pub(crate) fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(0, 16) as u32;
    let base = BACKOFF_FIRST_MS
        .saturating_mul(1_i64 << exp)
        .min(BACKOFF_MAX_MS);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    (base as f64 * jitter) as i64
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Empty,
    Delivered,
    Failed,
    /// The head of the queue waits until this time (ms since the epoch).
    RetryAt(i64),
    SignedOut,
}

/// Tries the oldest queued message once, if it is due.
pub(crate) async fn deliver_next(client: &Client) -> Result<Step> {
    let cache = &client.inner.cache;
    let Some(item) = cache.outbox_head().await? else {
        return Ok(Step::Empty);
    };
    let now = now_ms();
    if item.next_attempt_at > now {
        return Ok(Step::RetryAt(item.next_attempt_at));
    }
    let Ok((token, me)) = client.auth() else {
        return Ok(Step::SignedOut);
    };
    let attempt = async {
        if let (Some(voice), false) = (&item.voice, item.uploaded) {
            upload_voice(client, &token, &item, voice.media_id).await?;
            cache.outbox_uploaded(item.message_id).await?;
        }
        // Only albums whose files are all on the server reach the head of the queue.
        let media = cache.attachments(item.message_id).await?;
        let req = SendMessageRequest {
            id: item.message_id,
            text: item.text.clone(),
            voice: item.voice.clone(),
            media,
        };
        client
            .api()
            .send_message(&token, item.conversation_id, &req)
            .await
    };
    let step = match attempt.await {
        Ok(msg) => {
            cache.store_messages(std::slice::from_ref(&msg)).await?;
            tracing::debug!(id = %msg.id, seq = msg.seq, "message delivered");
            Step::Delivered
        }
        Err(e) if e.is_transient() => {
            let attempts = item.attempts + 1;
            // A rate limit says when; anything else backs off.
            let held = e.retry_after_ms();
            let at = now + held.unwrap_or_else(|| backoff_ms(attempts - 1));
            tracing::info!(id = %item.message_id, attempts, error = %e, "delivery failed; will retry");
            cache
                .outbox_retry_later(
                    item.message_id,
                    attempts,
                    at,
                    &e.to_string(),
                    held.is_some(),
                )
                .await?;
            if held.is_some() {
                // Shown as "sending… at HH:MM" rather than silently stuck.
                if let Some(view) = cache.message(me.id, item.message_id).await? {
                    client.emit(CoreEvent::Message { message: view });
                }
            }
            return Ok(Step::RetryAt(at));
        }
        Err(CoreError::Api(e)) if e.code == ErrorCode::Unauthenticated => {
            client.signed_out().await;
            return Ok(Step::SignedOut);
        }
        Err(e) => {
            tracing::warn!(id = %item.message_id, error = %e, "the server refused the message");
            cache.outbox_fail(item.message_id, &e.to_string()).await?;
            Step::Failed
        }
    };
    if let Some(view) = cache.message(me.id, item.message_id).await? {
        client.emit(CoreEvent::Message { message: view });
    }
    Ok(step)
}

/// Uploads the file of a queued voice note, reporting progress to front ends.
async fn upload_voice(
    client: &Client,
    token: &str,
    item: &crate::cache::OutboxItem,
    media_id: uuid::Uuid,
) -> Result<()> {
    let path = client.media_path(media_id);
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        CoreError::Storage(format!(
            "the voice note's file {} is gone: {e}",
            path.display()
        ))
    })?;
    let (progress, conversation_id, id) = (client.clone(), item.conversation_id, item.message_id);
    let info = client
        .api()
        .upload_voice(token, media_id, bytes.into(), move |sent, total| {
            progress.emit(CoreEvent::Upload {
                conversation_id,
                id,
                media_id: None,
                sent: u32::try_from(sent).unwrap_or(u32::MAX),
                total: u32::try_from(total).unwrap_or(u32::MAX),
            });
        })
        .await?;
    tracing::debug!(%media_id, duration_ms = info.duration_ms, "voice note uploaded");
    Ok(())
}

/// The worker: runs until cancelled.
pub(crate) async fn run(client: Client, cancel: CancellationToken) {
    loop {
        let wait = match deliver_next(&client).await {
            Ok(Step::Delivered | Step::Failed) => continue,
            Ok(Step::Empty | Step::SignedOut) => None,
            Ok(Step::RetryAt(at)) => Some(Duration::from_millis((at - now_ms()).max(0) as u64)),
            Err(e) => {
                tracing::error!(error = %e, "outbox worker failed; trying again in 1 s");
                Some(Duration::from_secs(1))
            }
        };
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = client.inner.outbox_wake.notified() => {}
            _ = sleep => {}
        }
    }
}

/// Uploads and delivers until the queue is empty or `deadline` passes; returns how many
/// messages are left.
pub(crate) async fn flush(client: &Client, deadline: Duration) -> Result<i64> {
    let end = tokio::time::Instant::now() + deadline;
    loop {
        let upload = crate::album::upload::upload_next(client).await?;
        let deliver = deliver_next(client).await?;
        let retry_at = match (upload, deliver) {
            (Step::SignedOut, _) | (_, Step::SignedOut) => return Err(CoreError::NotSignedIn),
            (Step::Empty, Step::Empty) => return Ok(0),
            (Step::Delivered | Step::Failed, _) | (_, Step::Delivered | Step::Failed) => continue,
            (Step::RetryAt(a), Step::RetryAt(b)) => a.min(b),
            (Step::RetryAt(at), Step::Empty) | (Step::Empty, Step::RetryAt(at)) => at,
        };
        let wait = Duration::from_millis((retry_at - now_ms()).max(0) as u64);
        let now = tokio::time::Instant::now();
        if now + wait >= end {
            tokio::time::sleep_until(end).await;
            return client.inner.cache.outbox_len().await;
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        for (attempts, base) in [
            (0, 500.0),
            (1, 1000.0),
            (3, 4000.0),
            (10, 30_000.0),
            (60, 30_000.0),
        ] {
            let d = backoff_ms(attempts) as f64;
            assert!(d >= base * 0.8 - 1.0 && d <= base * 1.2, "{attempts}: {d}");
        }
    }
}
