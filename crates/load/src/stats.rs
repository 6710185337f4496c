//! What the senders and the WebSocket readers record, shared between all tasks.
//!
//! Every message carries its phase and its scheduled send time in its text
//! (`natter-load p<phase> t<µs since start> …`), so a reader needs no shared map to know
//! what it received: it parses the tag and records `now − scheduled` (one process clock).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use natter_protocol::ServerEvent;
use serde::Serialize;

/// Start of every message text this tool sends.
pub const TAG: &str = "natter-load p";

/// A latency histogram in microseconds, 1 µs to 1 hour at 3 significant digits.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).context("creating a histogram")
}

/// Locks a mutex; a panic elsewhere cannot leave counters inconsistent enough to matter.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whole microseconds of a duration (saturating, far beyond any run).
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// One phase: a step's warm-up or its measured part.
pub struct Phase {
    /// `message` events received for this phase's messages, on any socket.
    pub delivered: AtomicU64,
    /// Scheduled send time → event received, µs.
    pub latency: Mutex<Histogram<u64>>,
    pub send: Mutex<SendStats>,
}

/// The sending side of a phase.
pub struct SendStats {
    /// Messages whose send time came up.
    pub scheduled: u64,
    /// Of those, the requests actually issued.
    pub started: u64,
    /// Of those, answered 2xx.
    pub ok: u64,
    /// Deliveries the accepted messages should cause: their group's connected members
    /// (the sender's own socket included: the server sends it the event too).
    pub expected_deliveries: u64,
    pub failures: BTreeMap<String, u64>,
    /// Scheduled send time → HTTP answer, µs.
    pub response: Histogram<u64>,
    /// Scheduled send time → request issued, µs: how far the load generator fell behind.
    pub start_lag: Histogram<u64>,
}

/// Everything all tasks share.
pub struct Shared {
    /// The clock every timestamp is measured from.
    pub base: Instant,
    pub phases: Vec<Phase>,
    /// Per user: whether its WebSocket is open.
    pub connected: Vec<AtomicBool>,
    /// All `message` events received.
    pub message_events: AtomicU64,
    /// `message` events without this tool's tag (another run's leftovers).
    pub foreign_events: AtomicU64,
    /// Other events (receipts, conversations…), and frames that did not parse.
    pub other_events: AtomicU64,
    pub unparsed_frames: AtomicU64,
    /// WebSockets that closed or failed, by reason.
    pub disconnects: Mutex<BTreeMap<String, u64>>,
    pub disconnect_count: AtomicU64,
    /// Send requests in flight.
    pub in_flight: AtomicUsize,
}

impl Shared {
    pub fn new(phases: usize, users: usize) -> anyhow::Result<Self> {
        let phases = (0..phases)
            .map(|_| {
                Ok(Phase {
                    delivered: AtomicU64::new(0),
                    latency: Mutex::new(histogram()?),
                    send: Mutex::new(SendStats {
                        scheduled: 0,
                        started: 0,
                        ok: 0,
                        expected_deliveries: 0,
                        failures: BTreeMap::new(),
                        response: histogram()?,
                        start_lag: histogram()?,
                    }),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            base: Instant::now(),
            phases,
            connected: (0..users).map(|_| AtomicBool::new(false)).collect(),
            message_events: AtomicU64::new(0),
            foreign_events: AtomicU64::new(0),
            other_events: AtomicU64::new(0),
            unparsed_frames: AtomicU64::new(0),
            disconnects: Mutex::new(BTreeMap::new()),
            disconnect_count: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    /// Microseconds from the start of the run to `at`.
    pub fn stamp(&self, at: Instant) -> u64 {
        micros(at.saturating_duration_since(self.base))
    }

    /// Handles one text frame from the server (a `ServerEvent`).
    pub fn on_frame(&self, text: &str) {
        let received = self.stamp(Instant::now());
        match serde_json::from_str::<ServerEvent>(text) {
            Ok(ServerEvent::Message { message }) => {
                self.message_events.fetch_add(1, Ordering::Relaxed);
                match parse_tag(&message.text).filter(|(p, _)| *p < self.phases.len()) {
                    Some((phase, sent)) => {
                        let phase = &self.phases[phase];
                        phase.delivered.fetch_add(1, Ordering::Relaxed);
                        lock(&phase.latency)
                            .saturating_record(received.saturating_sub(sent).max(1));
                    }
                    None => {
                        self.foreign_events.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok(_) => {
                self.other_events.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.unparsed_frames.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn disconnected(&self, user: usize, reason: String) {
        if let Some(c) = self.connected.get(user) {
            c.store(false, Ordering::Relaxed);
        }
        self.disconnect_count.fetch_add(1, Ordering::Relaxed);
        *lock(&self.disconnects).entry(reason).or_default() += 1;
    }
}

/// The text of a message of phase `phase` scheduled at `stamp` µs.
pub fn message_text(phase: usize, stamp: u64, padding: &str) -> String {
    format!("{TAG}{phase} t{stamp} {padding}")
}

/// `(phase, scheduled µs)` from a message text this tool wrote.
pub fn parse_tag(text: &str) -> Option<(usize, u64)> {
    let mut parts = text.strip_prefix(TAG)?.split(' ');
    let phase = parts.next()?.parse().ok()?;
    let stamp = parts.next()?.strip_prefix('t')?.parse().ok()?;
    Some((phase, stamp))
}

/// Percentiles of a histogram, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Percentiles {
    /// No samples: all zero.
    pub fn empty() -> Self {
        Self {
            count: 0,
            p50_ms: 0.0,
            p90_ms: 0.0,
            p99_ms: 0.0,
            p999_ms: 0.0,
            max_ms: 0.0,
            mean_ms: 0.0,
        }
    }

    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Self::empty();
        }
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        let text = message_text(7, 123_456, "xxxx");
        assert_eq!(parse_tag(&text), Some((7, 123_456)));
        assert_eq!(parse_tag("hello"), None);
        assert_eq!(parse_tag("natter-load pX t1"), None);
    }

    #[test]
    fn deliveries_are_recorded_against_their_phase() {
        let shared = Shared::new(2, 1).unwrap();
        let message = natter_protocol::Message {
            id: uuid::Uuid::now_v7(),
            conversation_id: uuid::Uuid::now_v7(),
            seq: 1,
            sender_id: uuid::Uuid::now_v7(),
            sender: "a".into(),
            text: message_text(1, 0, ""),
            sent_at: 0,
            voice: None,
            played_by: vec![],
            media: vec![],
            withheld: None,
            event: None,
        };
        let frame = serde_json::to_string(&ServerEvent::Message { message }).unwrap();
        shared.on_frame(&frame);
        shared.on_frame("{\"type\":\"nonsense\"}");
        assert_eq!(shared.phases[1].delivered.load(Ordering::Relaxed), 1);
        assert_eq!(shared.phases[0].delivered.load(Ordering::Relaxed), 0);
        assert_eq!(lock(&shared.phases[1].latency).len(), 1);
        assert_eq!(shared.unparsed_frames.load(Ordering::Relaxed), 1);
    }
}
