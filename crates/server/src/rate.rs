//! Sliding-window rate limits: how long until one more action fits. Used by the route
//! handlers' early checks and by the stores, which count again inside the insert's
//! transaction so that parallel requests cannot get past a limit together.

/// The refusal of a message past the sender's per-minute limit.
pub fn messages_too_fast(wait_s: u64) -> natter_protocol::ApiError {
    natter_protocol::ApiError::rate_limited("you are sending messages too fast", wait_s)
}

/// A limit of `max` actions in any `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub max: u32,
    pub window_ms: i64,
}

impl Window {
    /// Where the window that ends at `now` starts.
    pub fn start(self, now: i64) -> i64 {
        now - self.window_ms
    }

    /// With `times` (oldest first) inside the window ending at `now`: `None` if one more
    /// fits, else the seconds until the oldest that must leave the window has left it.
    pub fn wait(self, times: &[i64], now: i64) -> Option<u64> {
        let limit = self.max as usize;
        if times.len() < limit {
            return None;
        }
        // The one whose leaving brings the count below the limit.
        let leaving = times[times.len() - limit];
        let ms = (leaving + self.window_ms - now).max(0);
        Some(u64::try_from(ms).unwrap_or(0).div_ceil(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn the_wait_ends_when_the_oldest_counted_action_leaves_the_window() {
        let w = |max| Window {
            max,
            window_ms: 60_000,
        };
        // 3 allowed per 60 s: two so far → fine; three → wait until the first is 60 s old
        assert_eq!(w(3).wait(&[0, 10_000], 20_000), None);
        assert_eq!(w(3).wait(&[0, 10_000, 15_000], 20_000), Some(40));
        // four (a race let one more in): the second must leave too
        assert_eq!(w(3).wait(&[0, 10_000, 15_000, 16_000], 20_000), Some(50));
        // rounding up: 0.2 s left is 1 s
        assert_eq!(w(3).wait(&[0, 1, 2], 59_800), Some(1));
        assert_eq!(w(3).start(60_000), 0);
    }
}
