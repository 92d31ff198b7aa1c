//! The in-process hub: the embedded default, and the test double for the server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{BoxFuture, RECEIVE_QUEUE, Received, Transport, forward};
use crate::{Error, Stats, lock};

/// An in-process pub/sub hub. Clone it to share it: every [`MemoryTransport`] made from the
/// same hub (one per simulated instance) sees the others' messages.
#[derive(Clone, Debug, Default)]
pub struct MemoryHub {
    subs: Arc<Mutex<Vec<Sub>>>,
}

#[derive(Debug)]
struct Sub {
    channels: Vec<String>,
    tx: mpsc::Sender<Received>,
    stats: Arc<Stats>,
}

impl MemoryHub {
    /// A new, empty hub.
    pub fn new() -> Self {
        Self::default()
    }

    /// A transport on this hub.
    pub fn transport(&self) -> MemoryTransport {
        let stats = Arc::new(Stats::default());
        stats.set_up(true);
        MemoryTransport {
            hub: self.clone(),
            stats,
            closed: AtomicBool::new(false),
        }
    }

    fn publish(&self, channel: &str, payload: &Bytes) {
        let mut subs = lock(&self.subs);
        subs.retain(|sub| {
            if !sub.channels.iter().any(|c| c == channel) {
                return !sub.tx.is_closed();
            }
            forward(
                &sub.tx,
                Received {
                    channel: channel.to_owned(),
                    payload: payload.clone(),
                },
                &sub.stats,
            )
        });
    }
}

/// One instance's view of a [`MemoryHub`]. Never disconnected; a subscriber that does not
/// keep up loses messages (counted in [`Stats::receive_dropped`]) rather than blocking
/// publishers.
#[derive(Debug)]
pub struct MemoryTransport {
    hub: MemoryHub,
    stats: Arc<Stats>,
    closed: AtomicBool,
}

impl Transport for MemoryTransport {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn publish<'a>(&'a self, channel: &'a str, payload: Bytes) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if self.closed.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            self.hub.publish(channel, &payload);
            Stats::inc(&self.stats.published);
            Ok(())
        })
    }

    fn subscribe<'a>(
        &'a self,
        channels: &'a [String],
    ) -> BoxFuture<'a, Result<mpsc::Receiver<Received>, Error>> {
        Box::pin(async move {
            let (tx, rx) = mpsc::channel(RECEIVE_QUEUE);
            let sub = Sub {
                channels: channels.to_vec(),
                tx,
                stats: self.stats.clone(),
            };
            lock(&self.hub.subs).push(sub);
            Ok(rx)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.closed.store(true, Ordering::Release);
            self.stats.set_up(false);
            let stats = Arc::as_ptr(&self.stats);
            lock(&self.hub.subs).retain(|s| Arc::as_ptr(&s.stats) != stats);
        })
    }

    fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lagging_subscriber_loses_messages_but_never_blocks_the_publisher() {
        let hub = MemoryHub::new();
        let (publisher, slow, fast) = (hub.transport(), hub.transport(), hub.transport());
        let ch = ["c".to_owned()];
        let mut slow_rx = slow.subscribe(&ch).await.unwrap();
        let mut fast_rx = fast.subscribe(&ch).await.unwrap();
        let extra = 10u64;
        let total = RECEIVE_QUEUE as u64 + extra;
        for i in 0..total {
            // The fast subscriber keeps up; the slow one reads nothing until the end.
            publisher
                .publish("c", Bytes::from(i.to_be_bytes().to_vec()))
                .await
                .unwrap();
            let got = fast_rx.try_recv().unwrap();
            assert_eq!(got.payload.as_ref(), i.to_be_bytes());
        }
        assert_eq!(Stats::get(&publisher.stats().published), total);
        assert_eq!(Stats::get(&slow.stats().receive_dropped), extra);
        assert_eq!(Stats::get(&fast.stats().receive_dropped), 0);
        // The slow one kept the oldest messages, in order; the newest were dropped.
        for i in 0..RECEIVE_QUEUE as u64 {
            assert_eq!(
                slow_rx.try_recv().unwrap().payload.as_ref(),
                i.to_be_bytes()
            );
        }
        assert!(slow_rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn closing_one_transport_leaves_the_others_subscribed() {
        let hub = MemoryHub::new();
        let (a, b) = (hub.transport(), hub.transport());
        let ch = ["c".to_owned()];
        let mut a_rx = a.subscribe(&ch).await.unwrap();
        let mut b_rx = b.subscribe(&ch).await.unwrap();
        a.close().await;
        assert!(a_rx.recv().await.is_none());
        assert!(matches!(
            a.publish("c", Bytes::new()).await,
            Err(Error::Closed)
        ));
        b.publish("c", Bytes::from_static(b"x")).await.unwrap();
        assert_eq!(b_rx.try_recv().unwrap().payload.as_ref(), b"x");
    }
}
