//! Queueing a frame for a connection, and backpressure: a client whose backlog is at the
//! bound is dropped, so that a slow reader never holds up the others or grows without limit.

use std::time::{Duration, Instant};

use oyez_frame::session::Outbound;
use oyez_frame::{CloseCode, Session, SharedFrame};
use tracing::debug;

use super::Host;
use super::connection::Connection;
use super::event_loop::Shard;
use crate::id::Target;
use crate::{Message, Stats};

/// How long a slow client dropped for its backlog gets to take its close frame.
const SLOW_CLOSE_GRACE: Duration = Duration::from_secs(1);

impl<H: Host> Shard<H> {
    /// Queues `frame` for one connection, or drops the connection if its backlog is at the
    /// bound (as uWebSockets' `maxBackpressure` does: a single message larger than the bound
    /// still goes to a client that keeps up, so the backlog exceeds the bound by at most one
    /// message).
    pub(super) fn deliver(&mut self, frame: &SharedFrame, to: Target, now: Instant) {
        self.deliver_with(to, now, |session| session.send_shared(frame));
    }

    /// Queues a message a callback of this shard sent to a connection of it: a small one is
    /// encoded straight into the connection's session (no shared frame, no reference
    /// count); a large one's payload is shared, its header written in this thread's frame
    /// arena.
    pub(super) fn reply(&mut self, msg: Message, to: Target, now: Instant) {
        self.deliver_with(to, now, |session| {
            if msg.as_bytes().len() <= SharedFrame::COPY_THRESHOLD {
                session.send(match &msg {
                    Message::Text(t) => Outbound::Text(t.as_str()),
                    Message::Binary(b) => Outbound::Binary(b),
                })
            } else {
                session.send_shared(&msg.to_frame())
            }
        });
    }

    fn deliver_with(
        &mut self,
        to: Target,
        now: Instant,
        send: impl FnOnce(&mut Session) -> Result<(), oyez_frame::Error>,
    ) {
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
        } else if send(&mut c.session).is_ok() {
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
