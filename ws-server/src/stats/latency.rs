//! The time from a broadcast's start on this instance to its queueing on a shard, as a
//! histogram per origin.
//!
//! A broadcast is stamped once ([`Stamp::now`]) where it starts on this instance: in
//! [`crate::Server::broadcast`] (and `broadcast_ns`) for a local publish, and for a message
//! from another instance when the relay task takes its decoded envelope from the cluster
//! manager (the envelope carries no time, and the wire stays as it is: this is the time
//! spent here, not since the publisher). The stamp travels with the delivery command to
//! each shard, which reads the clock again when it queues the frame for its recipients
//! (the vectored write to their sockets follows in the same loop iteration, unless a socket
//! is full) and records the difference. One clock read per broadcast and one per shard it
//! reaches, none per recipient; single sends (`Conn::send`, `send_to`) are not stamped.

#[cfg(feature = "metrics")]
use std::time::Instant;

use super::shard::Counter;

/// The histogram's upper bounds in nanoseconds (Prometheus `le`, inclusive): 50 µs to 5 s.
pub(crate) const LATENCY_BOUNDS_NS: [u64; 16] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
];

/// How many origins there are.
pub(crate) const ORIGINS: usize = 3;

/// Where a broadcast started, as the histogram's `origin` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Published here ([`crate::Server::broadcast`], a relayed client message, the API).
    Local = 0,
    /// A Tina4 envelope from another instance.
    Tina4 = 1,
    /// A mega envelope from another instance.
    Mega = 2,
}

impl Origin {
    /// Every origin, in index order.
    #[cfg(feature = "metrics")]
    pub(crate) const ALL: [Self; ORIGINS] = [Self::Local, Self::Tina4, Self::Mega];

    /// The label value.
    #[cfg(feature = "metrics")]
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Tina4 => "tina4",
            Self::Mega => "mega",
        }
    }

    /// The index of a cluster origin among the clusters (`None` for [`Origin::Local`]).
    pub(crate) const fn cluster_index(self) -> Option<usize> {
        match self {
            Self::Local => None,
            Self::Tina4 => Some(0),
            Self::Mega => Some(1),
        }
    }
}

/// When and where a broadcast started (nothing without the `metrics` feature: no clock is
/// read then).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamp {
    #[cfg(feature = "metrics")]
    at: Instant,
    #[cfg(feature = "metrics")]
    origin: Origin,
}

impl Stamp {
    /// A broadcast from `origin` starts now.
    #[inline]
    pub(crate) fn now(origin: Origin) -> Self {
        #[cfg(not(feature = "metrics"))]
        let _ = origin;
        Self {
            #[cfg(feature = "metrics")]
            at: Instant::now(),
            #[cfg(feature = "metrics")]
            origin,
        }
    }

    #[cfg(feature = "metrics")]
    pub(crate) const fn origin(self) -> Origin {
        self.origin
    }

    /// Nanoseconds since the stamp.
    #[cfg(feature = "metrics")]
    pub(crate) fn elapsed_ns(self) -> u64 {
        u64::try_from(self.at.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A fixed-bucket histogram with one writer (see [`Counter`]).
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    /// Per bound of [`LATENCY_BOUNDS_NS`], then over the last.
    buckets: [Counter; LATENCY_BOUNDS_NS.len() + 1],
    sum_ns: Counter,
}

impl Histogram {
    #[cfg(feature = "metrics")]
    pub(crate) fn record(&self, ns: u64) {
        let i = LATENCY_BOUNDS_NS
            .iter()
            .position(|b| ns <= *b)
            .unwrap_or(LATENCY_BOUNDS_NS.len());
        self.buckets[i].add(1);
        self.sum_ns.add(ns);
    }

    /// Adds this histogram's buckets (each its own count) and sum to those given.
    pub(crate) fn add_to(&self, buckets: &mut [u64; LATENCY_BOUNDS_NS.len() + 1], sum: &mut u64) {
        for (b, c) in buckets.iter_mut().zip(&self.buckets) {
            *b += c.get();
        }
        *sum += self.sum_ns.get();
    }
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_inclusive_upper_bounds() {
        let h = Histogram::default();
        for ns in [
            0,
            50_000,
            50_001,
            5_000_000_000,
            5_000_000_001,
            u64::MAX / 2,
        ] {
            h.record(ns);
        }
        let (mut b, mut sum) = ([0; LATENCY_BOUNDS_NS.len() + 1], 0);
        h.add_to(&mut b, &mut sum);
        assert_eq!((b[0], b[1], b[15], b[16]), (2, 1, 1, 2));
        assert_eq!(b.iter().sum::<u64>(), 6);
        assert_eq!(
            sum,
            50_000 + 50_001 + 5_000_000_000 + 5_000_000_001 + u64::MAX / 2
        );
    }
}
