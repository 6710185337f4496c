//! Fan-out between instances through NATS.
//!
//! Why NATS and not Redis pub/sub: NATS routes by subject *interest*. Each instance subscribes
//! to the subjects of the users connected to it (`natter.user.<id>`), so an event crosses only
//! to the instances that have one of its recipients, and the NATS server does the routing;
//! Redis pub/sub in a cluster broadcasts every message to every node. NATS is a single small
//! static binary with nothing to persist for plain pub/sub (this bus needs no JetStream), it
//! clusters without sharding decisions, and its maintainers publish the Rust client
//! (`async-nats`, pure Rust over rustls, reconnecting and resubscribing by itself).
//!
//! Delivery is at most once, like any live feed: the database is the record. When the
//! connection to NATS drops, events from other instances may be lost, so after it comes back
//! every local feed is told it lagged; the WebSocket closes with "reconnect and resync" and
//! the client catches up from the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use futures_util::StreamExt as _;
use natter_protocol::ServerEvent;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use uuid::Uuid;

use super::{Bus, LocalBus, Subscription};

/// How long a new feed waits for NATS to confirm its subscription before going on anyway (the
/// client's catch-up from the database covers what an unconfirmed subscription misses).
const SUBSCRIBE_CONFIRM: Duration = Duration::from_secs(2);

/// What travels on a user's subject: the event and the instance that published it.
#[derive(Serialize, Deserialize)]
struct Envelope<E = ServerEvent> {
    origin: Uuid,
    event: E,
}

pub struct NatsBus {
    client: async_nats::Client,
    /// This instance; events it published itself are already delivered locally.
    origin: Uuid,
    local: Arc<LocalBus>,
    interests: Arc<Mutex<HashMap<Uuid, Interest>>>,
    resync: Arc<watch::Sender<u64>>,
    connected: Arc<AtomicBool>,
}

/// The NATS subscription of one user connected to this instance, shared by their feeds.
struct Interest {
    feeds: usize,
    /// Becomes true once NATS confirmed the subscription.
    ready: watch::Receiver<bool>,
    forward: tokio::task::JoinHandle<()>,
}

/// Where log-outs are announced to every instance (the payload is the token's SHA-256).
const REVOKED_SUBJECT: &str = "natter.sessions.revoked";

fn subject(user_id: Uuid) -> String {
    format!("natter.user.{}", user_id.simple())
}

impl NatsBus {
    /// Connects to the NATS server at `url`; fails if it cannot be reached now (later
    /// outages are ridden out by reconnecting).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let resync = Arc::new(watch::channel(0u64).0);
        let connected = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(AtomicBool::new(false));
        let (on_connected, on_lost, on_resync) = (connected.clone(), lost, resync.clone());
        let client = async_nats::ConnectOptions::new()
            .name("natter-server")
            // This instance delivers its own events locally; NATS need not echo them back.
            .no_echo()
            .event_callback(move |event| {
                let (connected, lost, resync) =
                    (on_connected.clone(), on_lost.clone(), on_resync.clone());
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            connected.store(true, Ordering::SeqCst);
                            if lost.swap(false, Ordering::SeqCst) {
                                // Back after an outage: feeds may have missed events.
                                tracing::warn!("bus reconnected; open feeds resync");
                                resync.send_modify(|generation| *generation += 1);
                            }
                        }
                        async_nats::Event::Disconnected => {
                            connected.store(false, Ordering::SeqCst);
                            lost.store(true, Ordering::SeqCst);
                            tracing::error!("bus disconnected; reconnecting");
                        }
                        other => tracing::info!(event = %other, "bus event"),
                    }
                }
            })
            .connect(url)
            .await
            .with_context(|| format!("connecting to the bus at {url}"))?;
        connected.store(true, Ordering::SeqCst);
        let local = Arc::new(LocalBus::new());
        let mut revocations = client
            .subscribe(REVOKED_SUBJECT)
            .await
            .with_context(|| format!("subscribing to {REVOKED_SUBJECT}"))?;
        let revoked = local.revoked.clone();
        tokio::spawn(async move {
            while let Some(message) = revocations.next().await {
                match <[u8; 32]>::try_from(message.payload.as_ref()) {
                    Ok(hash) => {
                        let _ = revoked.send(hash);
                    }
                    Err(_) => tracing::warn!("malformed log-out notice dropped"),
                }
            }
        });
        tracing::info!(%url, "bus connected");
        Ok(Self {
            client,
            origin: Uuid::new_v4(),
            local,
            interests: Default::default(),
            resync,
            connected,
        })
    }

    fn interests(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Interest>> {
        lock(&self.interests)
    }

    /// Registers one more feed of `user_id`; the first one subscribes to their subject.
    async fn join(&self, user_id: Uuid) -> watch::Receiver<bool> {
        let (ready_tx, ready_rx) = watch::channel(false);
        {
            let mut interests = self.interests();
            if let Some(interest) = interests.get_mut(&user_id) {
                interest.feeds += 1;
                return interest.ready.clone();
            }
            let forward = tokio::spawn(forward(
                self.client.clone(),
                user_id,
                self.origin,
                self.local.clone(),
                ready_tx,
            ));
            interests.insert(
                user_id,
                Interest {
                    feeds: 1,
                    ready: ready_rx.clone(),
                    forward,
                },
            );
        }
        ready_rx
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the map inconsistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Subscribes to `user_id`'s subject and hands what other instances publish there to the
/// local feeds, until aborted (the user's last feed on this instance closed).
async fn forward(
    client: async_nats::Client,
    user_id: Uuid,
    origin: Uuid,
    local: Arc<LocalBus>,
    ready: watch::Sender<bool>,
) {
    let mut subscriber = match client.subscribe(subject(user_id)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(%user_id, error = %e, "bus subscription failed; live events from other instances are missed");
            return;
        }
    };
    // The subscription is in effect at the server once a flush after it returns.
    if let Err(e) = client.flush().await {
        tracing::warn!(%user_id, error = %e, "bus subscription not confirmed");
    }
    ready.send_replace(true);
    while let Some(message) = subscriber.next().await {
        match serde_json::from_slice::<Envelope>(&message.payload) {
            Ok(envelope) if envelope.origin == origin => {}
            Ok(envelope) => local.deliver(&[user_id], &Arc::new(envelope.event)),
            Err(e) => tracing::warn!(%user_id, error = %e, "malformed bus event dropped"),
        }
    }
}

/// Keeps a user's interest registered while one of their feeds is open.
struct Feed {
    user_id: Uuid,
    interests: Arc<Mutex<HashMap<Uuid, Interest>>>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        let mut interests = lock(&self.interests);
        if let Some(interest) = interests.get_mut(&self.user_id) {
            interest.feeds -= 1;
            if interest.feeds == 0 {
                // Dropping the subscriber inside the task unsubscribes at the server.
                interest.forward.abort();
                interests.remove(&self.user_id);
            }
        }
    }
}

#[async_trait]
impl Bus for NatsBus {
    async fn publish(&self, user_ids: &[Uuid], event: ServerEvent) {
        let event = Arc::new(event);
        self.local.deliver(user_ids, &event);
        let payload = match serde_json::to_vec(&Envelope {
            origin: self.origin,
            event: &*event,
        }) {
            Ok(p) => axum::body::Bytes::from(p),
            Err(e) => {
                tracing::error!(error = %e, "serialising a bus event");
                return;
            }
        };
        for user_id in user_ids {
            if let Err(e) = self
                .client
                .publish(subject(*user_id), payload.clone())
                .await
            {
                tracing::warn!(%user_id, error = %e, "bus publish failed");
            }
        }
    }

    async fn subscribe(&self, user_id: Uuid) -> Subscription {
        // Local channel first, so nothing relayed once the subscription is live is missed.
        let events = self.local.receiver(user_id);
        let resync = self.resync.subscribe();
        let mut ready = self.join(user_id).await;
        let feed = Feed {
            user_id,
            interests: self.interests.clone(),
        };
        if tokio::time::timeout(SUBSCRIBE_CONFIRM, ready.wait_for(|r| *r))
            .await
            .is_err()
        {
            tracing::warn!(%user_id, "bus subscription not confirmed in time");
        }
        Subscription {
            events,
            resync: Some(resync),
            _interest: Some(Box::new(feed)),
        }
    }

    async fn revoke(&self, token_hash: [u8; 32]) {
        let _ = self.local.revoked.send(token_hash);
        let payload = axum::body::Bytes::copy_from_slice(&token_hash);
        if let Err(e) = self.client.publish(REVOKED_SUBJECT, payload).await {
            // Its WebSockets elsewhere still close on their next reconnect: the session is
            // gone from the database.
            tracing::warn!(error = %e, "log-out notice not sent to other instances");
        }
    }

    fn revocations(&self) -> tokio::sync::broadcast::Receiver<[u8; 32]> {
        self.local.revocations()
    }

    fn is_ready(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
            && self.client.connection_state() == async_nats::connection::State::Connected
    }
}
