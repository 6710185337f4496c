//! Fan-out of [`ServerEvent`]s to the users they concern, behind a trait.
//!
//! [`LocalBus`] is the in-process default (one `broadcast` channel per connected user). A
//! distributed bus (Redis, NATS, PostgreSQL `LISTEN`) implements the same trait by
//! forwarding remote events into the same kind of per-user local channel.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use natter_protocol::ServerEvent;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Events a slow subscriber may fall behind by before it is told it lagged.
const CHANNEL_CAPACITY: usize = 256;

/// A user's live event feed; `Lagged` means events were dropped and the client must resync.
pub type Subscription = broadcast::Receiver<ServerEvent>;

#[async_trait]
pub trait Bus: Send + Sync {
    /// Delivers `event` to every current subscription of each user (best effort).
    async fn publish(&self, user_ids: &[Uuid], event: ServerEvent);
    /// A feed of the events published to `user_id` from now on.
    fn subscribe(&self, user_id: Uuid) -> Subscription;
}

#[derive(Default)]
pub struct LocalBus {
    channels: Mutex<HashMap<Uuid, broadcast::Sender<ServerEvent>>>,
}

impl LocalBus {
    pub fn new() -> Self {
        Self::default()
    }

    fn channels(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, broadcast::Sender<ServerEvent>>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, user_ids: &[Uuid], event: ServerEvent) {
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

    fn subscribe(&self, user_id: Uuid) -> Subscription {
        self.channels()
            .entry(user_id)
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::ReceiptKind;

    fn event() -> ServerEvent {
        ServerEvent::Receipt {
            conversation_id: Uuid::nil(),
            user_id: Uuid::nil(),
            kind: ReceiptKind::Read,
            up_to_seq: 1,
        }
    }

    #[tokio::test]
    async fn events_reach_only_the_named_users() {
        let bus = LocalBus::new();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut rx_a = bus.subscribe(a);
        let mut rx_b = bus.subscribe(b);
        bus.publish(&[a], event()).await;
        assert_eq!(rx_a.recv().await.ok(), Some(event()));
        assert!(rx_b.try_recv().is_err());
    }

    #[tokio::test]
    async fn channels_of_departed_subscribers_are_dropped() {
        let bus = LocalBus::new();
        let a = Uuid::new_v4();
        drop(bus.subscribe(a));
        bus.publish(&[a], event()).await;
        assert!(bus.channels().is_empty());
    }
}
