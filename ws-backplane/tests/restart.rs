//! Broker restarts, on private brokers (never the shared ones).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use oyez_backplane::transport::nats::NatsTransport;
use oyez_backplane::transport::redis::RedisTransport;
use oyez_backplane::{Error, Stats, Tina4Cluster, Transport};
use oyez_envelope::tina4::{Envelope, Kind, Payload};

use crate::util::{PrivateBroker, WAIT, bounded, free_port, unique};

async fn transport(kind: &str, url: &str) -> Arc<dyn Transport> {
    match kind {
        "redis" => Arc::new(RedisTransport::connect(url).unwrap()),
        _ => Arc::new(NatsTransport::connect(url).await.unwrap()),
    }
}

/// Publishes probes from `a` every 50 ms until `b` delivers one; returns how long it took.
async fn until_delivered(
    a: &Tina4Cluster,
    rx: &mut tokio::sync::mpsc::Receiver<Envelope>,
) -> Duration {
    let start = tokio::time::Instant::now();
    let token = unique("probe-");
    loop {
        a.publish(crate::util::tina4_all(&token));
        if let Ok(Some(env)) = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await
            && env.payload == Payload::Text(token.clone())
        {
            return start.elapsed();
        }
        assert!(start.elapsed() < WAIT, "delivery never resumed");
    }
}

async fn survives_a_restart(kind: &'static str) {
    let mut broker = PrivateBroker::start(kind, free_port());
    let url = broker.url();
    let (a, _rx_a) = Tina4Cluster::start(transport(kind, &url).await)
        .await
        .unwrap();
    let (_b, mut rx) = Tina4Cluster::start(transport(kind, &url).await)
        .await
        .unwrap();
    until_delivered(&a, &mut rx).await;

    broker.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // During the outage: publishing goes on without errors or waiting; messages are dropped
    // and counted.
    let dropped_before = Stats::get(&a.stats().publish_dropped);
    let started = tokio::time::Instant::now();
    for i in 0..20 {
        a.publish(crate::util::tina4(
            Kind::All,
            Payload::Text(format!("lost {i}")),
            None,
            None,
            None,
        ));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "publishing never blocks"
    );
    // The transport itself answers at once too: accepted-then-dropped, or refused as
    // disconnected; never a wait for the broker, never another error.
    for _ in 0..5 {
        let outcome = tokio::time::timeout(
            Duration::from_millis(100),
            a.transport()
                .publish("bptest-outage", Bytes::from_static(b"lost")),
        )
        .await
        .expect("a publish during the outage returns at once");
        assert!(
            matches!(outcome, Ok(()) | Err(Error::Disconnected(_))),
            "{outcome:?}"
        );
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while Stats::get(&a.stats().publish_dropped) == dropped_before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "outage publishes were not counted as dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    broker.spawn(); // the same port; returns once it accepts connections
    let resumed = until_delivered(&a, &mut rx).await;
    assert!(
        resumed < Duration::from_secs(1),
        "{kind}: delivery resumed after {resumed:?}"
    );
    assert!(Stats::get(&a.stats().disconnects) >= 1);
    // Nothing published during the outage arrives late (at-most-once, no buffering).
    let late: Vec<Envelope> = crate::util::drain(&mut rx, Duration::from_millis(300)).await;
    assert!(
        late.iter()
            .all(|e| !matches!(&e.payload, Payload::Text(t) if t.starts_with("lost "))),
        "outage messages were buffered: {late:?}"
    );
    eprintln!("{kind}: delivery resumed {resumed:?} after the broker came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart() {
    bounded(survives_a_restart("redis")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restart() {
    bounded(survives_a_restart("nats")).await;
}
