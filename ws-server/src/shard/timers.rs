//! The shard's timers: one heap of deadlines for every connection (keepalive pings, pong,
//! idle and close timeouts from the session; a slow client's grace and lingering output).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::Host;
use super::event_loop::Shard;
use crate::ConnId;
use crate::Stats;
use crate::id::Target;

/// Deadlines, earliest first: (tick, slot, connection id). A tick is a millisecond since
/// `epoch`, rounded up (at least 1). A connection has at most one live entry, the one its
/// `armed` names; an entry it no longer names is skipped when it comes up.
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<(u64, u32, u64)>>,
    epoch: Instant,
}

impl Timers {
    pub(super) fn new(epoch: Instant) -> Self {
        Self {
            heap: BinaryHeap::new(),
            epoch,
        }
    }

    /// How long the loop may wait before the earliest deadline (`None`: no deadline).
    pub(super) fn wait(&self, now: Instant) -> Option<Duration> {
        self.heap.peek().map(|&Reverse((tick, ..))| {
            (self.epoch + Duration::from_millis(tick)).saturating_duration_since(now)
        })
    }

    /// The tick of `at`, rounded up.
    fn tick(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.epoch);
        let rounded =
            since.as_millis() + u128::from(!since.subsec_nanos().is_multiple_of(1_000_000));
        u64::try_from(rounded).unwrap_or(u64::MAX).max(1)
    }

    /// The next entry due at `now`, taken off the heap.
    fn pop_due(&mut self, now: Instant) -> Option<(u64, Target)> {
        let now_tick = u64::try_from(now.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX);
        let &Reverse((at, slot, id)) = self.heap.peek()?;
        if at > now_tick {
            return None;
        }
        self.heap.pop();
        Some((
            at,
            Target {
                slot,
                id: ConnId(id),
            },
        ))
    }
}

impl<H: Host> Shard<H> {
    pub(super) fn run_timers(&mut self, host: &H, now: Instant) {
        while let Some((at, to)) = self.timers.pop_due(now) {
            let Some(c) = self.target_mut(to) else {
                continue;
            };
            if c.armed != at {
                continue; // superseded
            }
            c.armed = 0;
            let was_open = c.session.is_open();
            c.session.handle_timeout(now);
            if was_open && !c.session.is_open() && !c.session.is_closed() {
                Stats::add(&self.stats.idle_closed, 1);
            }
            self.dispatch(host, to.slot, now);
        }
    }

    /// Makes sure the timer heap holds this connection's next deadline.
    pub(super) fn rearm(&mut self, slot: u32) {
        let Some(Some(c)) = self.conns.get_mut(slot as usize) else {
            return;
        };
        let want = [c.session.poll_timeout(), c.hangup()]
            .into_iter()
            .flatten()
            .min();
        let Some(want) = want else { return };
        let tick = self.timers.tick(want);
        // Only an earlier deadline needs a new entry: a later one is found when the armed
        // entry comes up (the session then has nothing due, and the connection is re-armed).
        if c.armed == 0 || tick < c.armed {
            c.armed = tick;
            let id = H::entry(&c.conn).id.0;
            self.timers.heap.push(Reverse((tick, slot, id)));
        }
    }
}
