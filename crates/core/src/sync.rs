//! Live sync: a WebSocket for pushed events, and catch-up over HTTP from the last sequence
//! stored whenever the connection (re)opens or a gap shows.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use natter_protocol::{ErrorCode, HistoryQuery, Message, ReceiptKind, ServerEvent};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::client::{lock, Client};
use crate::error::{CoreError, Result};
use crate::views::{ConnectionState, CoreEvent};

/// Page size when catching up.
const CATCH_UP_PAGE: u32 = 500;
/// Most pushed events applied in one cache transaction.
const BATCH_MAX: usize = 1000;
/// Above this many messages in one batch, front ends get one conversation event instead of
/// one event per message.
const EVENTS_PER_BATCH_MAX: usize = 200;
const PING_EVERY: Duration = Duration::from_secs(20);

pub(crate) async fn run(client: Client, cancel: CancellationToken) {
    let mut attempt: i64 = 0;
    loop {
        client.emit(CoreEvent::Connection {
            state: ConnectionState::Connecting,
        });
        let result = tokio::select! {
            r = connect_and_serve(&client, &cancel, &mut attempt) => r,
            _ = cancel.cancelled() => Ok(()),
        };
        *lock(&client.inner.frames) = None;
        if cancel.is_cancelled() {
            client.emit(CoreEvent::Connection {
                state: ConnectionState::Offline,
            });
            return;
        }
        match result {
            Err(CoreError::Api(e)) if e.code == ErrorCode::Unauthenticated => {
                client.signed_out().await;
                return;
            }
            Err(CoreError::NotSignedIn) => return,
            Err(e) => tracing::info!(error = %e, "live connection lost"),
            Ok(()) => {}
        }
        client.emit(CoreEvent::Connection {
            state: ConnectionState::Offline,
        });
        let wait = crate::outbox::backoff_ms(attempt);
        attempt += 1;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
        }
    }
}

async fn connect_and_serve(
    client: &Client,
    cancel: &CancellationToken,
    attempt: &mut i64,
) -> Result<()> {
    let (token, _) = client.auth()?;
    let mut req = client
        .api()
        .ws_url()?
        .as_str()
        .into_client_request()
        .map_err(|e| CoreError::Network(e.to_string()))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|e| CoreError::Network(e.to_string()))?;
    req.headers_mut().insert(header::AUTHORIZATION, bearer);
    let (ws, _) = match tokio_tungstenite::connect_async(req).await {
        Ok(ok) => ok,
        Err(tungstenite::Error::Http(resp)) if resp.status() == StatusCode::UNAUTHORIZED => {
            return Err(natter_protocol::ApiError::new(
                ErrorCode::Unauthenticated,
                "session rejected",
            )
            .into())
        }
        Err(e) => return Err(CoreError::Network(e.to_string())),
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel(16);
    *lock(&client.inner.frames) = Some(tx);
    client.emit(CoreEvent::Connection {
        state: ConnectionState::Online,
    });

    // Events pushed from now on are not missed; fetch what came before.
    catch_up(client).await?;
    *attempt = 0;
    client.inner.cache.outbox_retry_now().await?;
    client.wake_workers();

    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                let _ = sink.send(WsMessage::Close(None)).await;
                return Ok(());
            }
            frame = rx.recv() => {
                let Some(frame) = frame else { continue };
                let text = serde_json::to_string(&frame).map_err(|e| CoreError::Network(e.to_string()))?;
                sink.send(WsMessage::text(text)).await.map_err(|e| CoreError::Network(e.to_string()))?;
            }
            _ = ping.tick() => {
                sink.send(WsMessage::Ping(Vec::new().into())).await.map_err(|e| CoreError::Network(e.to_string()))?;
            }
            first = stream.next() => {
                let mut batch = Vec::new();
                let mut next = first;
                loop {
                    match next {
                        None => return Err(CoreError::Network("server closed the connection".into())),
                        Some(Err(e)) => return Err(CoreError::Network(e.to_string())),
                        Some(Ok(WsMessage::Text(t))) => match serde_json::from_str::<ServerEvent>(&t) {
                            Ok(ev) => batch.push(ev),
                            Err(e) => tracing::warn!(error = %e, "ignoring an event this client does not understand"),
                        },
                        Some(Ok(WsMessage::Close(_))) => return Err(CoreError::Network("server closed the connection".into())),
                        Some(Ok(_)) => {}
                    }
                    if batch.len() >= BATCH_MAX {
                        break;
                    }
                    match stream.next().now_or_never() {
                        Some(n) => next = n,
                        None => break,
                    }
                }
                apply_events(client, batch).await?;
            }
        }
    }
}

/// Applies pushed events, all messages of the batch in one transaction.
async fn apply_events(client: &Client, events: Vec<ServerEvent>) -> Result<()> {
    let me = client.me()?;
    let mut messages = Vec::new();
    for ev in events {
        match ev {
            ServerEvent::Message { message } => messages.push(message),
            ServerEvent::Receipt {
                conversation_id,
                user_id,
                kind,
                up_to_seq,
            } => {
                client
                    .inner
                    .cache
                    .apply_receipt(conversation_id, user_id, kind, up_to_seq)
                    .await?;
                client.emit(CoreEvent::Receipts { conversation_id });
            }
            ServerEvent::Typing {
                conversation_id,
                user_id,
                username,
            } if user_id != me => client.emit(CoreEvent::Typing {
                conversation_id,
                username,
            }),
            ServerEvent::Typing { .. } => {}
            ServerEvent::Played {
                message_id,
                user_id,
                ..
            } => client.apply_played(message_id, user_id).await?,
            ServerEvent::Conversation { conversation }
                if !conversation.members.iter().any(|m| m.user_id == me) =>
            {
                // Left, declined or removed: it goes from this device's lists.
                client.forget(conversation.id).await?;
            }
            ServerEvent::Conversation { conversation } => {
                let id = conversation.id;
                client
                    .inner
                    .cache
                    .upsert_conversations(&[conversation])
                    .await?;
                client.emit(CoreEvent::Conversation {
                    conversation: client.conversation(id).await?,
                });
            }
        }
    }
    let gaps = store_and_announce(client, &messages).await?;
    for conv in gaps {
        catch_up_conversation(client, conv).await?;
    }
    Ok(())
}

/// Stores messages, emits events, sends delivery receipts. Returns conversations whose
/// sequence has a gap (some message was missed) for a catch-up.
async fn store_and_announce(client: &Client, messages: &[Message]) -> Result<BTreeSet<Uuid>> {
    let (token, me) = client.auth()?;
    let cache = &client.inner.cache;
    let mut outcome = cache.store_messages(messages).await?;
    if !outcome.unknown_conversations.is_empty() {
        // Messages of a conversation this profile has not seen yet: learn it, then store.
        let convs = client.api().conversations(&token).await?;
        cache.upsert_conversations(&convs).await?;
        let retry: Vec<Message> = messages
            .iter()
            .filter(|m| outcome.unknown_conversations.contains(&m.conversation_id))
            .cloned()
            .collect();
        let more = cache.store_messages(&retry).await?;
        outcome.stored.extend(more.stored);
        for conv in more.unknown_conversations {
            tracing::warn!(%conv, "dropping messages of a conversation the server does not list");
        }
    }
    let per_message = messages.len() <= EVENTS_PER_BATCH_MAX;
    if per_message {
        for m in messages {
            if let Some(view) = cache.message(me.id, m.id).await? {
                client.emit(CoreEvent::Message { message: view });
            }
        }
    }
    let mut gaps = BTreeSet::new();
    for (conv, (top, _)) in &outcome.stored {
        if !per_message {
            client.emit(CoreEvent::Conversation {
                conversation: client.conversation(*conv).await?,
            });
        }
        let from_others = messages
            .iter()
            .any(|m| m.conversation_id == *conv && m.sender_id != me.id);
        if from_others {
            if let Err(e) = client
                .api()
                .receipt(&token, *conv, ReceiptKind::Delivered, *top)
                .await
            {
                tracing::info!(error = %e, "could not send a delivery receipt");
            }
        }
        if let Some((synced, _)) = cache.sync_positions(*conv).await? {
            if synced < *top {
                gaps.insert(*conv);
            }
        }
    }
    Ok(gaps)
}

/// Brings the cache up to date with the server: conversations, every message after the last
/// contiguous sequence stored, and read positions not yet acknowledged.
pub(crate) async fn catch_up(client: &Client) -> Result<()> {
    let (token, me) = client.auth()?;
    let cache = &client.inner.cache;
    client.refresh_safety().await?;
    let convs = client.api().conversations(&token).await?;
    cache.upsert_conversations(&convs).await?;
    // What the server no longer lists for this account (left, removed, declined or deleted
    // elsewhere) goes from this device too.
    for cached in cache.conversation_ids().await? {
        if !convs.iter().any(|c| c.id == cached) {
            client.forget(cached).await?;
        }
    }
    for conv in &convs {
        catch_up_conversation(client, conv.id).await?;
    }
    for (conv, seq) in cache.pending_reads(me.id).await? {
        match client
            .api()
            .receipt(&token, conv, ReceiptKind::Read, seq)
            .await
        {
            Ok(()) => cache.clear_pending_read(me.id, conv, seq).await?,
            Err(e) => tracing::info!(error = %e, "could not send a read receipt"),
        }
    }
    client.flush_pending_played().await?;
    client.catch_up_played().await
}

pub(crate) async fn catch_up_conversation(client: &Client, conv: Uuid) -> Result<()> {
    let (token, _) = client.auth()?;
    let cache = &client.inner.cache;
    let Some((mut synced, last)) = cache.sync_positions(conv).await? else {
        return Ok(());
    };
    if synced >= last {
        return Ok(());
    }
    loop {
        let page = client
            .api()
            .history(
                &token,
                conv,
                &HistoryQuery {
                    after_seq: Some(synced),
                    before_seq: None,
                    limit: Some(CATCH_UP_PAGE),
                },
            )
            .await?;
        let Some(top) = page.last().map(|m| m.seq) else {
            break;
        };
        store_and_announce_page(client, &page).await?;
        if page.len() < CATCH_UP_PAGE as usize || top <= synced {
            break;
        }
        synced = top;
    }
    Ok(())
}

/// A catch-up page: stored and announced like pushed messages, without recursing into gaps
/// (the page itself is the catch-up).
async fn store_and_announce_page(client: &Client, page: &[Message]) -> Result<()> {
    store_and_announce(client, page).await.map(|_| ())
}
