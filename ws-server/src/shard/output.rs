//! Settling a connection: what it has queued goes to the socket (everything in one vectored
//! write where it can), a connection whose session is over ends once its output is out, and
//! its timer is re-armed.

use std::time::Instant;

use oyez_frame::CloseCode;
use tracing::debug;

use super::Host;
use super::connection::{DIRTY, TLS};
use super::event_loop::Shard;

impl<H: Host> Shard<H> {
    pub(super) fn settle_dirty(&mut self, host: &H, now: Instant) {
        while let Some(slot) = self.dirty.pop() {
            // A connection settled since it was listed (by a large read) is skipped.
            if self.conn_mut(slot).is_some_and(|c| c.flags & DIRTY != 0) {
                self.settle(host, slot, now);
            }
        }
    }

    /// Writes what the connection has queued, ends it if it is over, and re-arms its timer.
    pub(super) fn settle(&mut self, host: &H, slot: u32, now: Instant) {
        let Some(c) = self.conns.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        c.flags &= !DIRTY;
        // Output goes through the shard's queue; only what the socket refuses stays with the
        // connection.
        let out = &mut self.out;
        if let Some(e) = c.extra.as_mut() {
            std::mem::swap(out, &mut e.out);
        }
        let mut direct = 0;
        if c.flags & TLS == 0 && out.is_empty() && c.session.pending_bytes() > 0 {
            // The common case, a socket with nothing waiting (an echo's reply): straight from
            // the session to the socket; only what it does not take goes through the queue.
            direct = out.send_first(&c.stream, &mut c.session);
        }
        if c.session.pending_bytes() > 0 {
            while let Some(b) = c.session.poll_transmit() {
                out.push(b);
            }
        }
        let queued = out.len();
        let written = if c.flags & TLS != 0 {
            self.tls.write(slot, &c.stream, out)
        } else if out.is_empty() {
            Ok(())
        } else {
            out.write_to(&c.stream)
        };
        self.counters.bytes_sent(direct + queued - out.len());
        if !out.is_empty() {
            // The socket is full: the rest waits with the connection, for its writable event.
            std::mem::swap(out, &mut c.extra().out);
        }
        if let Err(e) = written {
            debug!(id = %H::entry(&c.conn).id, error = %e, "write failed");
            c.set_closed(CloseCode::ABNORMAL, String::new);
            self.finish(host, slot);
            return;
        }
        let drained = c.extra.as_ref().is_none_or(|e| e.out.is_empty())
            && (c.flags & TLS == 0 || !self.tls.wants_write(slot));
        if c.session.is_closed() && drained {
            self.finish(host, slot);
            return;
        }
        if c.session.is_closed() && c.hangup().is_none() {
            // Only output remains; a peer that does not take it gets the close timeout.
            c.extra().hangup = Some(now + c.session.config().close_timeout());
        }
        if c.hangup().is_some_and(|at| now >= at) {
            self.finish(host, slot);
            return;
        }
        c.trim();
        self.note_busy(slot, now);
        self.rearm(slot);
    }
}
