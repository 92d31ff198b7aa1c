//! Transports: move opaque `(channel, bytes)` between instances.

pub mod memory;
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub mod nats;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::{Error, Stats};

/// A boxed future, so that [`Transport`] is object-safe (the backend is chosen at run time).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How many received messages may wait for the local consumer before new ones are dropped
/// (and counted in [`Stats::receive_dropped`]).
pub const RECEIVE_QUEUE: usize = 8192;

/// A message received on a subscribed channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The channel (Redis) or subject (NATS) it came on.
    pub channel: String,
    /// The bytes as published.
    pub payload: Bytes,
}

/// A pub/sub transport. Object-safe (`Arc<dyn Transport>`), because the backend is chosen
/// from configuration at run time, in the manner of quinn's `Runtime`.
///
/// Contract, for every implementation:
/// - `publish` never waits for a broker that is down (at most about a second for one that
///   is stuck). While disconnected the message is dropped and counted in
///   [`Stats::publish_dropped`]: at-most-once, never buffered for later. NATS reports the
///   drop as [`Error::Disconnected`]; Redis hands the message to its publishing task
///   (`Ok`) and that task drops it (it learns of an outage from a failed write, and reports
///   [`Error::Disconnected`] itself only when its queue is full). Either way the caller can
///   ignore the result: the managers do.
/// - After [`Transport::close`], `publish` fails with [`Error::Closed`] and every
///   subscription's receiver ends.
/// - A subscription survives broker restarts: the transport reconnects with capped
///   exponential backoff ([`crate::Backoff::reconnect`]) and subscribes again.
/// - Messages from one publisher on one channel arrive in publish order.
/// - Publishers receive their own messages too (filtering is the managers' echo guard).
pub trait Transport: Send + Sync + std::fmt::Debug + 'static {
    /// `memory`, `redis` or `nats`.
    fn kind(&self) -> &'static str;

    /// Publishes `payload` on `channel`.
    fn publish<'a>(&'a self, channel: &'a str, payload: Bytes) -> BoxFuture<'a, Result<(), Error>>;

    /// Subscribes to `channels`; messages arrive on the receiver until [`Transport::close`].
    fn subscribe<'a>(
        &'a self,
        channels: &'a [String],
    ) -> BoxFuture<'a, Result<mpsc::Receiver<Received>, Error>>;

    /// Stops every subscription and drops the connections.
    fn close(&self) -> BoxFuture<'_, ()>;

    /// The transport's counters.
    fn stats(&self) -> &Arc<Stats>;
}

/// Forwards a received message to a subscriber without ever blocking the reader: a full
/// queue drops the message and counts it. Returns false once the subscriber is gone.
pub(crate) fn forward(tx: &mpsc::Sender<Received>, msg: Received, stats: &Stats) -> bool {
    Stats::inc(&stats.received);
    match tx.try_send(msg) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            Stats::inc(&stats.receive_dropped);
            true
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}
