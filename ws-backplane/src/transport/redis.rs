//! Redis: one publishing connection and a separate subscriber connection, each reconnecting
//! on its own with capped exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use super::{BoxFuture, RECEIVE_QUEUE, Received, Transport, forward};
use crate::stats::Dropped;
use crate::{Backoff, Error, Stats};

const KIND: &str = "redis";
/// How long one connection attempt or one PUBLISH may take.
const OP_TIMEOUT: Duration = Duration::from_millis(1000);
/// Publishes waiting for the publishing connection; more are dropped and counted.
const PUBLISH_QUEUE: usize = 4096;

/// A Redis transport (`PUBLISH` / `SUBSCRIBE` on exact channel names).
#[derive(Debug)]
pub struct RedisTransport {
    client: redis::Client,
    publish_tx: mpsc::Sender<(String, Bytes)>,
    stats: Arc<Stats>,
    closed: watch::Sender<bool>,
}

impl RedisTransport {
    /// A transport for `url` (e.g. `redis://localhost:6379`). Returns at once, even if Redis
    /// is down: connections are made in the background and remade after failures.
    ///
    /// # Errors
    /// [`Error::Backend`] for a URL the client does not accept.
    pub fn connect(url: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(|e| Error::backend(KIND, e))?;
        let stats = Arc::new(Stats::default());
        let (closed, _) = watch::channel(false);
        let (publish_tx, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
        tokio::spawn(publisher(
            client.clone(),
            publish_rx,
            stats.clone(),
            closed.subscribe(),
        ));
        Ok(Self {
            client,
            publish_tx,
            stats,
            closed,
        })
    }
}

/// Owns the publishing connection: (re)connects on demand, no more often than the backoff
/// allows, and drops what cannot be published.
async fn publisher(
    client: redis::Client,
    mut rx: mpsc::Receiver<(String, Bytes)>,
    stats: Arc<Stats>,
    mut closed: watch::Receiver<bool>,
) {
    let mut conn: Option<redis::aio::MultiplexedConnection> = None;
    let mut backoff = Backoff::reconnect();
    let mut retry_at = tokio::time::Instant::now();
    let mut was_down = false;
    loop {
        let (channel, payload) = tokio::select! {
            msg = rx.recv() => match msg { Some(m) => m, None => return },
            _ = closed.wait_for(|c| *c) => return,
        };
        if conn.is_none() && tokio::time::Instant::now() >= retry_at {
            match tokio::time::timeout(OP_TIMEOUT, client.get_multiplexed_async_connection()).await
            {
                Ok(Ok(c)) => {
                    conn = Some(c);
                    backoff.reset();
                    if was_down {
                        Stats::inc(&stats.reconnects);
                        info!(kind = KIND, "publisher reconnected");
                    }
                }
                _ => retry_at = tokio::time::Instant::now() + backoff.next_delay(),
            }
        }
        let Some(c) = conn.as_mut() else {
            stats.drop_publish(Dropped::BrokerDown);
            continue;
        };
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&channel).arg(payload.as_ref());
        let publish = cmd.query_async::<i64>(c);
        match tokio::time::timeout(OP_TIMEOUT, publish).await {
            Ok(Ok(_)) => Stats::inc(&stats.published),
            outcome => {
                stats.drop_publish(Dropped::BrokerDown);
                Stats::inc(&stats.disconnects);
                warn!(
                    kind = KIND,
                    timed_out = outcome.is_err(),
                    "publish failed; dropping the publishing connection"
                );
                conn = None;
                was_down = true;
                retry_at = tokio::time::Instant::now() + backoff.next_delay();
            }
        }
    }
}

/// Owns a subscriber connection: subscribe, forward, and on any loss reconnect and
/// subscribe again.
async fn subscriber(
    client: redis::Client,
    channels: Vec<String>,
    tx: mpsc::Sender<Received>,
    stats: Arc<Stats>,
    mut closed: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::reconnect();
    let mut first = true;
    loop {
        let attempt = async {
            let mut pubsub = client.get_async_pubsub().await?;
            for c in &channels {
                pubsub.subscribe(c).await?;
            }
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = tokio::select! {
            r = tokio::time::timeout(OP_TIMEOUT, attempt) => r,
            _ = closed.wait_for(|c| *c) => return,
        };
        match pubsub {
            Ok(Ok(pubsub)) => {
                stats.set_up(true);
                backoff.reset();
                if !first {
                    Stats::inc(&stats.reconnects);
                    info!(kind = KIND, "subscriber reconnected and resubscribed");
                }
                first = false;
                let mut messages = pubsub.into_on_message();
                loop {
                    let msg = tokio::select! {
                        m = messages.next() => m,
                        _ = closed.wait_for(|c| *c) => return,
                    };
                    let Some(msg) = msg else { break };
                    let received = Received {
                        channel: msg.get_channel_name().to_owned(),
                        payload: Bytes::copy_from_slice(msg.get_payload_bytes()),
                    };
                    if !forward(&tx, received, &stats) {
                        return;
                    }
                }
                stats.set_up(false);
                Stats::inc(&stats.disconnects);
                warn!(
                    kind = KIND,
                    "subscriber connection lost; serving locally until it is back"
                );
            }
            Ok(Err(e)) => debug!(kind = KIND, error = %e, "subscribe attempt failed"),
            Err(_) => debug!(kind = KIND, "subscribe attempt timed out"),
        }
        if first {
            first = false;
            warn!(
                kind = KIND,
                "cannot reach the broker; serving locally and retrying"
            );
        }
        let delay = backoff.next_delay();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = closed.wait_for(|c| *c) => return,
        }
        if tx.is_closed() {
            return;
        }
    }
}

impl Transport for RedisTransport {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn publish<'a>(&'a self, channel: &'a str, payload: Bytes) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if *self.closed.borrow() {
                return Err(Error::Closed);
            }
            self.publish_tx
                .try_send((channel.to_owned(), payload))
                .map_err(|_| {
                    self.stats.drop_publish(Dropped::QueueFull);
                    Error::Disconnected(KIND)
                })
        })
    }

    fn subscribe<'a>(
        &'a self,
        channels: &'a [String],
    ) -> BoxFuture<'a, Result<mpsc::Receiver<Received>, Error>> {
        Box::pin(async move {
            let (tx, rx) = mpsc::channel(RECEIVE_QUEUE);
            tokio::spawn(subscriber(
                self.client.clone(),
                channels.to_vec(),
                tx,
                self.stats.clone(),
                self.closed.subscribe(),
            ));
            Ok(rx)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.closed.send_replace(true);
            self.stats.set_up(false);
        })
    }

    fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }
}
