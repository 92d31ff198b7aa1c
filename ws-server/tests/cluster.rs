//! Two or three server instances in one test, relaying over memory, Redis and NATS.

use std::sync::Arc;
use std::time::Duration;

use oyez_backplane::transport::memory::MemoryHub;
use oyez_backplane::transport::nats::NatsTransport;
use oyez_backplane::transport::redis::RedisTransport;
use oyez_backplane::{MegaConfig, RosterDriver, Transport};
use oyez_server::apps::{self, Site};
use oyez_server::client::{Client, ClientEvent};
use oyez_server::{Builder, Message, Server};

use crate::util::{WAIT, config, connect, eventually};

pub(crate) async fn transport(backend: &str, hub: &MemoryHub) -> Arc<dyn Transport> {
    match backend {
        "memory" => Arc::new(hub.transport()),
        "redis" => Arc::new(RedisTransport::connect("redis://127.0.0.1:6379").expect("redis")),
        _ => Arc::new(
            NatsTransport::connect("nats://127.0.0.1:4222")
                .await
                .expect("nats"),
        ),
    }
}

pub(crate) fn unique(prefix: &str) -> String {
    use std::hash::BuildHasher;
    let r = std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    format!("{prefix}{r:016x}")
}

/// A server with the binary's routes on both clusters over `backend`.
pub(crate) async fn instance(backend: &str, hub: &MemoryHub, app: &str) -> Server {
    let mut mega = MegaConfig::new(app);
    mega.roster = RosterDriver::Nats;
    mega.ttl = Duration::from_secs(3);
    apps::mount(Builder::new(config()), Site::default())
        .tina4_cluster(transport(backend, hub).await)
        .mega_cluster(transport(backend, hub).await, mega)
        .bind()
        .await
        .expect("bind")
}

/// The next message containing `token` (other tests on the same broker may broadcast too).
pub(crate) async fn next_with(c: &mut Client, token: &str) -> Message {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, c.recv())
            .await
            .expect("a message in time")
            .expect("no error")
        {
            Some(ClientEvent::Message(m))
                if String::from_utf8_lossy(m.as_bytes()).contains(token) =>
            {
                return m;
            }
            Some(ClientEvent::Message(_) | ClientEvent::Pong(_)) => {}
            other => panic!("expected a message with {token}, got {other:?}"),
        }
    }
}

/// Nothing containing `token` arrives for a while.
pub(crate) async fn none_with(c: &mut Client, token: &str) {
    let end = tokio::time::Instant::now() + Duration::from_millis(400);
    while let Ok(ev) = tokio::time::timeout_at(end, c.recv()).await {
        if let Ok(Some(ClientEvent::Message(m))) = ev {
            assert!(
                !String::from_utf8_lossy(m.as_bytes()).contains(token),
                "unexpected {m:?}"
            );
        }
    }
}

/// Sends `probe` messages from `from` until `to` receives one: the subscriptions are live.
async fn warm(from: &mut Client, to: &mut Client) {
    let token = unique("warm-");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        from.send(token.clone()).await.expect("send");
        let got = tokio::time::timeout(Duration::from_millis(150), to.recv()).await;
        if let Ok(Ok(Some(ClientEvent::Message(m)))) = got
            && m.as_text() == Some(token.as_str())
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cluster never connected"
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn relays_every_shape_once(backend: &str) {
    let hub = MemoryHub::new();
    let app = unique("app");
    let s1 = instance(backend, &hub, &app).await;
    let s2 = instance(backend, &hub, &app).await;
    let room = unique("room");
    let path = format!("/{}", unique("p"));

    let mut all1 = connect(&s1, "/all").await;
    let mut all2 = connect(&s2, "/all").await;
    warm(&mut all1, &mut all2).await;
    let mut room1 = connect(&s1, &format!("/rooms/{room}")).await;
    let mut room2 = connect(&s2, &format!("/rooms/{room}")).await;
    let mut path1 = connect(&s1, &path).await;
    let mut path2 = connect(&s2, &path).await;
    let mut other2 = connect(&s2, "/elsewhere").await;
    eventually("clients registered", || {
        s1.client_count() == 3 && s2.client_count() == 4
    })
    .await;

    // all, from instance 1: everyone on both instances but the sender, exactly once.
    let t = unique("all-");
    all1.send(t.clone()).await.unwrap();
    for c in [
        &mut all2,
        &mut room1,
        &mut room2,
        &mut path1,
        &mut path2,
        &mut other2,
    ] {
        assert_eq!(next_with(c, &t).await, Message::text(t.clone()));
    }
    none_with(&mut all1, &t).await;
    none_with(&mut all2, &t).await;

    // room, from instance 2: the room's members on both instances but the sender.
    let t = unique("room-");
    room2.send(t.clone().into_bytes()).await.unwrap();
    assert_eq!(
        next_with(&mut room1, &t).await,
        Message::binary(t.clone().into_bytes())
    );
    none_with(&mut room2, &t).await;
    none_with(&mut path1, &t).await;

    // path, from instance 1: the same path on both instances but the sender.
    let t = unique("path-");
    path1.send(t.clone()).await.unwrap();
    assert_eq!(next_with(&mut path2, &t).await, Message::text(t.clone()));
    none_with(&mut path1, &t).await;
    none_with(&mut other2, &t).await;

    drop((all1, all2, room1, room2, path1, path2, other2));
    s1.shutdown().await;
    s2.shutdown().await;
}

async fn direct_and_roster_across_instances(backend: &str) {
    let hub = MemoryHub::new();
    let app = unique("app");
    let s1 = instance(backend, &hub, &app).await;
    let s2 = instance(backend, &hub, &app).await;
    let ns = format!("/{}", unique("chat"));
    let mut u1 = connect(&s1, &format!("{ns}?user=u1&session=s1")).await;
    let mut u2 = connect(&s2, &format!("{ns}?user=u2&session=s2")).await;
    let sorted = |s: &Server| {
        let mut v: Vec<String> = s.roster(&ns).into_iter().map(|m| m.session_id).collect();
        v.sort();
        v
    };
    eventually("both instances see both sessions", || {
        sorted(&s1) == ["s1", "s2"] && sorted(&s2) == ["s1", "s2"]
    })
    .await;

    let t = unique("dm-");
    u1.send(format!(r#"{{"type":"direct","to":"u2","payload":"{t}"}}"#))
        .await
        .unwrap();
    let got = next_with(&mut u2, &t).await;
    let v: serde_json::Value = serde_json::from_str(got.as_text().unwrap()).unwrap();
    assert_eq!(
        (
            v["type"].as_str(),
            v["from"].as_str(),
            v["payload"].as_str()
        ),
        (Some("direct"), Some("u1"), Some(t.as_str()))
    );
    none_with(&mut u2, &t).await;
    none_with(&mut u1, &t).await;

    // A namespace broadcast (mega bcast) skips the listed sessions.
    let t = unique("ns-");
    s1.broadcast_ns(
        &ns,
        Some("general"),
        &format!(r#"{{"type":"note","payload":"{t}"}}"#),
        &["s1".to_owned()],
    );
    next_with(&mut u2, &t).await;
    none_with(&mut u1, &t).await;

    // A session that leaves disappears from the other instance's roster.
    u2.close(oyez_frame::CloseCode::NORMAL, "").await.unwrap();
    eventually("s2 removed everywhere", || sorted(&s1) == ["s1"]).await;
    drop(u1);
    s1.shutdown().await;
    s2.shutdown().await;
}

macro_rules! suite {
    ($($backend:ident),*) => {$(
        mod $backend {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn relays_every_shape_once() {
                super::relays_every_shape_once(stringify!($backend)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn direct_and_roster_across_instances() {
                super::direct_and_roster_across_instances(stringify!($backend)).await;
            }
        }
    )*};
}

suite!(memory, redis, nats);
