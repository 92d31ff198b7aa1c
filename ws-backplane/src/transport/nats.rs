//! NATS (core pub/sub: no queue groups, no JetStream, no headers).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::{BoxFuture, RECEIVE_QUEUE, Received, Transport, forward};
use crate::stats::Dropped;
use crate::{Backoff, Error, Stats};

const KIND: &str = "nats";
/// How long [`NatsTransport::connect`] waits for the first connection before returning
/// anyway (publishes are dropped until the client connects).
const INITIAL_CONNECT_WAIT: Duration = Duration::from_millis(1000);
/// How long a publish may wait for room in the client's outgoing queue.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(1000);

/// A NATS transport. async-nats reconnects and resubscribes by itself; we give it our
/// backoff (25 ms doubling to 500 ms, forever) and, while it is disconnected, drop publishes
/// instead of letting the client buffer them (at-most-once, like the other transports).
#[derive(Debug)]
pub struct NatsTransport {
    client: async_nats::Client,
    stats: Arc<Stats>,
    closed: watch::Sender<bool>,
}

impl NatsTransport {
    /// A transport for `url` (e.g. `nats://localhost:4222`). Waits up to one second for the
    /// first connection, then returns even if the server is down: the client keeps trying in
    /// the background, and publishes are dropped (and counted) until it connects.
    ///
    /// # Errors
    /// [`Error::Backend`] for an address the client does not accept.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let stats = Arc::new(Stats::default());
        let events = stats.clone();
        let backoff = Backoff::reconnect();
        let options = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(1))
            .reconnect_delay_callback(move |attempt| backoff.delay_for_attempt(attempt))
            .event_callback(move |event| {
                let stats = events.clone();
                async move {
                    match event {
                        async_nats::Event::Disconnected => {
                            stats.set_up(false);
                            Stats::inc(&stats.disconnects);
                            warn!(
                                kind = KIND,
                                "disconnected; serving locally until it is back"
                            );
                        }
                        async_nats::Event::Connected => {
                            stats.set_up(true);
                            if Stats::get(&stats.disconnects) > 0 {
                                Stats::inc(&stats.reconnects);
                                info!(kind = KIND, "reconnected");
                            }
                        }
                        _ => {}
                    }
                }
            });
        let client = async_nats::connect_with_options(url, options)
            .await
            .map_err(|e| Error::backend(KIND, e))?;
        // The client connects in the background; give it a moment so that a broker that is
        // up takes our first publishes, without making a down broker a startup failure.
        let (closed, _) = watch::channel(false);
        let transport = Self {
            client,
            stats,
            closed,
        };
        let deadline = tokio::time::Instant::now() + INITIAL_CONNECT_WAIT;
        while !transport.is_connected() {
            if tokio::time::Instant::now() >= deadline {
                warn!(
                    kind = KIND,
                    "cannot reach the broker; serving locally and retrying"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(transport)
    }

    fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}

impl Transport for NatsTransport {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn publish<'a>(&'a self, channel: &'a str, payload: Bytes) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if *self.closed.borrow() {
                return Err(Error::Closed);
            }
            if !self.is_connected() {
                self.stats.drop_publish(Dropped::BrokerDown);
                return Err(Error::Disconnected(KIND));
            }
            // A connection that is up but stuck (the broker stopped reading) fills the
            // client's queue; we give up on the message rather than wait for it.
            let publish = self.client.publish(channel.to_owned(), payload);
            match tokio::time::timeout(PUBLISH_TIMEOUT, publish).await {
                Ok(Ok(())) => {
                    Stats::inc(&self.stats.published);
                    Ok(())
                }
                Ok(Err(e)) => {
                    self.stats.drop_publish(Dropped::Refused);
                    Err(Error::backend(KIND, e))
                }
                Err(_) => {
                    self.stats.drop_publish(Dropped::BrokerDown);
                    Err(Error::Disconnected(KIND))
                }
            }
        })
    }

    fn subscribe<'a>(
        &'a self,
        channels: &'a [String],
    ) -> BoxFuture<'a, Result<mpsc::Receiver<Received>, Error>> {
        Box::pin(async move {
            let (tx, rx) = mpsc::channel(RECEIVE_QUEUE);
            for channel in channels {
                let mut sub = self
                    .client
                    .subscribe(channel.clone())
                    .await
                    .map_err(|e| Error::backend(KIND, e))?;
                let tx = tx.clone();
                let stats = self.stats.clone();
                let mut closed = self.closed.subscribe();
                tokio::spawn(async move {
                    loop {
                        let msg = tokio::select! {
                            m = sub.next() => m,
                            _ = closed.wait_for(|c| *c) => break,
                        };
                        let Some(msg) = msg else { break };
                        let received = Received {
                            channel: msg.subject.to_string(),
                            payload: msg.payload,
                        };
                        if !forward(&tx, received, &stats) {
                            break;
                        }
                    }
                    let _ = sub.unsubscribe().await;
                });
            }
            Ok(rx)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.closed.send_replace(true);
            let _ = self.client.flush().await;
            self.stats.set_up(false);
        })
    }

    fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }
}
