//! Queueing a frame for a connection, and backpressure: a client whose backlog is at the
//! bound is dropped, so that a slow reader never holds up the others or grows without limit.

use std::time::{Duration, Instant};

use oyez_frame::{CloseCode, SharedFrame};
use tracing::debug;

use super::Host;
use super::connection::Connection;
use super::event_loop::Shard;
use crate::Stats;
use crate::id::Target;

/// How long a slow client dropped for its backlog gets to take its close frame.
const SLOW_CLOSE_GRACE: Duration = Duration::from_secs(1);

impl<H: Host> Shard<H> {
    /// Queues `frame` for one connection, or drops the connection if its backlog is at the
    /// bound (as uWebSockets' `maxBackpressure` does: a single message larger than the bound
    /// still goes to a client that keeps up, so the backlog exceeds the bound by at most one
    /// message).
    pub(super) fn deliver(&mut self, frame: &SharedFrame, to: Target, now: Instant) {
        let max = self.max_backlog;
        let Some(c) = self.target_mut(to) else { return };
        if !c.session.is_open() || c.hangup().is_some() {
            return;
        }
        let backlog = c.backlog();
        if max > 0 && backlog >= max {
            debug!(id = %to.id, backlog, "slow client dropped");
            H::entry(&c.conn).set_gone();
            drop_slow_client(c, now);
            Stats::add(&self.stats.slow_dropped, 1);
        } else if c.session.send_shared(frame).is_ok() {
            self.counters.message_sent();
        }
        self.mark_dirty(to.slot);
    }
}

/// The backlog is at its bound: drop everything queued. If no frame is cut in half on the
/// wire, the client still gets a close frame 1008 "slow client" and `SLOW_CLOSE_GRACE` to
/// take it; otherwise we hang up at once.
fn drop_slow_client<C>(c: &mut Connection<C>, now: Instant) {
    while c.session.poll_transmit().is_some() {}
    let out = &mut c.extra().out;
    let mid_frame = out.is_mid_frame();
    out.clear();
    let grace = if mid_frame {
        Duration::ZERO
    } else {
        let _ = c
            .session
            .close(now, CloseCode::POLICY_VIOLATION, "slow client");
        SLOW_CLOSE_GRACE
    };
    c.extra().hangup = Some(now + grace);
}
