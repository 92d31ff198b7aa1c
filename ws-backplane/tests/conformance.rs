//! The conformance suite: written once, run for every backend.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use oyez_backplane::{
    MegaCluster, MegaConfig, MegaIncoming, RosterDriver, Stats, Tina4Cluster, Transport,
};
use oyez_envelope::mega::{Channel, Member, message};
use oyez_envelope::tina4::{Envelope, Kind, Payload, TINA4_CHANNEL};
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::util::{WAIT, drain, recv_matching, transports, unique};

/// Publishes a marker from `a` until `rx` sees it: the subscriptions are live after this.
async fn warm_tina4(a: &Tina4Cluster, rx: &mut mpsc::Receiver<Envelope>) {
    let marker = unique("warm-");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        a.publish(crate::util::tina4_all(&marker));
        if let Ok(Some(env)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
            && env.payload == Payload::Text(marker.clone())
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscriptions never became live"
        );
    }
    let _ = drain(rx, Duration::from_millis(50)).await;
}

pub(crate) async fn tina4_every_kind_once_without_echo(backend: &str) {
    let t = transports(backend, 2).await;
    let (a, mut from_a_side) = Tina4Cluster::start(t[0].clone()).await.unwrap();
    let (b, mut rx) = Tina4Cluster::start(t[1].clone()).await.unwrap();
    warm_tina4(&a, &mut rx).await;
    let token = unique("t-");
    type Publish<'a> = (
        Kind,
        Payload,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let sent: Vec<Publish<'_>> = vec![
        (
            Kind::All,
            Payload::Text(format!("{token} all")),
            None,
            None,
            None,
        ),
        (
            Kind::All,
            Payload::Binary(vec![0, 1, 0xff]),
            None,
            None,
            Some("c1"),
        ),
        (
            Kind::Path,
            Payload::Text(format!("{token} path")),
            None,
            Some("/chat"),
            None,
        ),
        (
            Kind::Path,
            Payload::Binary(vec![]),
            None,
            Some("/chat"),
            Some("c2"),
        ),
        (
            Kind::Room,
            Payload::Text(format!("{token} room é😀")),
            Some("lobby"),
            None,
            None,
        ),
        (
            Kind::Room,
            Payload::Binary((0..=255).collect()),
            Some("lobby"),
            None,
            Some("c3"),
        ),
    ];
    for (kind, payload, room, path, exclude) in &sent {
        a.publish(crate::util::tina4(
            *kind,
            payload.clone(),
            *room,
            *path,
            *exclude,
        ));
    }
    let mut got = Vec::new();
    while got.len() < sent.len() {
        got.push(
            recv_matching(&mut rx, "an envelope from a", |e: &Envelope| {
                e.src == a.instance_id()
            })
            .await,
        );
    }
    // Exactly once: nothing more from a.
    let extra: Vec<Envelope> = drain(&mut rx, Duration::from_millis(300))
        .await
        .into_iter()
        .filter(|e| e.src == a.instance_id())
        .collect();
    assert!(extra.is_empty(), "duplicates: {extra:?}");
    for (env, (kind, payload, room, path, exclude)) in got.iter().zip(&sent) {
        assert_eq!(
            (env.kind, &env.payload),
            (*kind, payload),
            "in publish order"
        );
        assert_eq!(
            (
                env.room.as_deref(),
                env.path.as_deref(),
                env.exclude.as_deref()
            ),
            (*room, *path, *exclude)
        );
    }
    // No echo: a never delivers its own envelopes.
    let own: Vec<Envelope> = drain(&mut from_a_side, Duration::from_millis(100))
        .await
        .into_iter()
        .filter(|e| e.src == a.instance_id())
        .collect();
    assert!(own.is_empty(), "echo delivered: {own:?}");
    assert!(
        Stats::get(&a.stats().echoes) >= sent.len() as u64,
        "the echo guard saw our own envelopes"
    );
    let _ = b;
}

pub(crate) async fn tina4_malformed_bytes_are_dropped_and_counted(backend: &str) {
    let t = transports(backend, 2).await;
    let (a, _) = Tina4Cluster::start(t[0].clone()).await.unwrap();
    let (b, mut rx) = Tina4Cluster::start(t[1].clone()).await.unwrap();
    warm_tina4(&a, &mut rx).await;
    let before = Stats::get(&b.stats().malformed);
    let garbage: [&[u8]; 6] = [
        b"not json",
        b"[1,2]",
        b"{\"src\":\"x\"}",
        b"\xff\xfe",
        b"{\"text\":\"\\ud800\"}",
        b"{\"b64\":\"@@\"}",
    ];
    for g in garbage {
        t[0].publish(TINA4_CHANNEL, Bytes::from_static(g))
            .await
            .unwrap();
    }
    let token = unique("after-");
    a.publish(crate::util::tina4_all(&token));
    let env = recv_matching(
        &mut rx,
        "the valid envelope after the garbage",
        |e: &Envelope| e.src == a.instance_id(),
    )
    .await;
    assert_eq!(env.payload, Payload::Text(token));
    let deadline = tokio::time::Instant::now() + WAIT;
    while Stats::get(&b.stats().malformed) < before + garbage.len() as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "malformed count {} (before {before})",
            Stats::get(&b.stats().malformed)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) async fn tina4_golden_vectors_published_raw_are_delivered(backend: &str) {
    let t = transports(backend, 2).await;
    let (a, _) = Tina4Cluster::start(t[0].clone()).await.unwrap();
    let (_b, mut rx) = Tina4Cluster::start(t[1].clone()).await.unwrap();
    warm_tina4(&a, &mut rx).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ws-envelope/tests/golden");
    let mut expected = Vec::new();
    for sub in ["tina4", "tina4-python"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            expected.push(Envelope::decode(&bytes).unwrap());
            t[0].publish(TINA4_CHANNEL, Bytes::from(bytes))
                .await
                .unwrap();
        }
    }
    for want in &expected {
        let got = recv_matching(&mut rx, "a golden envelope", |e: &Envelope| {
            e.src == "3f2a9c1b7e4d4a08"
        })
        .await;
        assert_eq!(&got, want);
    }
}

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).unwrap()
}

async fn mega_pair(
    backend: &str,
    roster: RosterDriver,
    ttl: Duration,
) -> (
    Vec<Arc<dyn Transport>>,
    String,
    Vec<(MegaCluster, mpsc::Receiver<MegaIncoming>)>,
) {
    let t = transports(backend, 3).await;
    let app = unique("app");
    let mut out = Vec::new();
    for tr in &t[..2] {
        let mut config = MegaConfig::new(&app);
        config.roster = roster;
        config.ttl = ttl;
        out.push(MegaCluster::start(tr.clone(), config).await.unwrap());
    }
    (t, app, out)
}

async fn warm_mega(a: &MegaCluster, rx: &mut mpsc::Receiver<MegaIncoming>) {
    let marker = unique("warm");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        a.publish_broadcast(crate::util::bcast(
            &marker,
            Channel::Absent,
            message("warm", None),
            vec![],
        ));
        if let Ok(Some(MegaIncoming::Broadcast(b))) =
            tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
            && b.ns == marker
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "mega subscriptions never became live"
        );
    }
    let _ = drain(rx, Duration::from_millis(50)).await;
}

pub(crate) async fn mega_broadcast_and_direct_once_without_echo(backend: &str) {
    let (_t, _app, mut pair) =
        mega_pair(backend, RosterDriver::None, Duration::from_secs(30)).await;
    let (b, mut rx_b) = pair.pop().unwrap();
    let (a, mut rx_a) = pair.pop().unwrap();
    warm_mega(&a, &mut rx_b).await;
    a.publish_broadcast(crate::util::bcast(
        "/ws/chat",
        Channel::Name("general".into()),
        message("chat", Some(&raw(r#"{"text":"hi","n":1.0}"#))),
        vec!["s1".into()],
    ));
    a.publish_direct(crate::util::direct(
        "u2",
        message(
            "dm",
            Some(&raw(r#"{"big":123456789012345678901234567890}"#)),
        ),
    ));
    // Two subjects: order is per subject, not across them.
    let mut items = vec![
        recv_matching(&mut rx_b, "a mega message", |_| true).await,
        recv_matching(&mut rx_b, "a mega message", |_| true).await,
    ];
    items.sort_by_key(|i| matches!(i, MegaIncoming::Direct(_)));
    let second = items.pop().unwrap();
    let first = items.pop().unwrap();
    let MegaIncoming::Broadcast(bc) = first else {
        panic!("expected a broadcast: {first:?}")
    };
    assert_eq!(bc.o.as_deref(), Some(a.instance_id()));
    assert_eq!(
        (
            bc.ns.as_str(),
            &bc.channel,
            bc.except_session_ids.as_slice()
        ),
        (
            "/ws/chat",
            &Channel::Name("general".into()),
            &["s1".to_owned()][..]
        )
    );
    assert_eq!(
        bc.message.get(),
        r#"{"type":"chat","payload":{"text":"hi","n":1.0}}"#,
        "payload relayed verbatim"
    );
    let MegaIncoming::Direct(d) = second else {
        panic!("expected the direct message: {second:?}")
    };
    assert_eq!(
        (d.user_id.get(), d.message.get()),
        (
            r#""u2""#,
            r#"{"type":"dm","payload":{"big":123456789012345678901234567890}}"#
        )
    );
    assert!(
        drain(&mut rx_b, Duration::from_millis(300))
            .await
            .is_empty(),
        "exactly once"
    );
    assert!(
        drain(&mut rx_a, Duration::from_millis(50)).await.is_empty(),
        "no echo"
    );
    let _ = b;
}

fn sessions(c: &MegaCluster, ns: &str) -> Vec<String> {
    c.roster(ns).into_iter().map(|m| m.session_id).collect()
}

async fn eventually(what: &str, within: Duration, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn mega_roster_converges_and_expires(backend: &str) {
    let ttl = Duration::from_millis(1500);
    let (t, app, mut pair) = mega_pair(backend, RosterDriver::Nats, ttl).await;
    let (b, _rx_b) = pair.pop().unwrap();
    let (a, mut rx_a) = pair.pop().unwrap();
    warm_mega(&b, &mut rx_a).await;
    a.join(Member::new(
        "/ws/chat",
        "s1",
        "u1",
        Some(raw(r#"{"nick":"Ann"}"#)),
    ));
    b.join(Member::new("/ws/chat", "s2", "u2", Some(raw("null"))));
    b.join(Member::new("/ws/other", "s3", "u3", None));
    eventually("both rosters list s1 and s2", WAIT, || {
        let (mut x, mut y) = (sessions(&a, "/ws/chat"), sessions(&b, "/ws/chat"));
        x.sort();
        y.sort();
        x == ["s1", "s2"] && y == ["s1", "s2"]
    })
    .await;
    let s1 = a
        .roster("/ws/chat")
        .into_iter()
        .find(|m| m.session_id == "s1")
        .unwrap();
    assert_eq!(
        s1.metadata.as_deref().map(RawValue::get),
        Some(r#"{"nick":"Ann"}"#)
    );
    let s2 = a
        .roster("/ws/chat")
        .into_iter()
        .find(|m| m.session_id == "s2")
        .unwrap();
    assert!(s2.metadata.is_none(), "null metadata is not returned");

    // A third instance that starts later learns everything at once (sync_request).
    let mut config = MegaConfig::new(&app);
    config.roster = RosterDriver::Nats;
    config.ttl = ttl;
    let (c, _rx_c) = MegaCluster::start(t[2].clone(), config).await.unwrap();
    eventually("the late instance learns the roster", WAIT, || {
        sessions(&c, "/ws/chat").len() == 2 && sessions(&c, "/ws/other") == ["s3"]
    })
    .await;

    // A leave is announced.
    a.leave("s1");
    eventually("s1 is gone everywhere", WAIT, || {
        sessions(&b, "/ws/chat") == ["s2"] && sessions(&c, "/ws/chat") == ["s2"]
    })
    .await;

    // A graceful stop removes its members at once.
    c.join(Member::new("/ws/chat", "s4", "u4", None));
    eventually("s4 is seen", WAIT, || {
        sessions(&a, "/ws/chat").contains(&"s4".to_owned())
    })
    .await;
    c.stop().await;
    eventually(
        "s4 removed by the graceful stop",
        Duration::from_millis(1000),
        || !sessions(&a, "/ws/chat").contains(&"s4".to_owned()),
    )
    .await;

    // A crash (dropped without a stop: no removes, no more heartbeats) is noticed after the TTL.
    drop(b);
    let crashed = tokio::time::Instant::now();
    eventually("the crashed instance's members expire", ttl * 3, || {
        sessions(&a, "/ws/chat").is_empty() && sessions(&a, "/ws/other").is_empty()
    })
    .await;
    assert!(
        crashed.elapsed() >= ttl / 2,
        "not before the TTL could have passed"
    );
}

macro_rules! suite {
    ($($backend:ident),*) => {$(
        mod $backend {
            const B: &str = stringify!($backend);

            use crate::util::bounded;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tina4_every_kind_once_without_echo() {
                bounded(super::tina4_every_kind_once_without_echo(B)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tina4_malformed_bytes_are_dropped_and_counted() {
                bounded(super::tina4_malformed_bytes_are_dropped_and_counted(B)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tina4_golden_vectors_published_raw_are_delivered() {
                bounded(super::tina4_golden_vectors_published_raw_are_delivered(B)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mega_broadcast_and_direct_once_without_echo() {
                bounded(super::mega_broadcast_and_direct_once_without_echo(B)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mega_roster_converges_and_expires() {
                bounded(super::mega_roster_converges_and_expires(B)).await;
            }
        }
    )*};
}

suite!(memory, redis, nats);
