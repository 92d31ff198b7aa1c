//! The transport conformance suite: opaque `(channel, bytes)` behaviour, written once and run
//! for memory, Redis and NATS (the manager-level suite is in `conformance.rs`).

use std::time::Duration;

use bytes::Bytes;
use oyez_backplane::{Error, Received, Stats, Transport};
use tokio::sync::mpsc;

use crate::util::{WAIT, drain, recv_matching, transports, unique};

/// A channel name no other test (or other user of the shared brokers) uses.
fn channel(what: &str) -> String {
    unique(&format!("bptest-{what}-"))
}

/// Publishes markers on `channel` from `publisher` until every receiver has seen one, then
/// drains them: the subscriptions are live after this (Redis and NATS subscribe
/// asynchronously).
async fn warm(
    publisher: &dyn Transport,
    channel: &str,
    receivers: &mut [&mut mpsc::Receiver<Received>],
) {
    let marker = Bytes::from(unique("warm-"));
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen = vec![false; receivers.len()];
    while !seen.iter().all(|s| *s) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscriptions never became live"
        );
        publisher.publish(channel, marker.clone()).await.unwrap();
        for (rx, seen) in receivers.iter_mut().zip(&mut seen) {
            while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await
            {
                *seen |= m.payload == marker;
            }
        }
    }
    for rx in receivers.iter_mut() {
        let _ = drain(rx, Duration::from_millis(100)).await;
    }
}

/// Receives exactly `n` messages, failing after [`WAIT`].
async fn take(rx: &mut mpsc::Receiver<Received>, n: usize) -> Vec<Received> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.push(recv_matching(rx, "a published message", |_| true).await);
    }
    out
}

/// Two publishers, two subscribers on other connections: each subscriber gets every message
/// exactly once, and each publisher's messages in the order it published them.
pub(crate) async fn two_subscribers_get_everything_once_in_publisher_order(backend: &str) {
    const PER_PUBLISHER: u32 = 200;
    let t = transports(backend, 4).await;
    let ch = channel("order");
    let mut rx1 = t[2].subscribe(std::slice::from_ref(&ch)).await.unwrap();
    let mut rx2 = t[3].subscribe(std::slice::from_ref(&ch)).await.unwrap();
    warm(&*t[0], &ch, &mut [&mut rx1, &mut rx2]).await;
    warm(&*t[1], &ch, &mut [&mut rx1, &mut rx2]).await;

    // Interleaved: publisher p sends [p, seq (4 bytes BE)].
    for seq in 0..PER_PUBLISHER {
        for (p, publisher) in t[..2].iter().enumerate() {
            let mut msg = vec![u8::try_from(p).unwrap()];
            msg.extend_from_slice(&seq.to_be_bytes());
            publisher.publish(&ch, Bytes::from(msg)).await.unwrap();
        }
    }
    let total = 2 * PER_PUBLISHER as usize;
    for rx in [&mut rx1, &mut rx2] {
        let got = take(rx, total).await;
        for p in 0..2u8 {
            let seqs: Vec<u32> = got
                .iter()
                .filter(|m| m.payload[0] == p)
                .map(|m| u32::from_be_bytes(m.payload[1..5].try_into().unwrap()))
                .collect();
            assert_eq!(
                seqs,
                (0..PER_PUBLISHER).collect::<Vec<_>>(),
                "{backend}: publisher {p} complete, once, in order"
            );
        }
        assert!(got.iter().all(|m| m.channel == ch));
        let extra = drain(rx, Duration::from_millis(300)).await;
        assert!(extra.is_empty(), "{backend}: duplicates: {extra:?}");
    }
    assert!(Stats::get(&t[2].stats().received) >= total as u64);
    // Redis counts a publish when the broker acknowledges it, just after it is delivered.
    let published = || -> u64 {
        t[..2]
            .iter()
            .map(|x| Stats::get(&x.stats().published))
            .sum()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while published() < total as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{backend}: published count {}",
            published()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Binary payloads arrive byte for byte: every byte value, invalid UTF-8, NULs, protocol
/// delimiters (`\r\n`, `PUB`, `*3`), the empty payload and 256 KiB.
pub(crate) async fn binary_and_non_utf8_bytes_pass_intact(backend: &str) {
    let t = transports(backend, 2).await;
    let ch = channel("bytes");
    let mut rx = t[1].subscribe(std::slice::from_ref(&ch)).await.unwrap();
    warm(&*t[0], &ch, &mut [&mut rx]).await;
    let big: Vec<u8> = (0..256 * 1024u32)
        .map(|i| u8::try_from(i.wrapping_mul(2_654_435_761) >> 24).unwrap())
        .collect();
    let payloads: Vec<Vec<u8>> = vec![
        (0..=255).collect(),
        vec![0xff, 0xfe, 0xfd],
        vec![0x80, 0xc0, 0x80, 0xed, 0xa0, 0x80], // lone continuation, overlong, surrogate
        vec![0, 0, 0],
        b"\r\nPUB x 1\r\n*3\r\n$7\r\nmessage\r\n".to_vec(),
        vec![],
        big,
    ];
    for p in &payloads {
        t[0].publish(&ch, Bytes::from(p.clone())).await.unwrap();
    }
    let got = take(&mut rx, payloads.len()).await;
    for (g, want) in got.iter().zip(&payloads) {
        assert_eq!(g.payload.len(), want.len(), "{backend}: length");
        assert!(g.payload.as_ref() == want.as_slice(), "{backend}: bytes");
    }
}

/// A subscriber hears only its channels; a subscription to several names each message with
/// the channel it came on.
pub(crate) async fn channels_are_isolated(backend: &str) {
    let t = transports(backend, 3).await;
    let (x, y) = (channel("x"), channel("y"));
    let mut only_x = t[1].subscribe(std::slice::from_ref(&x)).await.unwrap();
    let mut both = t[2].subscribe(&[x.clone(), y.clone()]).await.unwrap();
    warm(&*t[0], &x, &mut [&mut only_x, &mut both]).await;
    warm(&*t[0], &y, &mut [&mut both]).await;
    let _ = drain(&mut only_x, Duration::from_millis(100)).await;

    t[0].publish(&y, Bytes::from_static(b"for y"))
        .await
        .unwrap();
    t[0].publish(&x, Bytes::from_static(b"for x"))
        .await
        .unwrap();
    // A near miss: a prefix of x is another channel.
    t[0].publish(&x[..x.len() - 1], Bytes::from_static(b"prefix"))
        .await
        .unwrap();
    let got = take(&mut only_x, 1).await;
    assert_eq!(
        (got[0].channel.as_str(), got[0].payload.as_ref()),
        (x.as_str(), &b"for x"[..])
    );
    let mut got = take(&mut both, 2).await;
    got.sort_by(|a, b| a.channel.cmp(&b.channel));
    let mut want = vec![(x.clone(), &b"for x"[..]), (y.clone(), &b"for y"[..])];
    want.sort();
    let got: Vec<(String, &[u8])> = got
        .iter()
        .map(|m| (m.channel.clone(), m.payload.as_ref()))
        .collect();
    assert_eq!(got, want);
    assert!(
        drain(&mut only_x, Duration::from_millis(300))
            .await
            .is_empty()
    );
    assert!(drain(&mut both, Duration::from_millis(50)).await.is_empty());
}

/// `close` ends the transport's subscriptions and refuses later publishes; other transports
/// on the same broker carry on.
pub(crate) async fn close_ends_subscriptions_and_refuses_publishes(backend: &str) {
    let t = transports(backend, 3).await;
    let ch = channel("close");
    let mut closing = t[1].subscribe(std::slice::from_ref(&ch)).await.unwrap();
    let mut staying = t[2].subscribe(std::slice::from_ref(&ch)).await.unwrap();
    warm(&*t[0], &ch, &mut [&mut closing, &mut staying]).await;

    tokio::time::timeout(WAIT, t[1].close()).await.unwrap();
    // The closed subscription's stream ends (it may still hold messages sent before).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, closing.recv()).await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => panic!("{backend}: the subscription did not end on close"),
        }
    }
    assert!(matches!(
        t[1].publish(&ch, Bytes::from_static(b"after close")).await,
        Err(Error::Closed)
    ));
    t[0].publish(&ch, Bytes::from_static(b"still here"))
        .await
        .unwrap();
    let got = take(&mut staying, 1).await;
    assert_eq!(got[0].payload.as_ref(), b"still here");
}

macro_rules! suite {
    ($($backend:ident),*) => {$(
        mod $backend {
            const B: &str = stringify!($backend);

            use crate::util::bounded;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_subscribers_get_everything_once_in_publisher_order() {
                bounded(super::two_subscribers_get_everything_once_in_publisher_order(B)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn binary_and_non_utf8_bytes_pass_intact() {
                bounded(super::binary_and_non_utf8_bytes_pass_intact(B)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn channels_are_isolated() {
                bounded(super::channels_are_isolated(B)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn close_ends_subscriptions_and_refuses_publishes() {
                bounded(super::close_ends_subscriptions_and_refuses_publishes(B)).await;
            }
        }
    )*};
}

suite!(memory, redis, nats);
