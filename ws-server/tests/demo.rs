//! The chat demo's HTTP routes: the page at `/` and `/chat`, and the public roster of the
//! demo's rooms at `/chat/roster?room=R` (and nothing else).

use std::time::Duration;

use oyez_backplane::transport::memory::MemoryHub;
use oyez_server::{Message, Server};

use crate::util::{
    WAIT, assert_silent, config, connect, eventually, next_message, raw_http, start,
};

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}

/// The body of a raw HTTP response.
fn body(res: &str) -> &str {
    res.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The user ids in a roster response, sorted.
fn users(res: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(body(res)).expect("a JSON roster");
    let mut users: Vec<String> = v
        .as_array()
        .expect("an array")
        .iter()
        .map(|m| {
            assert!(m["sessionId"].is_string(), "{m}");
            m["userId"].as_str().expect("a userId").to_owned()
        })
        .collect();
    users.sort();
    users
}

/// Polls `/chat/roster?room=` until it lists exactly `expected`, failing after [`WAIT`].
async fn wait_roster(server: &Server, room: &str, expected: &[&str]) {
    let start = tokio::time::Instant::now();
    loop {
        let res = raw_http(server, &get(&format!("/chat/roster?room={room}"))).await;
        if users(&res) == expected {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "roster of {room} on {}: {res}, expected {expected:?}",
            server.local_addr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_page_is_served_at_root_and_chat() {
    let server = start(config()).await;
    for path in ["/", "/chat"] {
        let res = raw_http(&server, &get(path)).await;
        assert!(res.starts_with("HTTP/1.1 200 "), "{path}: {res}");
        assert!(
            res.contains("Content-Type: text/html; charset=utf-8\r\n"),
            "{res}"
        );
        let len: usize = res
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .expect("a length")
            .trim()
            .parse()
            .expect("a number");
        assert_eq!(len, body(&res).len());
        assert!(body(&res).starts_with("<!doctype html>"));
        assert!(body(&res).contains("/chat/roster?room="));
    }
    // HEAD: the same headers, no body.
    let res = raw_http(&server, b"HEAD /chat HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(res.starts_with("HTTP/1.1 200 "), "{res}");
    assert_eq!(body(&res), "");
    // Other methods are refused.
    let res = raw_http(
        &server,
        b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 405 "), "{res}");
}

#[tokio::test]
async fn rooms_are_websocket_paths_and_the_root_still_upgrades() {
    let server = start(config()).await;
    // A plain GET of a room is not HTTP: the WebSocket route answers 426.
    let res = raw_http(&server, &get("/chat/lobby")).await;
    assert!(res.starts_with("HTTP/1.1 426 "), "{res}");
    // The page's protocol: messages relay to the same path, excluding the sender.
    let mut a = connect(&server, "/chat/lobby?user=ana&session=s1").await;
    let mut b = connect(&server, "/chat/lobby?user=bo&session=s2").await;
    let mut other = connect(&server, "/chat/elsewhere?user=cy&session=s3").await;
    // (The 101 may reach a client before its connection is registered: wait for all three.)
    wait_roster(&server, "lobby", &["ana", "bo"]).await;
    wait_roster(&server, "elsewhere", &["cy"]).await;
    let say = r#"{"type":"chat","from":"ana","text":"hi"}"#;
    a.send(Message::text(say)).await.unwrap();
    assert_eq!(next_message(&mut b).await, Message::text(say));
    assert_silent(&mut a).await;
    assert_silent(&mut other).await;
    // Private messages between the page's users; the payload arrives verbatim (key order and
    // spacing kept).
    let dm = r#"{"type":"direct","to":"ana","payload":{"type":"chat", "from":"bo","text":"psst","n":1.0}}"#;
    b.send(Message::text(dm)).await.unwrap();
    assert_eq!(
        next_message(&mut a).await,
        Message::text(
            r#"{"type":"direct","from":"bo","payload":{"type":"chat", "from":"bo","text":"psst","n":1.0}}"#
        )
    );
    // An upgrade of "/" still reaches the WebSocket routes (the page is only for plain GETs).
    let mut root1 = connect(&server, "/").await;
    let mut root2 = connect(&server, "/").await;
    eventually("five connections", || server.client_count() == 5).await;
    root1.send(Message::text("root")).await.unwrap();
    assert_eq!(next_message(&mut root2).await, Message::text("root"));
}

#[tokio::test]
async fn the_roster_lists_a_demo_room_and_nothing_else() {
    let server = start(config()).await;
    let res = raw_http(&server, &get("/chat/roster?room=lobby")).await;
    assert!(res.starts_with("HTTP/1.1 200 "), "{res}");
    assert!(res.contains("Content-Type: application/json\r\n"), "{res}");
    assert_eq!(users(&res), Vec::<String>::new());

    let a = connect(&server, "/chat/lobby?user=ana&session=s1").await;
    let _b = connect(&server, "/chat/lobby?user=bo&session=s2").await;
    let _c = connect(&server, "/chat/other?user=cy&session=s3").await;
    // Sessions outside the demo's rooms are not visible here.
    let _d = connect(&server, "/rooms/lobby?user=dee&session=s4").await;
    let _e = connect(&server, "/lobby?user=eve&session=s5").await;
    // (A session joins on the connection's task, just after the upgrade: wait for it.)
    wait_roster(&server, "lobby", &["ana", "bo"]).await;
    wait_roster(&server, "other", &["cy"]).await;
    eventually("dee and eve joined", || {
        server.roster("/rooms/lobby").len() == 1 && server.roster("/lobby").len() == 1
    })
    .await;
    wait_roster(&server, "lobby", &["ana", "bo"]).await;

    // Leaving shows.
    drop(a);
    wait_roster(&server, "lobby", &["bo"]).await;

    // Room names that could reach another namespace, or none, are refused.
    for bad in [
        "/chat/roster",
        "/chat/roster?room=",
        "/chat/roster?room=..%2Frooms%2Flobby",
        "/chat/roster?room=a%20b",
        "/chat/roster?ns=/lobby",
    ] {
        let res = raw_http(&server, &get(bad)).await;
        assert!(res.starts_with("HTTP/1.1 400 "), "{bad}: {res}");
    }
    let long = format!("/chat/roster?room={}", "r".repeat(65));
    assert!(
        raw_http(&server, &get(&long))
            .await
            .starts_with("HTTP/1.1 400 ")
    );
    let res = raw_http(
        &server,
        b"POST /chat/roster?room=lobby HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 405 "), "{res}");
}

async fn mega_instance(hub: &MemoryHub) -> Server {
    crate::cluster::instance("memory", hub, "demo-test").await
}

#[tokio::test]
async fn two_instances_share_the_chat_and_the_roster() {
    let hub = MemoryHub::new();
    let one = mega_instance(&hub).await;
    let two = mega_instance(&hub).await;
    let mut a = connect(&one, "/chat/lobby?user=ana&session=s1").await;
    let mut b = connect(&two, "/chat/lobby?user=bo&session=s2").await;
    // Each instance's roster endpoint lists both users: the roster is cluster-wide.
    wait_roster(&one, "lobby", &["ana", "bo"]).await;
    wait_roster(&two, "lobby", &["ana", "bo"]).await;
    let say = r#"{"type":"chat","from":"ana","text":"across"}"#;
    a.send(Message::text(say)).await.unwrap();
    assert_eq!(next_message(&mut b).await, Message::text(say));
    let back = r#"{"type":"chat","from":"bo","text":"and back"}"#;
    b.send(Message::text(back)).await.unwrap();
    assert_eq!(next_message(&mut a).await, Message::text(back));
}
