//! The bridge, over the real Redis and NATS: two servers on both clusters, a Tina4-only
//! server, a mega-only server, and raw peers that speak the reference's envelope bytes. Each
//! client sees each message it is meant to see exactly once, in its publisher's order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use oyez_backplane::transport::memory::MemoryHub;
use oyez_backplane::{MegaConfig, Transport};
use oyez_envelope::mega::Subjects;
use oyez_server::apps::{self, Site};
use oyez_server::client::{Client, ClientEvent};
use oyez_server::{Builder, Message, Server};
use tokio::sync::mpsc;

use crate::cluster::{next_with, none_with, transport, unique};
use crate::util::{WAIT, config, connect, eventually};

/// A server with the binary's routes on the clusters asked for.
async fn server(tina4: Option<&str>, mega: Option<(&str, &str)>, hub: &MemoryHub) -> Server {
    let mut b = apps::mount(Builder::new(config()), Site::default());
    if let Some(backend) = tina4 {
        b = b.tina4_cluster(transport(backend, hub).await);
    }
    if let Some((backend, app)) = mega {
        b = b.mega_cluster(transport(backend, hub).await, MegaConfig::new(app));
    }
    b.bind().await.expect("bind")
}

/// A JSON text message carrying `token` (JSON so that mega carries it verbatim).
fn chat(token: &str) -> String {
    format!(r#"{{"type":"chat","payload":"{token}"}}"#)
}

/// Sends probes from `from` until every client of `to` got one: every subscription on the
/// way is live. Then lets the last probes drain.
async fn warm(from: &mut Client, to: &mut [&mut Client]) {
    let token = unique("warm-");
    let mut got = vec![false; to.len()];
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.iter().any(|g| !g) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never warm: {got:?}"
        );
        from.send(chat(&token)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        for (c, g) in to.iter_mut().zip(&mut got) {
            while let Ok(Ok(Some(ClientEvent::Message(m)))) =
                tokio::time::timeout(Duration::from_millis(1), c.recv()).await
            {
                *g |= m.as_text().is_some_and(|t| t.contains(&token));
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for c in to.iter_mut() {
        while let Ok(Ok(Some(_))) = tokio::time::timeout(Duration::from_millis(50), c.recv()).await
        {
        }
    }
}

/// Each client of `to` gets `msg` exactly once (and nothing else containing its token).
async fn once(to: &mut [&mut Client], msg: &str, token: &str) {
    for c in to.iter_mut() {
        assert_eq!(next_with(c, token).await, Message::text(msg));
    }
    for c in to.iter_mut() {
        none_with(c, token).await;
    }
}

/// Raw envelopes seen on a channel, for a peer that speaks the bytes only.
async fn tap(t: &Arc<dyn Transport>, channel: &str) -> mpsc::Receiver<oyez_backplane::Received> {
    t.subscribe(&[channel.to_owned()]).await.expect("subscribe")
}

fn taps_with(rx: &mut mpsc::Receiver<oyez_backplane::Received>, token: &str) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(m) = rx.try_recv() {
        let s = String::from_utf8_lossy(&m.payload).into_owned();
        if s.contains(token) {
            out.push(s);
        }
    }
    out
}

/// A reference envelope (a golden vector of `shared/reference/golden`, committed under
/// `ws-envelope/tests/golden`), its namespace or path and its text made ours.
fn golden(file: &str, from: &[(&str, &str)]) -> Bytes {
    let path = format!(
        "{}/../ws-envelope/tests/golden/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut s = std::fs::read_to_string(&path).expect("a golden vector");
    for (a, b) in from {
        assert!(s.contains(a), "{a} in {file}");
        s = s.replace(a, b);
    }
    Bytes::from(s)
}

fn scrape(s: &Server) -> HashMap<String, f64> {
    s.metrics()
        .render()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_owned(), v.parse().expect("a number")))
        .collect()
}

async fn one_conversation(tina4_backend: &str, mega_backend: &str) {
    let hub = MemoryHub::new();
    let app = unique("bridge");
    let mega = Some((mega_backend, app.as_str()));
    let a = server(Some(tina4_backend), mega, &hub).await;
    let b = server(Some(tina4_backend), mega, &hub).await;
    let t = server(Some(tina4_backend), None, &hub).await;
    let m = server(None, mega, &hub).await;
    // Raw peers: a Tina4 one and a mega one, that publish the reference's bytes and see what
    // goes by.
    let raw_tina4 = transport(tina4_backend, &hub).await;
    let raw_mega = transport(mega_backend, &hub).await;
    let subjects = Subjects::new(None, &app);
    let mut mega_tap = tap(&raw_mega, &subjects.bcast).await;

    let path = format!("/{}", unique("p"));
    let (mut a1, mut a2) = (connect(&a, &path).await, connect(&a, &path).await);
    let mut b1 = connect(&b, &path).await;
    let mut t1 = connect(&t, &path).await;
    let mut m1 = connect(&m, &path).await;
    eventually("registered", || {
        a.client_count() == 2 && b.client_count() == 1 && t.client_count() == 1
    })
    .await;
    warm(&mut a1, &mut [&mut a2, &mut b1, &mut t1, &mut m1]).await;
    warm(&mut m1, &mut [&mut a1, &mut b1]).await;
    warm(&mut t1, &mut [&mut a1, &mut b1]).await;
    let skipped = |s: &Server| scrape(s)["oyez_bridge_copies_skipped_total"];
    let (a_skipped, b_skipped) = (skipped(&a), skipped(&b));
    let relayed_mega = |s: &Server| scrape(s)[r#"oyez_cluster_relayed_total{cluster="mega"}"#];
    let (a_mega, b_mega) = (relayed_mega(&a), relayed_mega(&b));

    // From a bridge's client: everyone else, once; a mega node gets one bridged copy.
    let x = unique("x-");
    a1.send(chat(&x)).await.unwrap();
    once(&mut [&mut a2, &mut b1, &mut t1, &mut m1], &chat(&x), &x).await;
    none_with(&mut a1, &x).await;
    let copies = taps_with(&mut mega_tap, &x);
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(
        copies[0].contains("~tina4\""),
        "a bridged copy: {}",
        copies[0]
    );

    // From the other bridge's client.
    let y = unique("y-");
    b1.send(chat(&y)).await.unwrap();
    once(&mut [&mut a1, &mut a2, &mut t1, &mut m1], &chat(&y), &y).await;

    // From the Tina4 peer's client: the bridges' clients, not the mega node's (nothing
    // received is published again).
    let z = unique("z-");
    t1.send(chat(&z)).await.unwrap();
    once(&mut [&mut a1, &mut a2, &mut b1], &chat(&z), &z).await;
    none_with(&mut m1, &z).await;

    // From the mega node's client: the bridges' clients, not the Tina4 peer's.
    let w = unique("w-");
    m1.send(chat(&w)).await.unwrap();
    once(&mut [&mut a1, &mut a2, &mut b1], &chat(&w), &w).await;
    none_with(&mut t1, &w).await;

    // The reference's own bytes, from raw peers on each cluster.
    let v = unique("v-");
    let env = golden(
        "mega/bcast.json",
        &[
            ("/ws/chat", &path),
            (r#""text":"hi""#, &format!(r#""text":"{v}""#)),
        ],
    );
    raw_mega.publish(&subjects.bcast, env).await.unwrap();
    let want = format!(r#"{{"type":"chat","payload":{{"text":"{v}","n":1}}}}"#);
    once(&mut [&mut a1, &mut a2, &mut b1, &mut m1], &want, &v).await;
    none_with(&mut t1, &v).await;
    let u = unique("u-");
    let env = golden(
        "tina4/path-text.json",
        &[(r#""/chat""#, &format!("{path:?}")), ("hello", &u)],
    );
    raw_tina4
        .publish(oyez_envelope::tina4::TINA4_CHANNEL, env)
        .await
        .unwrap();
    once(&mut [&mut a1, &mut a2, &mut b1, &mut t1], &u, &u).await;
    none_with(&mut m1, &u).await;
    assert!(
        taps_with(&mut mega_tap, &u).is_empty(),
        "nothing received is published again"
    );

    // Per-publisher order: a burst from one bridge's client arrives in order everywhere.
    let o = unique("o-");
    for i in 0..20 {
        a1.send(chat(&format!("{o}-{i:02}"))).await.unwrap();
    }
    for c in [&mut a2, &mut b1, &mut t1, &mut m1] {
        for i in 0..20 {
            assert_eq!(
                next_with(c, &o).await,
                Message::text(chat(&format!("{o}-{i:02}")))
            );
        }
        none_with(c, &o).await;
    }

    // Rooms and all: a bridge's client's message also goes to the mega node, on the
    // namespace that is the sender's path.
    let room = format!("/rooms/{}", unique("r"));
    let (mut ar, mut br, mut tr, mut mr) = (
        connect(&a, &room).await,
        connect(&b, &room).await,
        connect(&t, &room).await,
        connect(&m, &room).await,
    );
    let (mut aall, mut ball, mut tall, mut mall) = (
        connect(&a, "/all").await,
        connect(&b, "/all").await,
        connect(&t, "/all").await,
        connect(&m, "/all").await,
    );
    eventually("room and all clients", || {
        a.client_count() == 4 && b.client_count() == 3 && t.client_count() == 3
    })
    .await;
    let before_room = skipped(&b);
    warm(&mut ar, &mut [&mut br, &mut tr, &mut mr]).await;
    let b_room_skipped = skipped(&b);
    let room_probes = b_room_skipped - before_room;
    assert!(room_probes >= 1.0);
    let r = unique("room-");
    ar.send(chat(&r)).await.unwrap();
    once(&mut [&mut br, &mut tr, &mut mr], &chat(&r), &r).await;
    none_with(&mut ar, &r).await;
    let all = unique("all-");
    aall.send(chat(&all)).await.unwrap();
    // `/all` reaches every connection on the Tina4 side, and the `/all` namespace on mega.
    once(
        &mut [
            &mut a1, &mut a2, &mut ar, &mut ball, &mut b1, &mut br, &mut tall, &mut t1, &mut tr,
            &mut mall,
        ],
        &chat(&all),
        &all,
    )
    .await;
    none_with(&mut aall, &all).await;
    none_with(&mut m1, &all).await;
    none_with(&mut mr, &all).await;

    // The figures agree: since the counts were taken, b skipped a's bridged copies (x and
    // the 20 in order, then the room's warm-up probes, r and all), a skipped b's (y), and
    // each delivered from mega only what came from mega nodes (w and v).
    eventually("bridged copies counted", || {
        skipped(&a) - a_skipped == 1.0 && skipped(&b) - b_skipped >= 21.0 + 1.0 + 2.0
    })
    .await;
    assert_eq!(skipped(&b) - b_room_skipped, 2.0, "r and all");
    assert_eq!(
        b_room_skipped - b_skipped - room_probes,
        21.0,
        "x and the 20"
    );
    assert_eq!(relayed_mega(&a) - a_mega, 2.0);
    assert_eq!(relayed_mega(&b) - b_mega, 2.0);

    drop((a1, a2, b1, t1, m1, ar, br, tr, mr, aall, ball, tall, mall));
    for s in [&a, &b, &t, &m] {
        s.shutdown().await;
    }
    raw_tina4.close().await;
    raw_mega.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tina4_on_redis_mega_on_nats() {
    one_conversation("redis", "nats").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tina4_on_nats_mega_on_redis() {
    one_conversation("nats", "redis").await;
}
