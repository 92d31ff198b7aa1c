//! One shard's counters: written only by that shard's thread, read by a scrape.

use std::sync::atomic::{AtomicU64, Ordering};

use super::latency::{Histogram, LATENCY_BOUNDS_NS, ORIGINS, Stamp};

/// The close codes counted one by one; any other counts as "other".
pub(crate) const CLOSE_CODES: [u16; 11] = [
    1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011,
];

/// A counter with one writer: its shard's thread adds with a relaxed load and store (no
/// locked read-modify-write, no cache line shared with another writer); anyone may read it.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning shard's thread calls this.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What one shard counts per message and per close. Aligned apart from its neighbours, so
/// that two shards never write the same cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct ShardCounters {
    received_messages: Counter,
    received_bytes: Counter,
    sent_messages: Counter,
    sent_bytes: Counter,
    /// By [`CLOSE_CODES`] index; the last is every other code.
    closes: [Counter; CLOSE_CODES.len() + 1],
    /// Delivery times, by [`super::Origin`].
    latency: [Histogram; ORIGINS],
    /// Connections whose sessions hold a busy session's buffers (up, and down by wrapping).
    holding: Counter,
}

/// Every shard's counters, added up.
#[derive(Clone, Debug, Default)]
pub(crate) struct Totals {
    pub(crate) received_messages: u64,
    pub(crate) received_bytes: u64,
    pub(crate) sent_messages: u64,
    pub(crate) sent_bytes: u64,
    pub(crate) closes: [u64; CLOSE_CODES.len() + 1],
    /// Per origin: each bucket's own count (not cumulative), then the sum in nanoseconds.
    pub(crate) latency: [([u64; LATENCY_BOUNDS_NS.len() + 1], u64); ORIGINS],
    pub(crate) holding: u64,
}

impl ShardCounters {
    /// A whole message from a client, handed to its handler.
    #[inline]
    pub(crate) fn message_received(&self) {
        #[cfg(feature = "metrics")]
        self.received_messages.add(1);
    }

    /// Bytes read from a client's socket.
    #[inline]
    pub(crate) fn bytes_received(&self, n: usize) {
        #[cfg(feature = "metrics")]
        self.received_bytes.add(n as u64);
        #[cfg(not(feature = "metrics"))]
        let _ = n;
    }

    /// A message queued for a client.
    #[inline]
    pub(crate) fn message_sent(&self) {
        #[cfg(feature = "metrics")]
        self.sent_messages.add(1);
    }

    /// Bytes written to a client's socket.
    #[inline]
    pub(crate) fn bytes_sent(&self, n: usize) {
        #[cfg(feature = "metrics")]
        self.sent_bytes.add(n as u64);
        #[cfg(not(feature = "metrics"))]
        let _ = n;
    }

    /// A broadcast stamped at `stamp` is being queued for its recipients on this shard now.
    #[inline]
    pub(crate) fn delivering(&self, stamp: Stamp) {
        #[cfg(feature = "metrics")]
        if let Some(h) = self.latency.get(stamp.origin() as usize) {
            h.record(stamp.elapsed_ns());
        }
        #[cfg(not(feature = "metrics"))]
        let _ = stamp;
    }

    /// A connection's session started (`true`) or stopped holding a busy session's buffers.
    pub(crate) fn holding(&self, up: bool) {
        self.holding.add(if up { 1 } else { u64::MAX });
    }

    /// A connection ended with close code `code`.
    pub(crate) fn closed(&self, code: u16) {
        let slot = CLOSE_CODES
            .iter()
            .position(|c| *c == code)
            .unwrap_or(CLOSE_CODES.len());
        self.closes[slot].add(1);
    }

    /// Adds this shard's counts to `t`.
    pub(crate) fn add_to(&self, t: &mut Totals) {
        t.received_messages += self.received_messages.get();
        t.received_bytes += self.received_bytes.get();
        t.sent_messages += self.sent_messages.get();
        t.sent_bytes += self.sent_bytes.get();
        t.holding = t.holding.wrapping_add(self.holding.get());
        for (sum, c) in t.closes.iter_mut().zip(&self.closes) {
            *sum += c.get();
        }
        for ((buckets, sum), h) in t.latency.iter_mut().zip(&self.latency) {
            h.add_to(buckets, sum);
        }
    }
}
