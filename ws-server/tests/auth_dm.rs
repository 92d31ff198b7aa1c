//! Direct messages follow the token's `sub`: on one instance, and across two over Redis and
//! NATS (the mega cluster carries them).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oyez_backplane::transport::memory::MemoryHub;
use oyez_backplane::{MegaConfig, Transport};
use oyez_server::apps::auth::TokenAuth;
use oyez_server::apps::{self, Site};
use oyez_server::client::{Client, ClientEvent};
use oyez_server::{Builder, Server};

use crate::tokens::{hs256, hs256_for, try_connect};
use crate::util::{WAIT, config};

/// Waits for the next message with `needle` in it, skipping others.
async fn next_with(c: &mut Client, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, c.recv())
            .await
            .expect("in time")
            .unwrap()
        {
            Some(ClientEvent::Message(m)) => {
                let t = String::from_utf8_lossy(m.as_bytes()).into_owned();
                if t.contains(needle) {
                    return t;
                }
            }
            Some(ClientEvent::Pong(_)) => {}
            other => panic!("expected a message with {needle}, got {other:?}"),
        }
    }
}

async fn none_with(c: &mut Client, needle: &str) {
    let end = tokio::time::Instant::now() + Duration::from_millis(400);
    while let Ok(ev) = tokio::time::timeout_at(end, c.recv()).await {
        if let Ok(Some(ClientEvent::Message(m))) = ev {
            assert!(
                !String::from_utf8_lossy(m.as_bytes()).contains(needle),
                "unexpected {m:?}"
            );
        }
    }
}

fn unique(prefix: &str) -> String {
    use std::hash::BuildHasher;
    let r = std::collections::hash_map::RandomState::new().hash_one(SystemTime::now());
    format!("{prefix}{r:016x}")
}

async fn signed_instance(backend: &str, hub: &MemoryHub, app: &str) -> Server {
    let transport: Arc<dyn Transport> = match backend {
        "memory" => Arc::new(hub.transport()),
        "redis" => Arc::new(
            oyez_backplane::transport::redis::RedisTransport::connect("redis://127.0.0.1:6379")
                .expect("redis"),
        ),
        _ => Arc::new(
            oyez_backplane::transport::nats::NatsTransport::connect("nats://127.0.0.1:4222")
                .await
                .expect("nats"),
        ),
    };
    apps::mount(
        Builder::new(config()),
        Site::default().without_public_roster(),
    )
    .upgrade_hook(TokenAuth::new(hs256()))
    .mega_cluster(transport, MegaConfig::new(app))
    .bind()
    .await
    .expect("bind")
}

/// Alice's direct messages reach the connections with alice's token, on both instances;
/// bob's token (even with `?user=alice`) and no token do not get them.
async fn direct_messages_follow_the_token(backend: &str, two: bool) {
    let hub = MemoryHub::new();
    let app = unique("app");
    let s1 = signed_instance(backend, &hub, &app).await;
    let s2 = if two {
        signed_instance(backend, &hub, &app).await
    } else {
        s1.clone()
    };
    let ns = format!("/{}", unique("dm"));
    let alice_tok = hs256_for("alice", "");
    let bob_tok = hs256_for("bob", "");
    let carol_tok = hs256_for("carol", "");
    let mut alice1 = try_connect(
        &s1,
        &ns,
        &[],
        &[("Authorization", &format!("Bearer {alice_tok}"))],
    )
    .await
    .unwrap();
    let mut alice2 = try_connect(&s2, &format!("{ns}?token={alice_tok}"), &[], &[])
        .await
        .unwrap();
    let mut bob = try_connect(
        &s2,
        &format!("{ns}?user=alice&session=x&token={bob_tok}"),
        &[],
        &[],
    )
    .await
    .unwrap();
    let mut carol = try_connect(&s1, &format!("{ns}?token={carol_tok}"), &[], &[])
        .await
        .unwrap();
    assert!(matches!(
        try_connect(&s2, &format!("{ns}?user=alice&session=y"), &[], &[]).await,
        Err(oyez_server::Error::Protocol(
            oyez_frame::Error::UnexpectedStatus(401)
        ))
    ));
    // The roster shows the tokens' users (bob as bob).
    let mut users: Vec<String> = s1.roster(&ns).into_iter().map(|s| s.user_id).collect();
    users.sort();
    if !two {
        assert_eq!(users, ["alice", "alice", "bob", "carol"]);
    }

    // Carol writes to alice until the first copy arrives (the cluster's subscriptions are
    // live), then once more, with a fresh marker, for the assertions.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let warm = unique("warm-");
        carol
            .send(format!(
                r#"{{"type":"direct","to":"alice","payload":"{warm}"}}"#
            ))
            .await
            .unwrap();
        if tokio::time::timeout(Duration::from_millis(200), next_with(&mut alice2, &warm))
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cluster never connected"
        );
    }
    let t = unique("dm-");
    carol
        .send(format!(
            r#"{{"type":"direct","to":"alice","payload":"{t}"}}"#
        ))
        .await
        .unwrap();
    for a in [&mut alice1, &mut alice2] {
        let got = next_with(a, &t).await;
        let v: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(
            (v["from"].as_str(), v["payload"].as_str()),
            (Some("carol"), Some(t.as_str()))
        );
    }
    none_with(&mut bob, &t).await;
    none_with(&mut carol, &t).await;
    // Bob's messages come from bob, whatever his query said.
    let t = unique("from-bob-");
    bob.send(format!(
        r#"{{"type":"direct","to":"carol","payload":"{t}"}}"#
    ))
    .await
    .unwrap();
    let got = next_with(&mut carol, &t).await;
    assert!(got.contains(r#""from":"bob""#), "{got}");
    drop((alice1, alice2, bob, carol));
    s1.shutdown().await;
    if two {
        s2.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_follow_the_token_on_one_instance() {
    direct_messages_follow_the_token("memory", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_follow_the_token_across_instances_over_redis() {
    direct_messages_follow_the_token("redis", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_follow_the_token_across_instances_over_nats() {
    direct_messages_follow_the_token("nats", true).await;
}
