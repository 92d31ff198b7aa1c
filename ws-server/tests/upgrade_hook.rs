//! The upgrade hook: refusals, subprotocols, identities; the route's subprotocols; the
//! per-address limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oyez_frame::session::Config;
use oyez_server::client::{self, Client};
use oyez_server::upgrade::{
    Decision, Identity, Protocols, UpgradeFuture, UpgradeHook, UpgradeRequest,
};
use oyez_server::{Builder, Conn, Handler, Message, Server, ServerConfig};

use crate::util::{WAIT, config, next_message, raw_http, upgrade_request, url};

/// Says who it is on open: `<user>|<session>|<identity?>|<join_session worked?>`.
struct WhoAmI;

impl Handler for WhoAmI {
    fn on_open(&self, conn: &Conn) {
        let me = conn.server().session_of(conn.id());
        let fixed = conn.identity().is_some();
        let took = conn.server().join_session(conn.id(), "mallory", "m1", None);
        conn.send(Message::text(format!(
            "{}|{}|{fixed}|{took}",
            me.as_ref().map_or("-", |s| s.user_id.as_str()),
            me.as_ref().map_or("-", |s| s.session_id.as_str()),
        )));
    }

    fn on_message(&self, conn: &Conn, msg: Message) {
        // A direct message to the user named in the text.
        if let Some(to) = msg.as_text() {
            conn.server().broadcast(
                oyez_server::Audience::user(to),
                Message::text(format!("for {to}")),
            );
        }
    }
}

/// The test's hook: `?who=` names the user, `?deny=<status>` refuses, `/slow` never
/// decides, `/panic` panics, `/bad-*` decide what the server cannot do.
fn hook(req: &UpgradeRequest, _: &Server) -> Decision {
    if let Some(status) = req.query_param("deny") {
        let status = status.parse().unwrap_or(403);
        return Decision::refuse(status, "denied by the hook\n").with_header("X-Why", "test");
    }
    match req.path() {
        "/panic" => panic!("a hook that panics"),
        "/bad-protocol" => return Decision::accept().with_protocol("never-offered"),
        "/bad-header" => return Decision::accept().with_header("Bad", "a\r\nInjected: 1"),
        "/own-header" => return Decision::accept().with_header("Sec-WebSocket-Accept", "x"),
        "/bad-metadata" => {
            return Decision::accept().with_identity(Identity::new("a").with_metadata("{nope"));
        }
        "/bad-status" => return Decision::refuse(200, "fine?"),
        _ => {}
    }
    let mut d = Decision::accept().with_header("X-Hook", "seen");
    if let Some(user) = req.query_param("who") {
        let mut id = Identity::new(user.as_ref()).with_metadata(r#"{"via":"hook"}"#);
        if let Some(s) = req.query_param("sid") {
            id = id.with_session(s.as_ref());
        }
        d = d.with_identity(id);
    }
    // The hook may prefer a protocol other than the route's pick.
    if req.offered_protocols().any(|p| p == "hook.v9") {
        d = d.with_protocol("hook.v9");
    }
    d
}

/// A hook that waits for `/slow`, as one calling another service would.
struct Async(Arc<AtomicUsize>);

impl UpgradeHook for Async {
    fn decide<'a>(&'a self, req: &'a UpgradeRequest, server: &'a Server) -> UpgradeFuture<'a> {
        Box::pin(async move {
            self.0.fetch_add(1, Ordering::Relaxed);
            if req.path() == "/slow" {
                tokio::time::sleep(Duration::from_secs(60)).await;
            } else {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            hook(req, server)
        })
    }
}

async fn server_with(config: ServerConfig, calls: Arc<AtomicUsize>) -> Server {
    Builder::new(config)
        .route_with(
            "/strict",
            WhoAmI,
            Protocols::new(["chat.v2", "chat.v1"]).required(),
        )
        .route_prefix_with("/loose", WhoAmI, Protocols::new(["chat.v1", "hook.v9"]))
        .fallback(WhoAmI)
        .upgrade_hook(Async(calls))
        .bind()
        .await
        .expect("bind")
}

async fn start() -> Server {
    server_with(config(), Arc::default()).await
}

async fn connect(
    server: &Server,
    path: &str,
    protocols: &[&str],
) -> Result<Client, oyez_server::Error> {
    tokio::time::timeout(
        WAIT,
        client::connect_with_protocols(&url(server, path), Config::default(), protocols, &[]),
    )
    .await
    .expect("an answer in time")
}

fn status_of(r: Result<Client, oyez_server::Error>) -> u16 {
    match r {
        Err(oyez_server::Error::Protocol(oyez_frame::Error::UnexpectedStatus(s))) => s,
        Ok(_) => 101,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn the_hook_refuses_with_its_status_body_and_headers() {
    let server = start().await;
    for status in [401u16, 403, 429, 503] {
        let res = raw_http(&server, &upgrade_request(&format!("/x?deny={status}"), "")).await;
        assert!(res.starts_with(&format!("HTTP/1.1 {status} ")), "{res}");
        assert!(res.contains("\r\nX-Why: test\r\n"), "{res}");
        assert!(res.ends_with("\r\n\r\ndenied by the hook\n"), "{res}");
    }
    assert_eq!(server.stats().upgrades_refused.load(Ordering::Relaxed), 4);
    assert_eq!(
        server.stats().handshakes_rejected.load(Ordering::Relaxed),
        4
    );
    // The server goes on serving.
    let mut c = connect(&server, "/x", &[]).await.unwrap();
    assert_eq!(next_message(&mut c).await, Message::text("-|-|false|true"));
}

#[tokio::test]
async fn an_identity_from_the_hook_is_fixed_and_in_the_roster() {
    let server = start().await;
    let mut alice = connect(&server, "/room?who=alice&sid=a1", &[])
        .await
        .unwrap();
    // The identity is there in on_open, and join_session cannot replace it.
    assert_eq!(
        next_message(&mut alice).await,
        Message::text("alice|a1|true|false")
    );
    let mut anon = connect(&server, "/room", &[]).await.unwrap();
    assert_eq!(
        next_message(&mut anon).await,
        Message::text("-|-|false|true")
    );
    // A server-made session id when the hook gives none: 32 hex digits.
    let mut bob = connect(&server, "/room?who=bob", &[]).await.unwrap();
    let Message::Text(t) = next_message(&mut bob).await else {
        panic!()
    };
    let parts: Vec<&str> = t.as_str().split('|').collect();
    assert_eq!((parts[0], parts[2], parts[3]), ("bob", "true", "false"));
    assert!(
        parts[1].len() == 32 && parts[1].bytes().all(|b| b.is_ascii_hexdigit()),
        "{t}"
    );

    let mut roster: Vec<(String, String, Option<String>)> = server
        .roster("/room")
        .into_iter()
        .map(|s| (s.user_id, s.session_id, s.metadata))
        .collect();
    roster.sort();
    assert_eq!(roster.len(), 3);
    assert_eq!(
        roster[0],
        (
            "alice".into(),
            "a1".into(),
            Some(r#"{"via":"hook"}"#.into())
        )
    );
    assert_eq!(roster[1].0, "bob");
    assert_eq!(
        (roster[2].0.as_str(), roster[2].1.as_str()),
        ("mallory", "m1")
    );

    // Messages for alice reach the identified connection.
    anon.send("alice").await.unwrap();
    assert_eq!(next_message(&mut alice).await, Message::text("for alice"));
    crate::util::assert_silent(&mut bob).await;
}

#[tokio::test]
async fn subprotocols_per_route_and_from_the_hook() {
    let server = start().await;
    // The client's order of preference among the route's protocols.
    let c = connect(&server, "/strict", &["x", "chat.v1", "chat.v2"])
        .await
        .unwrap();
    assert_eq!(c.protocol(), Some("chat.v1"));
    let c = connect(&server, "/strict", &["chat.v2"]).await.unwrap();
    assert_eq!(c.protocol(), Some("chat.v2"));
    // A route that requires one refuses an offer without one it speaks, or no offer.
    assert_eq!(
        status_of(connect(&server, "/strict", &["x", "y"]).await),
        400
    );
    assert_eq!(status_of(connect(&server, "/strict", &[]).await), 400);
    // A route that does not require one goes on without.
    let c = connect(&server, "/loose", &["x"]).await.unwrap();
    assert_eq!(c.protocol(), None);
    let c = connect(&server, "/loose", &["x", "chat.v1"]).await.unwrap();
    assert_eq!(c.protocol(), Some("chat.v1"));
    // The hook overrides the route's pick, with a protocol the client offered.
    let c = connect(&server, "/loose", &["chat.v1", "hook.v9"])
        .await
        .unwrap();
    assert_eq!(c.protocol(), Some("hook.v9"));
    // The fallback speaks none: an offer is answered without a protocol.
    let c = connect(&server, "/other", &["chat.v1"]).await.unwrap();
    assert_eq!(c.protocol(), None);
    // The hook's own headers are on the 101.
    let res = crate::util::raw_http_head(
        &server,
        &upgrade_request("/strict", "Sec-WebSocket-Protocol: chat.v2, chat.v1\r\n"),
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 101 "), "{res}");
    assert!(
        res.contains("\r\nSec-WebSocket-Protocol: chat.v2\r\n"),
        "{res}"
    );
    assert!(res.contains("\r\nX-Hook: seen\r\n"), "{res}");
}

#[tokio::test]
async fn a_hook_that_fails_or_decides_the_impossible_gets_500() {
    let server = start().await;
    for path in [
        "/panic",
        "/bad-protocol",
        "/bad-header",
        "/own-header",
        "/bad-metadata",
        "/bad-status",
    ] {
        let res = raw_http(&server, &upgrade_request(path, "")).await;
        assert!(res.starts_with("HTTP/1.1 500 "), "{path}: {res}");
        assert!(!res.contains("Injected"), "{res}");
    }
    let mut c = connect(&server, "/x", &[]).await.unwrap();
    assert_eq!(next_message(&mut c).await, Message::text("-|-|false|true"));
}

#[tokio::test]
async fn the_handshake_timeout_runs_while_the_hook_decides() {
    let mut c = config();
    c.handshake_timeout = Duration::from_millis(400);
    let calls = Arc::new(AtomicUsize::new(0));
    let server = server_with(c, calls.clone()).await;
    let started = tokio::time::Instant::now();
    // While one hook waits, others decide: nothing waits on it.
    let slow = tokio::spawn({
        let server = server.clone();
        async move { raw_http(&server, &upgrade_request("/slow", "")).await }
    });
    let mut fast = connect(&server, "/x", &[]).await.unwrap();
    assert_eq!(
        next_message(&mut fast).await,
        Message::text("-|-|false|true")
    );
    assert!(started.elapsed() < Duration::from_millis(350));
    let res = slow.await.unwrap();
    assert!(
        res.starts_with("HTTP/1.1 503 ") && res.contains("upgrade hook timed out"),
        "{res}"
    );
    assert!(started.elapsed() >= Duration::from_millis(350));
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

async fn limited(per_ip: Option<usize>, rate: Option<u32>, loopback: bool) -> Server {
    let mut c = config();
    c.max_connections_per_ip = per_ip;
    c.max_upgrades_per_sec = rate;
    c.limit_loopback = loopback;
    Builder::new(c).fallback(WhoAmI).bind().await.expect("bind")
}

#[tokio::test]
async fn connections_per_address_answer_429_and_recover() {
    let server = limited(Some(3), None, true).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = connect(&server, "/p", &[]).await.unwrap();
        next_message(&mut c).await;
        open.push(c);
    }
    let res = raw_http(&server, &upgrade_request("/p", "")).await;
    assert!(
        res.starts_with("HTTP/1.1 429 ") && res.contains("too many connections from your address"),
        "{res}"
    );
    assert_eq!(status_of(connect(&server, "/p", &[]).await), 429);
    assert_eq!(server.stats().upgrades_limited.load(Ordering::Relaxed), 2);
    // One closes: one place is free again, and only one.
    let mut first = open.remove(0);
    first
        .close(oyez_frame::CloseCode::NORMAL, "")
        .await
        .unwrap();
    crate::util::eventually("the close is counted", || server.client_count() == 2).await;
    let mut again = connect(&server, "/p", &[]).await.unwrap();
    next_message(&mut again).await;
    assert_eq!(status_of(connect(&server, "/p", &[]).await), 429);
    // All close: the address has its three places back.
    open.clear();
    drop(again);
    crate::util::eventually("every close is counted", || server.client_count() == 0).await;
    for _ in 0..3 {
        open.push(connect(&server, "/p", &[]).await.unwrap());
    }
    assert_eq!(status_of(connect(&server, "/p", &[]).await), 429);
}

#[tokio::test]
async fn upgrades_per_second_answer_429_and_recover() {
    let server = limited(None, Some(4), true).await;
    let started = tokio::time::Instant::now();
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(connect(&server, "/p", &[]).await.unwrap());
    }
    let res = raw_http(&server, &upgrade_request("/p", "")).await;
    let last_attempt = tokio::time::Instant::now();
    // Only meaningful while the four are within the last second.
    if started.elapsed() < Duration::from_millis(900) {
        assert!(
            res.starts_with("HTTP/1.1 429 ") && res.contains("\r\nRetry-After: 1\r\n"),
            "{res}"
        );
    }
    // A second after the last attempt (the refused one counts too), the address may upgrade
    // again (the open ones do not count).
    tokio::time::sleep_until(last_attempt + Duration::from_millis(1100)).await;
    for _ in 0..4 {
        open.push(connect(&server, "/p", &[]).await.unwrap());
    }
    assert!(server.stats().upgrades_limited.load(Ordering::Relaxed) >= 1);
}

#[tokio::test]
async fn loopback_is_not_limited_by_default() {
    let server = limited(Some(1), Some(1), false).await;
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(connect(&server, "/p", &[]).await.unwrap());
    }
    assert_eq!(server.stats().upgrades_limited.load(Ordering::Relaxed), 0);
}
