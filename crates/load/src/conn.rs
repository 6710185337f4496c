//! The WebSocket side: one `GET /v1/ws` per user, held open for the whole run, every frame
//! handed to [`Shared::on_frame`].

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::{stream, StreamExt as _};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::stats::{histogram, micros, Percentiles, Shared};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
/// A user's index and its open socket with the time it took, or why it failed.
type Attempt = (usize, Result<(Ws, Duration), String>);

/// Read buffer of each socket. The server's events are well under 1 KiB; tungstenite's
/// default of 128 KiB a socket would make this tool alone 1.3 GB at 10,000 connections.
const READ_BUFFER: usize = 4096;
/// Handshake attempts per user before it counts as failed.
const ATTEMPTS: usize = 3;

/// How the connect phase went.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectReport {
    pub wanted: usize,
    pub opened: usize,
    /// Wall time from the first handshake to the last one answered.
    pub secs: f64,
    pub per_sec: f64,
    /// One handshake (TCP connect + upgrade + the server's token check), retries included.
    pub handshake: Percentiles,
    /// Users whose every attempt failed, by the last error.
    pub failures: BTreeMap<String, u64>,
}

/// The WebSocket URL of a server's base URL.
pub fn ws_url(server: &str) -> String {
    let base = if let Some(rest) = server.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = server.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        server.to_string()
    };
    format!("{}/v1/ws", base.trim_end_matches('/'))
}

/// Opens one WebSocket per `(server, token)`, `concurrency` handshakes at a time; each open
/// socket gets a reader task. Returns the report and the reader tasks.
pub async fn connect_all(
    targets: Vec<(String, String)>,
    shared: Arc<Shared>,
    concurrency: usize,
) -> (ConnectReport, Vec<JoinHandle<()>>) {
    let wanted = targets.len();
    let started = Instant::now();
    let results: Vec<Attempt> = stream::iter(targets.into_iter().enumerate())
        .map(|(i, (server, token))| async move {
            let t0 = Instant::now();
            let mut last = String::new();
            for attempt in 0..ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                match connect(&server, &token).await {
                    Ok(ws) => return (i, Ok((ws, t0.elapsed()))),
                    Err(e) => last = e,
                }
            }
            (i, Err(last))
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();

    let mut handshakes = histogram().ok();
    let mut failures = BTreeMap::new();
    let mut readers = Vec::with_capacity(wanted);
    for (i, result) in results {
        match result {
            Ok((ws, took)) => {
                if let Some(h) = handshakes.as_mut() {
                    h.saturating_record(micros(took).max(1));
                }
                shared.connected[i].store(true, Ordering::Relaxed);
                readers.push(tokio::spawn(read(ws, i, shared.clone())));
            }
            Err(e) => *failures.entry(e).or_default() += 1,
        }
    }
    let opened = readers.len();
    let handshake = handshakes
        .as_ref()
        .map_or_else(Percentiles::empty, Percentiles::of);
    (
        ConnectReport {
            wanted,
            opened,
            secs,
            per_sec: opened as f64 / secs.max(0.001),
            handshake,
            failures,
        },
        readers,
    )
}

/// One handshake, the token as `Authorization: Bearer` (as native clients send it).
async fn connect(server: &str, token: &str) -> Result<Ws, String> {
    let mut request = ws_url(server)
        .into_client_request()
        .map_err(|e| format!("bad URL: {e}"))?;
    let auth =
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| format!("token: {e}"))?;
    request.headers_mut().insert(AUTHORIZATION, auth);
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    match tokio_tungstenite::connect_async_with_config(request, Some(config), true).await {
        Ok((ws, _response)) => Ok(ws),
        Err(WsError::Http(resp)) => Err(format!("HTTP {}", resp.status().as_u16())),
        Err(WsError::Io(e)) => Err(format!("I/O: {}", e.kind())),
        Err(e) => Err(e.to_string()),
    }
}

/// Reads one socket until it closes; every frame goes to the shared counters. Reading also
/// answers the server's pings (tungstenite queues the pong and flushes it on the next read).
async fn read(mut ws: Ws, user: usize, shared: Arc<Shared>) {
    let reason = loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => shared.on_frame(text.as_str()),
            Some(Ok(Message::Close(frame))) => {
                break match frame {
                    Some(f) => format!(
                        "closed by server: {} {}",
                        u16::from(f.code),
                        f.reason.as_str()
                    ),
                    None => "closed by server".to_string(),
                };
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => break format!("error: {e}"),
            None => break "stream ended".to_string(),
        }
    };
    shared.disconnected(user, reason);
}

/// Ends every reader task; dropping a socket closes its TCP connection (no close frame: the
/// server sees a lost connection, which it handles like any other).
pub async fn drop_all(readers: Vec<JoinHandle<()>>) -> anyhow::Result<()> {
    for r in &readers {
        r.abort();
    }
    for r in readers {
        match r.await {
            Ok(()) => {}
            Err(e) if e.is_cancelled() => {}
            Err(e) => return Err(e).context("a reader task panicked"),
        }
    }
    Ok(())
}
