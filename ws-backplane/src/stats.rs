//! Counters: every drop and every reconnect is counted.

use std::sync::atomic::{AtomicU64, Ordering};

/// Backplane counters, shared by a transport and the managers on it.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages handed to the broker.
    pub published: AtomicU64,
    /// Publishes dropped: broker down, publish queue full, or the broker refused.
    pub publish_dropped: AtomicU64,
    /// Messages received from the broker.
    pub received: AtomicU64,
    /// Received envelopes dropped as malformed.
    pub malformed: AtomicU64,
    /// Received envelopes dropped as our own (echo guard).
    pub echoes: AtomicU64,
    /// Received messages dropped because the local consumer was not keeping up.
    pub receive_dropped: AtomicU64,
    /// Connections lost.
    pub disconnects: AtomicU64,
    /// Successful reconnects.
    pub reconnects: AtomicU64,
}

impl Stats {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A counter's value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
