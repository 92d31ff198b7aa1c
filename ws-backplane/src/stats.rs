//! Counters: every drop and every reconnect is counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Backplane counters, shared by a transport and the managers on it.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages handed to the broker.
    pub published: AtomicU64,
    /// Publishes dropped, for any reason: the sum of [`Stats::dropped_queue_full`],
    /// [`Stats::dropped_broker_down`] and [`Stats::dropped_refused`].
    pub publish_dropped: AtomicU64,
    /// Publishes dropped because a publish queue was full (the manager's or the
    /// transport's: the broker is slower than the publishers).
    pub dropped_queue_full: AtomicU64,
    /// Publishes dropped because the broker was unreachable, or stopped taking them
    /// within the publish timeout.
    pub dropped_broker_down: AtomicU64,
    /// Publishes refused: by the broker (NATS' `max_payload`), or after the manager
    /// stopped.
    pub dropped_refused: AtomicU64,
    /// Messages received from the broker (our own echoes included).
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
    /// Whether the transport's receiving side is connected to its broker right now (the
    /// subscribing connection for Redis, the client for NATS; always for the memory hub).
    /// Publishes go through a connection of their own (Redis) and fail on their own: a
    /// broker that is down shows in [`Stats::dropped_broker_down`] too.
    pub broker_up: AtomicBool,
}

/// Why a publish was dropped (see the counters of [`Stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// [`Stats::dropped_queue_full`].
    QueueFull,
    /// [`Stats::dropped_broker_down`] (only the broker transports see a broker down).
    #[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
    BrokerDown,
    /// [`Stats::dropped_refused`].
    Refused,
}

impl Stats {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A counter's value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Counts a dropped publish: in the total and under its reason.
    pub(crate) fn drop_publish(&self, why: Dropped) {
        Self::inc(&self.publish_dropped);
        Self::inc(match why {
            Dropped::QueueFull => &self.dropped_queue_full,
            Dropped::BrokerDown => &self.dropped_broker_down,
            Dropped::Refused => &self.dropped_refused,
        });
    }

    /// Whether the broker is up (see [`Stats::broker_up`]).
    pub fn is_up(&self) -> bool {
        self.broker_up.load(Ordering::Relaxed)
    }

    pub(crate) fn set_up(&self, up: bool) {
        self.broker_up.store(up, Ordering::Relaxed);
    }
}
