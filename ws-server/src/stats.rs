//! The server's counters.

use std::sync::atomic::AtomicU64;

/// Counters, readable at any time through [`crate::Server::stats`]. Each is a relaxed
/// atomic, updated without a lock where the event happens.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted (upgraded) since start.
    pub connections_opened: AtomicU64,
    /// Connections ended since start.
    pub connections_closed: AtomicU64,
    /// Clients dropped because their outbound backlog went over the bound.
    pub slow_dropped: AtomicU64,
    /// Upgrade requests rejected (bad handshake, origin, limit, timeout).
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
}

impl Stats {
    /// Adds `n` to `counter`.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}
