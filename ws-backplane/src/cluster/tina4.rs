//! The Tina4 cluster manager: one channel, `tina4:ws`, for every instance.

use std::sync::Arc;

use bytes::Bytes;
use oyez_envelope::tina4::{Envelope, TINA4_CHANNEL, peek_src};
use tokio::sync::mpsc;
use tracing::debug;

use super::PUBLISH_QUEUE;
use crate::stats::Dropped;
use crate::transport::{RECEIVE_QUEUE, Transport};
use crate::{Error, Stats};

/// Publishes our broadcasts as Tina4 envelopes and hands other instances' envelopes to
/// local delivery.
///
/// - A stable instance id per manager ([`oyez_envelope::new_instance_id`]).
/// - Echo guard: envelopes whose `src` is ours are dropped (counted in [`Stats::echoes`]).
/// - Malformed envelopes are dropped and counted ([`Stats::malformed`]), never delivered.
/// - It never re-publishes what it receives: relaying is the receiver's local delivery only.
/// - Best effort: [`Tina4Cluster::publish`] never waits and never fails the caller; a
///   publish the broker cannot take is dropped, logged and counted.
#[derive(Clone, Debug)]
pub struct Tina4Cluster {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: String,
    transport: Arc<dyn Transport>,
    publish_tx: mpsc::Sender<Bytes>,
}

impl Tina4Cluster {
    /// Subscribes to `tina4:ws` on `transport` (eagerly: the reference wires lazily, on the
    /// first broadcast, and never retries; see the crate docs) and starts relaying. Returns
    /// the manager and the stream of envelopes from other instances, for local delivery.
    ///
    /// # Errors
    /// The transport refused the subscription.
    pub async fn start(
        transport: Arc<dyn Transport>,
    ) -> Result<(Self, mpsc::Receiver<Envelope>), Error> {
        let id = oyez_envelope::new_instance_id();
        let mut incoming = transport.subscribe(&[TINA4_CHANNEL.to_owned()]).await?;
        let (deliver_tx, deliver_rx) = mpsc::channel(RECEIVE_QUEUE);
        let stats = transport.stats().clone();
        let own = id.clone();
        tokio::spawn(async move {
            while let Some(msg) = incoming.recv().await {
                if let Some(env) = accept(&own, &msg.payload, &stats)
                    && deliver_tx.try_send(env).is_err()
                {
                    if deliver_tx.is_closed() {
                        return;
                    }
                    Stats::inc(&stats.receive_dropped);
                }
            }
        });
        let (publish_tx, mut publish_rx) = mpsc::channel::<Bytes>(PUBLISH_QUEUE);
        let publisher = transport.clone();
        tokio::spawn(async move {
            while let Some(bytes) = publish_rx.recv().await {
                if let Err(e) = publisher.publish(TINA4_CHANNEL, bytes).await {
                    debug!(kind = publisher.kind(), error = %e, "tina4 publish dropped");
                }
            }
        });
        Ok((
            Self {
                inner: Arc::new(Inner {
                    id,
                    transport,
                    publish_tx,
                }),
            },
            deliver_rx,
        ))
    }

    /// This instance's id (the `src` of every envelope it publishes).
    pub fn instance_id(&self) -> &str {
        &self.inner.id
    }

    /// Publishes an envelope for the other instances, as this instance (its `src` is set to
    /// [`Tina4Cluster::instance_id`]). Never waits; a full publish queue drops the message
    /// (counted in [`Stats::publish_dropped`]).
    pub fn publish(&self, mut envelope: Envelope) {
        envelope.src.clone_from(&self.inner.id);
        if self
            .inner
            .publish_tx
            .try_send(Bytes::from(envelope.encode()))
            .is_err()
        {
            self.stats().drop_publish(Dropped::QueueFull);
        }
    }

    /// The transport's counters.
    pub fn stats(&self) -> &Stats {
        self.inner.transport.stats()
    }

    /// The transport.
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.inner.transport
    }
}

/// The receive path: echo guard, then decode. `None` means dropped (and counted).
pub(crate) fn accept(own_id: &str, payload: &[u8], stats: &Stats) -> Option<Envelope> {
    if peek_src(payload).as_deref() == Some(own_id) {
        Stats::inc(&stats.echoes);
        return None;
    }
    match Envelope::decode(payload) {
        Ok(env) => Some(env),
        Err(e) => {
            Stats::inc(&stats.malformed);
            debug!(error = %e, "malformed tina4 envelope dropped");
            None
        }
    }
}
