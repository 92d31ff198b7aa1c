//! Fan-out: from a delivery to one command per shard.

use std::cell::RefCell;

use oyez_frame::CloseCode;

use super::Server;
use crate::registry::{ConnEntry, Fanout};
use crate::shard::Cmd;
use crate::stats::{Origin, Stamp};
use crate::{Audience, Message, Stats};

thread_local! {
    /// The recipients of this thread's last delivery: buffers kept for the next.
    static FANOUT: RefCell<Fanout> = RefCell::new(Fanout::default());
}

impl Server {
    /// Queues `msg` for the connections of `to` here: encoded once (for more than one
    /// recipient, each form, plain or compressed, made once when first needed), one command
    /// per shard however many of its connections it is for, stamped as a broadcast from
    /// `origin` (for the delivery-time histogram). Returns how many.
    pub(crate) fn deliver(&self, msg: &Message, to: Audience<'_>, origin: Origin) -> usize {
        FANOUT.with(|fanout| match fanout.try_borrow_mut() {
            Ok(mut fanout) => self.deliver_with(msg, to, origin, &mut fanout),
            // Not reached (nothing in a delivery delivers again); buffers of its own if so.
            Err(_) => self.deliver_with(msg, to, origin, &mut Fanout::default()),
        })
    }

    fn deliver_with(
        &self,
        msg: &Message,
        to: Audience<'_>,
        origin: Origin,
        fanout: &mut Fanout,
    ) -> usize {
        let at = Some(Stamp::now(origin));
        self.inner.registry.fanout(to, fanout);
        let n = fanout.len();
        // One form for all (in this thread's frame arena) unless some recipient compresses:
        // then the plain and the compressed form are each made once, when first needed.
        let frame = match n {
            0 => return 0,
            2.. if fanout.deflate => msg.to_broadcast_frame(),
            _ => msg.to_frame(),
        };
        for (shard, to) in self.inner.shards.iter().zip(&fanout.per_shard) {
            if !to.is_empty() {
                shard.deliver(&frame, to, at);
            }
        }
        Stats::add(&self.inner.stats.frames_queued, n as u64);
        n
    }

    /// Queues `msg` for one connection (from its own shard's callbacks, encoded in place
    /// there; from elsewhere, as a frame made now); false if it is gone or was dropped as
    /// slow.
    pub(crate) fn send_one(&self, entry: &ConnEntry, msg: Message) -> bool {
        if entry.is_gone() {
            return false;
        }
        self.inner.shards[entry.id.shard()].send(entry.target(), msg);
        Stats::add(&self.inner.stats.frames_queued, 1);
        true
    }

    /// Starts the close handshake on one connection.
    pub(crate) fn post_close(&self, entry: &ConnEntry, code: CloseCode, reason: &str) {
        self.inner.shards[entry.id.shard()].post(Cmd::Close {
            to: entry.target(),
            code,
            reason: reason.into(),
        });
    }
}
