//! Open-loop sending: messages are scheduled at fixed intervals for the offered rate and each
//! is sent by its own task, whether or not earlier ones were answered. A slow server thus
//! shows up as latency (measured from the scheduled time), never as a lower offered rate:
//! no coordinated omission.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::sync::Semaphore;

use crate::api::Api;
use crate::setup::State;
use crate::stats::{lock, message_text, micros, Shared};

/// What every send task needs.
pub struct Ctx {
    pub api: Api,
    pub state: State,
    pub shared: Arc<Shared>,
    pub padding: String,
    pub max_in_flight: usize,
    /// Per instance: turns to have a send request open (see `--http-connections`).
    pub http_turns: Vec<Semaphore>,
}

/// Sends at `rate` messages a second for `secs`, tagging them with `phase`. Returns when the
/// last one is scheduled (its request may still be in flight).
pub async fn drive(ctx: &Arc<Ctx>, phase: usize, rate: f64, secs: u64) {
    let groups = ctx.state.groups.len();
    if groups == 0 {
        return;
    }
    // Rounded: a fractional message at the end of a step is not worth a special case.
    let total = (rate * secs as f64).round() as u64;
    let interval = 1.0 / rate;
    let start = Instant::now();
    let mut rng = StdRng::from_entropy();
    for i in 0..total {
        let at = start + Duration::from_secs_f64(i as f64 * interval);
        // Past deadlines return at once, so a late scheduler catches up in a burst.
        tokio::time::sleep_until(at.into()).await;
        let stats = &ctx.shared.phases[phase];
        if ctx.shared.in_flight.load(Ordering::Relaxed) >= ctx.max_in_flight {
            let mut send = lock(&stats.send);
            send.scheduled += 1;
            *send
                .failures
                .entry("not sent: in-flight cap".into())
                .or_default() += 1;
            continue;
        }
        lock(&stats.send).scheduled += 1;
        ctx.shared.in_flight.fetch_add(1, Ordering::Relaxed);
        let group = rng.gen_range(0..groups);
        let members = &ctx.state.groups[group].members;
        let sender = members[rng.gen_range(0..members.len())];
        tokio::spawn(send_one(ctx.clone(), phase, group, sender, at));
    }
}

/// One message from `sender` to `group`, scheduled at `scheduled`.
async fn send_one(ctx: Arc<Ctx>, phase: usize, group: usize, sender: usize, scheduled: Instant) {
    let shared = &ctx.shared;
    let started = Instant::now();
    let text = message_text(phase, shared.stamp(scheduled), &ctx.padding);
    let group = &ctx.state.groups[group];
    let turns = &ctx.http_turns[sender % ctx.http_turns.len()];
    let result = match turns.acquire().await {
        Ok(_turn) => {
            ctx.api
                .send_text(
                    ctx.api.server_of(sender),
                    &ctx.state.users[sender].token,
                    group.id,
                    text,
                )
                .await
        }
        Err(_) => Err("not sent: no turn (closed)".to_string()),
    };
    let answered = Instant::now();
    let expected = group
        .members
        .iter()
        .filter(|&&m| shared.connected[m].load(Ordering::Relaxed))
        .count() as u64;
    {
        let mut send = lock(&shared.phases[phase].send);
        send.started += 1;
        send.start_lag
            .saturating_record(micros(started.saturating_duration_since(scheduled)).max(1));
        match result {
            Ok(()) => {
                send.ok += 1;
                send.expected_deliveries += expected;
                send.response.saturating_record(
                    micros(answered.saturating_duration_since(scheduled)).max(1),
                );
            }
            Err(label) => *send.failures.entry(label).or_default() += 1,
        }
    }
    shared.in_flight.fetch_sub(1, Ordering::Relaxed);
}

/// Waits until no send is in flight, at most `within`; returns whether they all finished.
pub async fn wait_in_flight(shared: &Shared, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while shared.in_flight.load(Ordering::Relaxed) > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// Waits until a phase's deliveries reach what its accepted messages should cause, at most
/// `within`; returns whether they did.
pub async fn wait_deliveries(shared: &Shared, phase: usize, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let p = &shared.phases[phase];
    loop {
        let expected = lock(&p.send).expected_deliveries;
        if p.delivered.load(Ordering::Relaxed) >= expected {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
