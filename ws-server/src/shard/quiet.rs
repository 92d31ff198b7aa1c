//! Quiet connections give their buffers back: a session keeps its output queue, its event
//! queue and its own-frame buffer while it is busy, so that a busy connection allocates
//! nothing per message ([`oyez_frame::Session::shrink`]); once a second, a connection that
//! was not settled since the last sweep lets go of them, so an idle connection holds none.
//! Only connections that hold buffers are looked at: the sweep costs nothing for idle ones.

use std::time::{Duration, Instant};

use super::Host;
use super::connection::{ACTIVE, HELD};
use super::event_loop::Shard;

/// How often quiet connections give their buffers back (a connection quiet for one to two
/// of these lets go of them).
pub(super) const QUIET_EVERY: Duration = Duration::from_secs(1);

/// The connections that hold a busy session's buffers.
#[derive(Default)]
pub(super) struct Quiet {
    /// Their slots (flag [`HELD`]; a slot may appear twice after its connection ended and a
    /// new one took it: the first sweep after sorts that out).
    held: Vec<u32>,
    /// The next sweep.
    next: Option<Instant>,
}

impl Quiet {
    /// How long the loop may wait before the next sweep is due (`None`: nothing to sweep).
    pub(super) fn wait(&self, now: Instant) -> Option<Duration> {
        self.next.map(|at| at.saturating_duration_since(now))
    }
}

impl<H: Host> Shard<H> {
    /// Notes that the connection at `slot` was busy: if its session holds buffers, the
    /// sweep looks at it.
    pub(super) fn note_busy(&mut self, slot: u32, now: Instant) {
        let Some(c) = self.conns.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        if !c.session.holds_buffers() {
            return;
        }
        c.flags |= ACTIVE;
        if c.flags & HELD == 0 {
            c.flags |= HELD;
            self.counters.holding(true);
            self.quiet.held.push(slot);
            self.quiet.next.get_or_insert(now + QUIET_EVERY);
        }
    }

    /// A connection that ends while listed is counted out (its slot leaves the list at the
    /// next sweep).
    pub(super) fn forget_busy(&self, flags: u8) {
        if flags & HELD != 0 {
            self.counters.holding(false);
        }
    }

    /// Once a second: sessions not busy since the last sweep give their buffers back.
    pub(super) fn sweep_quiet(&mut self, now: Instant) {
        if self.quiet.next.is_none_or(|at| now < at) {
            return;
        }
        let mut held = std::mem::take(&mut self.quiet.held);
        let counters = &self.counters;
        held.retain(|&slot| {
            let Some(c) = self.conns.get_mut(slot as usize).and_then(Option::as_mut) else {
                return false; // ended
            };
            if c.flags & HELD == 0 {
                return false; // a new connection in the slot, not listed by this entry
            }
            if c.flags & ACTIVE != 0 {
                c.flags &= !ACTIVE;
                return true;
            }
            c.session.shrink();
            if c.session.holds_buffers() {
                return true; // output still waits
            }
            c.flags &= !HELD;
            counters.holding(false);
            false
        });
        if held.is_empty() && held.capacity() > 64 {
            held = Vec::new(); // a burst of busy connections is over
        }
        self.quiet.next = (!held.is_empty()).then_some(now + QUIET_EVERY);
        self.quiet.held = held;
    }
}
