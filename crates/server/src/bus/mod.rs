//! Fan-out of [`ServerEvent`]s to the users they concern, behind a trait.
//!
//! [`LocalBus`] is the in-process default (one `broadcast` channel per connected user), enough
//! for a single instance. [`NatsBus`] joins several instances: each delivers to its own
//! connections through a [`LocalBus`] and relays every event through NATS to the instances
//! where the other recipients are connected (see `nats.rs` for why NATS).

mod nats;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use natter_protocol::ServerEvent;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;
use uuid::Uuid;

pub use nats::NatsBus;

/// Events a slow subscriber may fall behind by before it is told it lagged (and its socket is
/// closed so that the client resyncs). A user's channel holds this many slots from their first
/// feed on, whether used or not; each slot is an `Arc` (tens of bytes), so 256 costs a few KiB
/// per connected user, while a burst of 256 events to one person before their socket takes
/// any is far beyond any real conversation pace.
const CHANNEL_CAPACITY: usize = 256;

/// Opens the bus a URL names: `None` for this process only, `nats://HOST:PORT` for NATS.
pub async fn open(url: Option<&str>) -> anyhow::Result<std::sync::Arc<dyn Bus>> {
    match url {
        None => Ok(std::sync::Arc::new(LocalBus::new())),
        Some(url) if url.starts_with("nats://") || url.starts_with("tls://") => {
            Ok(std::sync::Arc::new(NatsBus::connect(url).await?))
        }
        Some(url) => anyhow::bail!("unsupported bus URL {url:?}: expected nats://HOST:PORT"),
    }
}

#[async_trait]
pub trait Bus: Send + Sync {
    /// Delivers `event` to every current subscription of each user, on every instance (best
    /// effort: a subscriber that may have missed events is told so and resyncs).
    async fn publish(&self, user_ids: &[Uuid], event: ServerEvent);
    /// A feed of the events published to `user_id` from now on, wherever they are published.
    async fn subscribe(&self, user_id: Uuid) -> Subscription;
    /// Whether events reach the other instances right now (always, for a single instance).
    fn is_ready(&self) -> bool;
    /// Tells every instance that the session with this token hash logged out: its open
    /// WebSockets close at once, wherever they are.
    async fn revoke(&self, token_hash: [u8; 32]);
    /// Token hashes of sessions logged out from now on, on any instance.
    fn revocations(&self) -> broadcast::Receiver<[u8; 32]>;
}

/// A user's live event feed. Events are shared (`Arc`): one copy per publish, whatever the
/// number of recipients, and a channel slot is a pointer rather than a whole event.
pub struct Subscription {
    events: broadcast::Receiver<Arc<ServerEvent>>,
    /// Bumped when events may have been lost on the way between instances.
    resync: Option<watch::Receiver<u64>>,
    /// Keeps the user's interest registered with the bus while the feed is open.
    _interest: Option<Box<dyn Send + Sync>>,
}

impl Subscription {
    fn local(events: broadcast::Receiver<Arc<ServerEvent>>) -> Self {
        Self {
            events,
            resync: None,
            _interest: None,
        }
    }

    /// The next event. `Lagged` means events were dropped and the client must resync;
    /// `Closed` that the bus is gone.
    pub async fn recv(&mut self) -> Result<Arc<ServerEvent>, RecvError> {
        let Some(resync) = self.resync.as_mut() else {
            return self.events.recv().await;
        };
        tokio::select! {
            biased;
            changed = resync.changed() => match changed {
                Ok(()) => Err(RecvError::Lagged(0)),
                Err(_) => Err(RecvError::Closed),
            },
            event = self.events.recv() => event,
        }
    }
}

pub struct LocalBus {
    channels: Mutex<HashMap<Uuid, broadcast::Sender<Arc<ServerEvent>>>>,
    revoked: broadcast::Sender<[u8; 32]>,
}

impl Default for LocalBus {
    fn default() -> Self {
        Self {
            channels: Mutex::default(),
            revoked: broadcast::channel(CHANNEL_CAPACITY).0,
        }
    }
}

impl LocalBus {
    pub fn new() -> Self {
        Self::default()
    }

    fn channels(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Uuid, broadcast::Sender<Arc<ServerEvent>>>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn deliver(&self, user_ids: &[Uuid], event: &Arc<ServerEvent>) {
        let mut channels = self.channels();
        for user_id in user_ids {
            if let Some(tx) = channels.get(user_id) {
                if tx.send(event.clone()).is_err() {
                    // nobody listens any more: forget the channel
                    channels.remove(user_id);
                }
            }
        }
    }

    fn receiver(&self, user_id: Uuid) -> broadcast::Receiver<Arc<ServerEvent>> {
        self.channels()
            .entry(user_id)
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, user_ids: &[Uuid], event: ServerEvent) {
        self.deliver(user_ids, &Arc::new(event));
    }

    async fn subscribe(&self, user_id: Uuid) -> Subscription {
        Subscription::local(self.receiver(user_id))
    }

    fn is_ready(&self) -> bool {
        true
    }

    async fn revoke(&self, token_hash: [u8; 32]) {
        // Nobody listening (no WebSocket open) is fine.
        let _ = self.revoked.send(token_hash);
    }

    fn revocations(&self) -> broadcast::Receiver<[u8; 32]> {
        self.revoked.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::ReceiptKind;

    pub(super) fn event(up_to_seq: i64) -> ServerEvent {
        ServerEvent::Receipt {
            conversation_id: Uuid::nil(),
            user_id: Uuid::nil(),
            kind: ReceiptKind::Read,
            up_to_seq,
        }
    }

    #[tokio::test]
    async fn events_reach_only_the_named_users() {
        let bus = LocalBus::new();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut rx_a = bus.subscribe(a).await;
        let mut rx_b = bus.subscribe(b).await;
        bus.publish(&[a], event(1)).await;
        assert_eq!(rx_a.recv().await.ok().as_deref(), Some(&event(1)));
        assert!(rx_b.events.try_recv().is_err());
    }

    #[tokio::test]
    async fn channels_of_departed_subscribers_are_dropped() {
        let bus = LocalBus::new();
        let a = Uuid::new_v4();
        drop(bus.subscribe(a).await);
        bus.publish(&[a], event(1)).await;
        assert!(bus.channels().is_empty());
    }
}
