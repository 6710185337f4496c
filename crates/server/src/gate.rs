//! A cap on costly work: at most `at_once` jobs run, at most `queued` more wait their turn,
//! and anything beyond that is turned away at once (`503 server_busy` with `Retry-After`)
//! instead of waiting without bound. Checking uploaded media (decoding, classifying,
//! hashing) goes through one, so a burst of uploads costs a bounded amount of memory and
//! CPU, and other requests keep being answered.

use std::sync::atomic::{AtomicUsize, Ordering};

use natter_protocol::ApiError;
use tokio::sync::{Semaphore, SemaphorePermit};

/// How many jobs of a kind run at once and how many may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateSize {
    pub at_once: usize,
    pub queued: usize,
}

impl GateSize {
    /// One job per core, and four per core waiting.
    pub fn per_core() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            at_once: cores,
            queued: 4 * cores,
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct Gate {
    what: &'static str,
    permits: Semaphore,
    /// Jobs running or waiting.
    inside: AtomicUsize,
    size: GateSize,
    retry_after_s: u64,
}

/// Held while a job runs; dropping it lets the next one in.
#[derive(Debug)]
pub struct Pass<'a> {
    _permit: SemaphorePermit<'a>,
    inside: &'a AtomicUsize,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.inside.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a job that gave up waiting (its request was dropped) out again.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    /// `what` names the work in the busy answer ("checking uploads"); `retry_after_s` is what
    /// that answer asks the client to wait.
    pub fn new(what: &'static str, size: GateSize, retry_after_s: u64) -> Self {
        Self {
            what,
            permits: Semaphore::new(size.at_once.max(1)),
            inside: AtomicUsize::new(0),
            size,
            retry_after_s,
        }
    }

    /// Waits for a turn, or answers `server_busy` at once when the queue is full.
    pub async fn enter(&self) -> Result<Pass<'_>, ApiError> {
        let limit = self.size.at_once.max(1) + self.size.queued;
        let before = self.inside.fetch_add(1, Ordering::AcqRel);
        let waiting = Waiting(&self.inside);
        if before >= limit {
            tracing::warn!(
                what = self.what,
                inside = before,
                "too much work waiting: turned away"
            );
            return Err(ApiError::server_busy(
                &format!("the server is busy {}", self.what),
                self.retry_after_s,
            ));
        }
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::server_busy("the server is shutting down", 1))?;
        std::mem::forget(waiting);
        Ok(Pass {
            _permit: permit,
            inside: &self.inside,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use natter_protocol::ErrorCode;

    use super::*;

    #[tokio::test]
    async fn runs_at_most_its_size_queues_a_few_and_turns_the_rest_away() {
        let gate = Gate::new(
            "checking uploads",
            GateSize {
                at_once: 2,
                queued: 1,
            },
            3,
        );
        let a = gate.enter().await.unwrap();
        let _b = gate.enter().await.unwrap();
        // The third waits for a turn...
        let waiting = gate.enter();
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut waiting)
                .await
                .is_err(),
            "no third at once"
        );
        // ...and the fourth is turned away, saying when to come back.
        let busy = gate.enter().await.unwrap_err();
        assert_eq!(busy.code, ErrorCode::ServerBusy);
        assert_eq!(busy.retry_after_s, Some(3));
        assert_eq!(
            busy.message,
            "the server is busy checking uploads: try again in 3 seconds"
        );
        // A turn frees up: the waiting one goes in, and there is room to wait again.
        drop(a);
        let _c = waiting.await.unwrap();
        // (Boxed, so that dropping it below drops the future itself.)
        let mut queued = Box::pin(gate.enter());
        assert!(tokio::time::timeout(Duration::from_millis(50), &mut queued)
            .await
            .is_err());
        // A waiter whose request is dropped leaves the queue.
        drop(queued);
        let again = gate.enter();
        tokio::pin!(again);
        assert!(tokio::time::timeout(Duration::from_millis(50), &mut again)
            .await
            .is_err());
    }
}
