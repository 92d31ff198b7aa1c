//! Fan-out: from a delivery to one command per shard.

use oyez_frame::{CloseCode, SharedFrame};

use super::Server;
use crate::registry::ConnEntry;
use crate::shard::Cmd;
use crate::stats::{Origin, Stamp};
use crate::{Audience, Message, Stats};

impl Server {
    /// Queues `msg` for the connections of `to` here: encoded once (for more than one
    /// recipient, each form, plain or compressed, made once when first needed), one command
    /// per shard however many of its connections it is for, stamped as a broadcast from
    /// `origin` (for the delivery-time histogram). Returns how many.
    pub(crate) fn deliver(&self, msg: &Message, to: Audience<'_>, origin: Origin) -> usize {
        let at = Some(Stamp::now(origin));
        let per_shard = self.inner.registry.targets(to);
        let frame = match per_shard.iter().map(Vec::len).sum::<usize>() {
            0 => return 0,
            1 => msg.to_frame(),
            _ => msg.to_broadcast_frame(),
        };
        let frame = &frame;
        let mut n = 0;
        for (shard, to) in self.inner.shards.iter().zip(per_shard) {
            n += to.len();
            match to.len() {
                0 => {}
                1 => shard.post(Cmd::DeliverOne {
                    frame: frame.clone(),
                    to: to[0],
                    at,
                }),
                _ => shard.post(Cmd::Deliver {
                    frame: frame.clone(),
                    to,
                    at,
                }),
            }
        }
        Stats::add(&self.inner.stats.frames_queued, n as u64);
        n
    }

    /// Queues `frame` for one connection; false if it is gone or was dropped as slow.
    pub(crate) fn push_one(&self, entry: &ConnEntry, frame: &SharedFrame) -> bool {
        if entry.is_gone() {
            return false;
        }
        self.inner.shards[entry.id.shard()].post(Cmd::DeliverOne {
            frame: frame.clone(),
            to: entry.target(),
            at: None,
        });
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
