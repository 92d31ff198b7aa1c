//! The server's counters.
//!
//! Two kinds, by who writes them: [`Stats`]' own fields count events of the accept side, the
//! server and its clusters (relaxed atomics shared by every thread, touched once per event,
//! never per message delivered); [`ShardCounters`] count what each shard does per message
//! (bytes and messages in and out, closes by code, the delivery-time histogram), one set per
//! shard, written only by that shard's thread, so a count is a plain load and store. A scrape
//! adds the shards' sets up ([`Stats::totals`]).

mod latency;
mod shard;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[cfg(feature = "metrics")]
pub(crate) use latency::LATENCY_BOUNDS_NS;
pub(crate) use latency::{Origin, Stamp};
pub(crate) use shard::{CLOSE_CODES, ShardCounters, Totals};

use crate::sync::lock;

/// The statuses counted one by one in [`Stats::rejected_with`]: 400 to 599.
const STATUS_BASE: u16 = 400;
const STATUSES: usize = 200;

/// Counters, readable at any time through [`crate::Server::stats`]; every figure of the
/// Prometheus exposition ([`crate::Metrics`]) is read from here. Each field is a relaxed
/// atomic, updated without a lock where the event happens.
#[derive(Debug)]
pub struct Stats {
    /// Connections accepted (upgraded) since start.
    pub connections_opened: AtomicU64,
    /// Connections ended since start.
    pub connections_closed: AtomicU64,
    /// Clients dropped because their outbound backlog went over the bound.
    pub slow_dropped: AtomicU64,
    /// Upgrade requests refused, whatever the status (each is also counted by its status:
    /// [`Stats::rejected_with`]).
    pub handshakes_rejected: AtomicU64,
    /// Upgrades refused with 429 by the per-address limits (also in `handshakes_rejected`).
    pub upgrades_limited: AtomicU64,
    /// Upgrades refused by the upgrade hook, or because it failed or timed out (also in
    /// `handshakes_rejected`).
    pub upgrades_refused: AtomicU64,
    /// Connections closed by the idle timeout.
    pub idle_closed: AtomicU64,
    /// Frames queued for delivery to local connections.
    pub frames_queued: AtomicU64,
    /// Handler callbacks that panicked (each closed its connection with 1011).
    pub handler_panics: AtomicU64,
    /// Times the memory a burst of connections freed was given back to the system
    /// ([`crate::ServerConfig::trim_heap`]).
    pub heap_trims: AtomicU64,
    /// Refusals by status, 400 to 599.
    rejected: [AtomicU64; STATUSES],
    /// Envelopes from the Tina4 and the mega cluster delivered here (by [`Origin`] index).
    relayed: [AtomicU64; 2],
    /// Bridged copies skipped: mega copies of messages that came over Tina4 too.
    bridged_skipped: AtomicU64,
    /// Each shard's counters, in shard order (registered as the shards start).
    shards: Mutex<Vec<Arc<ShardCounters>>>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            connections_opened: AtomicU64::new(0),
            connections_closed: AtomicU64::new(0),
            slow_dropped: AtomicU64::new(0),
            handshakes_rejected: AtomicU64::new(0),
            upgrades_limited: AtomicU64::new(0),
            upgrades_refused: AtomicU64::new(0),
            idle_closed: AtomicU64::new(0),
            frames_queued: AtomicU64::new(0),
            handler_panics: AtomicU64::new(0),
            heap_trims: AtomicU64::new(0),
            rejected: std::array::from_fn(|_| AtomicU64::new(0)),
            relayed: [AtomicU64::new(0), AtomicU64::new(0)],
            bridged_skipped: AtomicU64::new(0),
            shards: Mutex::new(Vec::new()),
        }
    }
}

impl Stats {
    /// Adds `n` to `counter`.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts an upgrade refused with `status`: in the total and by status. Every refusal
    /// goes through here, so a new one is counted by its status with no other change.
    pub(crate) fn reject(&self, status: u16) {
        Self::add(&self.handshakes_rejected, 1);
        if let Some(c) = status
            .checked_sub(STATUS_BASE)
            .and_then(|i| self.rejected.get(usize::from(i)))
        {
            Self::add(c, 1);
        }
    }

    /// Upgrade requests refused with `status` (counted for 400 to 599; 0 for others).
    pub fn rejected_with(&self, status: u16) -> u64 {
        status
            .checked_sub(STATUS_BASE)
            .and_then(|i| self.rejected.get(usize::from(i)))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Every status some refusal was answered with, and how many.
    pub(crate) fn rejections(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        (STATUS_BASE..)
            .zip(&self.rejected)
            .filter_map(|(status, c)| {
                let n = c.load(Ordering::Relaxed);
                (n > 0).then_some((status, n))
            })
    }

    /// An envelope from another instance was delivered here.
    pub(crate) fn relayed(&self, from: Origin) {
        if let Some(c) = from.cluster_index().and_then(|i| self.relayed.get(i)) {
            Self::add(c, 1);
        }
    }

    /// Envelopes from `from` (a cluster) delivered here.
    pub(crate) fn relayed_from(&self, from: Origin) -> u64 {
        from.cluster_index()
            .and_then(|i| self.relayed.get(i))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// A bridged mega copy was skipped (its Tina4 copy is delivered instead).
    pub(crate) fn bridged_skipped(&self) {
        Self::add(&self.bridged_skipped, 1);
    }

    /// Bridged mega copies skipped.
    pub(crate) fn bridged_skipped_total(&self) -> u64 {
        self.bridged_skipped.load(Ordering::Relaxed)
    }

    /// The counters of shard `index`, made on first use (when the shard starts).
    pub(crate) fn shard(&self, index: u16) -> Arc<ShardCounters> {
        let mut shards = lock(&self.shards);
        let i = usize::from(index);
        while shards.len() <= i {
            shards.push(Arc::default());
        }
        shards[i].clone()
    }

    /// Every shard's per-message counters, added up.
    pub(crate) fn totals(&self) -> Totals {
        let shards = lock(&self.shards).clone();
        let mut t = Totals::default();
        for s in &shards {
            s.add_to(&mut t);
        }
        t
    }

    /// Connections whose close had `code` (the code `on_close` saw: the peer's, 1005 for a
    /// close frame without one, 1006 without a close handshake), for the codes of
    /// [`CLOSE_CODES`](Self::CLOSE_CODES); other codes count together under `None`.
    pub fn closed_with(&self, code: Option<u16>) -> u64 {
        let t = self.totals();
        let slot = code.map_or(CLOSE_CODES.len(), |c| {
            CLOSE_CODES
                .iter()
                .position(|k| *k == c)
                .unwrap_or(CLOSE_CODES.len())
        });
        t.closes[slot]
    }

    /// Connections now holding a busy session's buffers (their output and event queues and
    /// their own-frame buffer: a busy connection allocates nothing per message). A
    /// connection quiet for one to two seconds gives them back, so on a server whose clients
    /// are idle this falls to zero.
    pub fn connections_holding_buffers(&self) -> u64 {
        self.totals().holding
    }

    /// The close codes counted one by one (1000 to 1003 and 1005 to 1011).
    pub const CLOSE_CODES: &'static [u16] = &CLOSE_CODES;

    /// Messages and bytes from and to clients since start, added up over the shards. Zero
    /// when the crate is built without its `metrics` feature (then the shards do not count
    /// per message).
    pub fn traffic(&self) -> Traffic {
        let t = self.totals();
        Traffic {
            received_messages: t.received_messages,
            received_bytes: t.received_bytes,
            sent_messages: t.sent_messages,
            sent_bytes: t.sent_bytes,
        }
    }
}

/// Messages and bytes from and to clients ([`Stats::traffic`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Traffic {
    /// Whole messages received from clients (handed to their handlers).
    pub received_messages: u64,
    /// Bytes read from clients' sockets after their upgrade requests.
    pub received_bytes: u64,
    /// Messages queued for clients, one per recipient (control frames not included).
    pub sent_messages: u64,
    /// Bytes written to clients' sockets (the `101` responses included).
    pub sent_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_by_status() {
        let s = Stats::default();
        for status in [400, 400, 431, 503, 599, 600, 302] {
            s.reject(status);
        }
        assert_eq!(s.handshakes_rejected.load(Ordering::Relaxed), 7);
        assert_eq!(
            s.rejections().collect::<Vec<_>>(),
            [(400, 2), (431, 1), (503, 1), (599, 1)]
        );
        assert_eq!((s.rejected_with(400), s.rejected_with(302)), (2, 0));
    }

    #[test]
    fn shards_add_up() {
        let s = Stats::default();
        let (a, b) = (s.shard(0), s.shard(2));
        a.closed(1000);
        b.closed(1000);
        b.closed(4000);
        a.closed(1006);
        assert_eq!(s.closed_with(Some(1000)), 2);
        assert_eq!(s.closed_with(Some(1006)), 1);
        assert_eq!(s.closed_with(None), 1);
        assert_eq!(
            s.closed_with(Some(4001)),
            1,
            "an uncounted code reads as other"
        );
        assert!(Arc::ptr_eq(&a, &s.shard(0)), "one set per shard");
    }
}
