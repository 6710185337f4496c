//! `GET /v1/ws`: the live event feed of a signed-in user.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::header::ORIGIN;
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt as _, StreamExt as _};
use natter_protocol::{Account, ApiError, ClientFrame, ErrorCode, ServerEvent};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::auth::authenticate_dm;
use crate::bus::Subscription;
use crate::error::{Error, Result};
use crate::state::AppState;

/// How often the server pings an idle socket (keeps proxies from dropping it).
const PING_EVERY: Duration = Duration::from_secs(20);
/// Close code "going away": the server is shutting down.
const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code "try again later": the client fell behind and must resync.
const CLOSE_TRY_AGAIN: u16 = 1013;
/// Close code "policy violation": the session was logged out.
const CLOSE_SESSION_ENDED: u16 = 1008;
/// Close code "message too big": a client frame over [`FEED_MAX_CLIENT_MESSAGE`].
const CLOSE_TOO_BIG: u16 = 1009;

// What a client sends on the feed is tiny: `typing` frames (~70 bytes of JSON), pings and
// pongs (at most 125 bytes), a close. The read buffer is allocated per socket and zero-filled
// up to its capacity on every read attempt, so the library's 128 KiB default costs memory
// with every connection and CPU with every event sent (each wakes the read side); a frame
// larger than the buffer still fits, the buffer grows for it.
/// Read buffer of a feed socket: room for dozens of client frames.
const FEED_READ_BUFFER: usize = 1024;
/// Largest message (and frame) a client may send on the feed, with ample room for new kinds
/// of small frames; anything bigger ends the connection (and never reaches memory).
pub const FEED_MAX_CLIENT_MESSAGE: usize = 4096;

/// Open the event feed. Each `ServerEvent` arrives as one JSON text frame; the client may
/// send `ClientFrame`s. Browsers must come from an allowed origin.
#[utoipa::path(
    get, path = "/v1/ws", tag = "live",
    security(("bearer" = [])),
    responses(
        (status = 101, description = "Switching to WebSocket; frames are ServerEvent / ClientFrame JSON"),
        (status = 401, description = "unauthenticated", body = ApiError),
        (status = 403, description = "forbidden_origin", body = ApiError),
    )
)]
pub async fn ws(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: std::result::Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response> {
    // Native clients send no Origin; browsers always do. Refusing foreign origins blocks
    // cross-site WebSocket hijacking with a victim's credentials.
    if let Some(origin) = headers.get(ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| state.allowed_origins.iter().any(|a| a == o));
        if !allowed {
            return Err(Error::api(
                ErrorCode::ForbiddenOrigin,
                format!("WebSocket connections from origin {origin:?} are not allowed"),
            ));
        }
    }
    let user = authenticate_dm(&state, &headers).await?;
    let upgrade = upgrade.map_err(|e| Error::api(ErrorCode::BadRequest, e.body_text()))?;
    let account = state
        .store
        .account(user.id)
        .await?
        .ok_or_else(Error::unauthenticated)?;
    // Subscribe before answering, so nothing published after the 101 is missed.
    let events = state.bus.subscribe(user.id).await;
    let revoked = state.bus.revocations();
    let tasks = state.tasks.clone();
    let upgrade = upgrade
        .read_buffer_size(FEED_READ_BUFFER)
        // Each event is written and flushed at once; nothing is gained by coalescing.
        .write_buffer_size(0)
        .max_message_size(FEED_MAX_CLIENT_MESSAGE)
        .max_frame_size(FEED_MAX_CLIENT_MESSAGE);
    Ok(upgrade.on_upgrade(move |socket| {
        tasks.track_future(run(
            socket,
            state,
            account,
            events,
            (user.token_hash, revoked),
        ))
    }))
}

#[tracing::instrument(skip_all, fields(user_id = %account.id))]
async fn run(
    socket: WebSocket,
    state: AppState,
    account: Account,
    mut events: Subscription,
    (token_hash, mut revoked): ([u8; 32], tokio::sync::broadcast::Receiver<[u8; 32]>),
) {
    tracing::info!("websocket open");
    let _open = state.metrics.connection();
    let (mut sink, mut stream) = socket.split();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let close = loop {
        tokio::select! {
            () = state.shutdown.cancelled() => {
                break Some((CLOSE_GOING_AWAY, "server shutting down"));
            }
            gone = revoked.recv() => match gone {
                Ok(hash) if hash == token_hash => {
                    tracing::info!("session logged out; closing its websocket");
                    break Some((CLOSE_SESSION_ENDED, "session ended"));
                }
                // Another session's log-out, or missed notices (a log-out is also checked on
                // the next request and reconnect).
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break Some((CLOSE_GOING_AWAY, "server shutting down")),
            },
            event = events.recv() => match event {
                Ok(event) => {
                    let sent_at = match &*event {
                        ServerEvent::Message { message } => Some(message.sent_at),
                        _ => None,
                    };
                    let text = match serde_json::to_string(&*event) {
                        Ok(t) => t,
                        Err(e) => {
                            tracing::error!(error = %e, "serialising event");
                            continue;
                        }
                    };
                    if sink.send(WsMessage::Text(text.into())).await.is_err() {
                        break None;
                    }
                    if let Some(sent_at) = sent_at {
                        state.metrics.delivered(sent_at);
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "websocket fell behind; closing so the client resyncs");
                    break Some((CLOSE_TRY_AGAIN, "fell behind; reconnect and resync"));
                }
                Err(RecvError::Closed) => break Some((CLOSE_GOING_AWAY, "event feed closed")),
            },
            frame = stream.next() => match frame {
                Some(Ok(WsMessage::Text(text))) => handle_frame(&state, &account, text.as_str()).await,
                Some(Ok(WsMessage::Close(_))) | None => break None,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    let e = e.into_inner();
                    // Told why, as RFC 6455 asks, so a client does not retry the same frame.
                    if let Some(tungstenite::Error::Capacity(why)) = e.downcast_ref() {
                        tracing::warn!(error = %why, "client frame too big; closing");
                        break Some((CLOSE_TOO_BIG, "message too big"));
                    }
                    tracing::debug!(error = %e, "websocket read failed");
                    break None;
                }
            },
            _ = ping.tick() => {
                if sink.send(WsMessage::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        if let Err(e) = sink.send(WsMessage::Close(Some(frame))).await {
            tracing::debug!(error = %e, "sending close frame");
        }
    }
    tracing::info!("websocket closed");
}

async fn handle_frame(state: &AppState, account: &Account, text: &str) {
    let frame = match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => frame,
        Err(e) => {
            tracing::warn!(error = %e, "malformed websocket frame ignored");
            return;
        }
    };
    match frame {
        ClientFrame::Typing { conversation_id } => {
            match state.store.member_ids(conversation_id, account.id).await {
                Ok(Some(members)) => {
                    let mut others: Vec<Uuid> =
                        members.into_iter().filter(|id| *id != account.id).collect();
                    // Blocking hides one's presence: no typing either way.
                    match state.store.blocks_with(account.id, &others).await {
                        Ok(blocked) => others.retain(|id| !blocked.contains(id)),
                        Err(e) => {
                            tracing::warn!(error = %e, "typing frame dropped: blocks unknown");
                            return;
                        }
                    }
                    state
                        .bus
                        .publish(
                            &others,
                            ServerEvent::Typing {
                                conversation_id,
                                user_id: account.id,
                                username: account.username.clone(),
                            },
                        )
                        .await;
                }
                Ok(None) => {
                    tracing::warn!(%conversation_id, "typing frame for a conversation the user is not in")
                }
                Err(e) => tracing::warn!(error = %e, "typing frame failed"),
            }
        }
    }
}
