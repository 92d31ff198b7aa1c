//! Capped exponential backoff, as a small pure state machine.

use std::time::Duration;

/// Reconnect delays: `initial`, doubling, capped at `max`; [`Backoff::reset`] after a
/// success. Pure (no clock), so it is tested without waiting.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// The default for broker reconnects: 25 ms doubling to at most 500 ms, so a broker that
    /// comes back is noticed within half a second (the cost: one connection attempt every
    /// 500 ms while it is down).
    pub const fn reconnect() -> Self {
        Self::new(Duration::from_millis(25), Duration::from_millis(500))
    }

    /// Delays from `initial` doubling up to `max`.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            next: initial,
        }
    }

    /// The delay before the next attempt; each call doubles the one after, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// Back to the initial delay, after a successful attempt.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }

    /// The delay for attempt `n` (0-based) without state: for callbacks that count attempts.
    pub fn delay_for_attempt(&self, n: usize) -> Duration {
        let factor = 1u32
            .checked_shl(u32::try_from(n.min(31)).unwrap_or(31))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(25), Duration::from_millis(1000));
        let seen: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        let seen: Vec<u64> = seen
            .iter()
            .map(|d| u64::try_from(d.as_millis()).unwrap())
            .collect();
        assert_eq!(seen, [25, 50, 100, 200, 400, 800, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(25));
        assert_eq!(b.delay_for_attempt(0), Duration::from_millis(25));
        assert_eq!(b.delay_for_attempt(3), Duration::from_millis(200));
        assert_eq!(b.delay_for_attempt(1000), Duration::from_millis(1000));
    }
}
