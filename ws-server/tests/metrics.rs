//! The Prometheus endpoint, scraped after known traffic: the values, not only the names.

use std::collections::HashMap;

use bytes::BytesMut;
use oyez_frame::{CloseCode, Encoder, OpCode, Role};
use oyez_server::apps::{self, Site};
use oyez_server::client::ClientEvent;
use oyez_server::{Builder, Conn, Handler, Message, MetricsEndpoint, Server};

use crate::util::{config, connect, eventually, next_message, raw_http, upgrade_request};

/// Every sample of an exposition: `name{labels}` as written, and its value. Fails on a line
/// that is neither a comment nor a sample, or a family without the `oyez_` prefix.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") || line == "# EOF" {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').expect("a sample line");
        assert!(key.starts_with("oyez_"), "{line}");
        let value = value.parse().expect("a number");
        assert!(out.insert(key.to_owned(), value).is_none(), "twice: {line}");
    }
    out
}

/// The body of a `GET` with `headers`, and the response head.
async fn get(server: &Server, path: &str, headers: &str) -> (String, String) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
    let resp = raw_http(server, req.as_bytes()).await;
    let (head, body) = resp.split_once("\r\n\r\n").expect("a response");
    (head.to_owned(), body.to_owned())
}

async fn scrape(server: &Server) -> HashMap<String, f64> {
    let (head, body) = get(server, "/metrics", "Authorization: Bearer t0k\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    parse(&body)
}

/// Waits until `want` holds for a scrape (counts settle once the shard is done with them).
async fn scrape_until(
    server: &Server,
    what: &str,
    want: impl Fn(&HashMap<String, f64>) -> bool,
) -> HashMap<String, f64> {
    let start = tokio::time::Instant::now();
    loop {
        let m = scrape(server).await;
        if want(&m) {
            return m;
        }
        assert!(start.elapsed() < crate::util::WAIT, "{what}: {m:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn v(m: &HashMap<String, f64>, key: &str) -> f64 {
    *m.get(key).unwrap_or_else(|| panic!("no {key}"))
}

struct Boom;
impl Handler for Boom {
    fn on_message(&self, _: &Conn, _: Message) {
        panic!("boom");
    }
}

fn masked(op: OpCode, payload: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    Encoder::new(Role::Client).encode(op, true, payload, &mut out);
    out
}

#[tokio::test]
#[cfg_attr(
    not(feature = "metrics"),
    ignore = "the per-message figures need the metrics feature"
)]
async fn a_scrape_after_known_traffic_has_the_values() {
    let mut c = config();
    c.shards = 1;
    c.max_connections = Some(4);
    let site = Site::default().with_metrics(MetricsEndpoint::new().token(Some("t0k".into())));
    let server = apps::mount(Builder::new(c), site)
        .route("/boom", Boom)
        .bind()
        .await
        .unwrap();

    let (head, _) = get(&server, "/metrics", "").await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let (head, _) = get(&server, "/metrics", "Authorization: Bearer nope\r\n").await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");

    let mut echo = connect(&server, "/echo").await;
    let mut r1 = connect(&server, "/rooms/lobby?user=u1&session=s1").await;
    let mut r2 = connect(&server, "/rooms/lobby?user=u2&session=s2").await;
    eventually("three connections", || server.client_count() == 3).await;
    let mut m0 = scrape_until(&server, "registered", |m| {
        v(m, "oyez_connections") == 3.0 && v(m, "oyez_registry_users") == 2.0
    })
    .await;
    // A client has its 101 as soon as the shard's `send` returns, a moment before the shard
    // counts those bytes: the baseline is a count that holds still.
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let again = scrape(&server).await;
        let settled = v(&again, "oyez_sent_bytes_total") == v(&m0, "oyez_sent_bytes_total");
        m0 = again;
        if settled {
            break;
        }
    }
    assert_eq!(v(&m0, "oyez_connections_accepted_total"), 3.0);
    assert_eq!(v(&m0, "oyez_registry_paths"), 2.0, "/echo and /rooms/lobby");
    assert_eq!(v(&m0, "oyez_registry_rooms"), 1.0);
    assert!(
        !m0.keys().any(|k| k.contains("cluster")),
        "no cluster, no cluster families"
    );
    assert!(
        !m0.keys().any(|k| k.contains("path=")),
        "no path labels unless asked"
    );

    // Three echoes of 5 bytes (11 on the wire from a client, 7 back) and one room message of
    // 2 bytes (8 in, 4 out to the other member).
    for _ in 0..3 {
        echo.send("hello").await.unwrap();
        assert_eq!(next_message(&mut echo).await, Message::text("hello"));
    }
    r1.send("hi").await.unwrap();
    assert_eq!(next_message(&mut r2).await, Message::text("hi"));
    let d = |m: &HashMap<String, f64>, k: &str| v(m, k) - v(&m0, k);
    let m1 = scrape_until(&server, "traffic counted", |m| {
        d(m, "oyez_sent_bytes_total") >= 25.0
    })
    .await;
    assert_eq!(d(&m1, "oyez_received_messages_total"), 4.0);
    assert_eq!(d(&m1, "oyez_received_bytes_total"), 3.0 * 11.0 + 8.0);
    assert_eq!(d(&m1, "oyez_sent_messages_total"), 4.0);
    assert_eq!(d(&m1, "oyez_sent_bytes_total"), 3.0 * 7.0 + 4.0);
    // The room message is a broadcast (stamped); echoes are single sends (not stamped).
    assert_eq!(
        d(
            &m1,
            r#"oyez_broadcast_delivery_seconds_count{origin="local"}"#
        ),
        1.0
    );
    assert_eq!(
        d(
            &m1,
            r#"oyez_broadcast_delivery_seconds_bucket{origin="local",le="+Inf"}"#
        ),
        1.0
    );
    assert!(
        d(
            &m1,
            r#"oyez_broadcast_delivery_seconds_sum{origin="local"}"#
        ) > 0.0
    );

    // Refusals: a missing key (400), a wrong version (426), over the connection limit (503).
    let no_key = b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert!(raw_http(&server, no_key).await.starts_with("HTTP/1.1 400"));
    let v12 = String::from_utf8(upgrade_request("/echo", ""))
        .unwrap()
        .replace("Version: 13", "Version: 12");
    assert!(
        raw_http(&server, v12.as_bytes())
            .await
            .starts_with("HTTP/1.1 426")
    );
    let mut boom = connect(&server, "/boom").await;
    let full = raw_http(&server, &upgrade_request("/echo", "")).await;
    assert!(full.starts_with("HTTP/1.1 503"), "{full}");

    // Closes: a panic (1011), a clean close (1000), invalid UTF-8 (1007), a dropped TCP
    // connection (1006).
    boom.send("x").await.unwrap();
    loop {
        // The client answers the server's close with the same code.
        match tokio::time::timeout(crate::util::WAIT, boom.recv())
            .await
            .unwrap()
        {
            Ok(Some(ClientEvent::Closed { code, .. })) => break assert_eq!(code.as_u16(), 1011),
            Ok(Some(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    echo.close(CloseCode::NORMAL, "bye").await.unwrap();
    r2.send_raw(&masked(OpCode::Text, &[0x61, 0xff]))
        .await
        .unwrap();
    drop(r1);
    let m2 = scrape_until(&server, "everyone gone", |m| {
        v(m, "oyez_connections") == 0.0
            && v(m, r#"oyez_connections_closed_total{code="1007"}"#) == 1.0
    })
    .await;
    for (key, want) in [
        ("oyez_connections_accepted_total", 4.0),
        (r#"oyez_handshakes_rejected_total{status="400"}"#, 1.0),
        (r#"oyez_handshakes_rejected_total{status="426"}"#, 1.0),
        (r#"oyez_handshakes_rejected_total{status="503"}"#, 1.0),
        (r#"oyez_handshakes_rejected_total{status="403"}"#, 0.0),
        (r#"oyez_connections_closed_total{code="1000"}"#, 1.0),
        (r#"oyez_connections_closed_total{code="1006"}"#, 1.0),
        (r#"oyez_connections_closed_total{code="1007"}"#, 1.0),
        (r#"oyez_connections_closed_total{code="1011"}"#, 1.0),
        (r#"oyez_connections_closed_total{code="other"}"#, 0.0),
        ("oyez_handler_panics_total", 1.0),
        ("oyez_slow_clients_dropped_total", 0.0),
        ("oyez_registry_paths", 0.0),
        ("oyez_registry_rooms", 0.0),
        ("oyez_registry_users", 0.0),
        (
            "oyez_received_messages_total",
            v(&m1, "oyez_received_messages_total") + 1.0,
        ),
    ] {
        assert_eq!(v(&m2, key), want, "{key}");
    }
    assert_eq!(server.stats().rejected_with(503), 1);
    let traffic = server.stats().traffic();
    assert_eq!(
        traffic.received_messages as f64,
        v(&m2, "oyez_received_messages_total")
    );
    assert_eq!(traffic.sent_bytes as f64, v(&m2, "oyez_sent_bytes_total"));
    assert_eq!(server.stats().closed_with(Some(1006)), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn openmetrics_on_request_and_a_listener_of_its_own() {
    let server = crate::util::start(config()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(
        MetricsEndpoint::new()
            .path_labels(true)
            .serve(listener, server.clone()),
    );
    let mut c = connect(&server, "/chat/x").await;
    eventually("connected", || server.client_count() == 1).await;
    let ask = |req: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut s, req.as_bytes())
            .await
            .unwrap();
        let mut out = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut s, &mut out)
            .await
            .unwrap();
        String::from_utf8(out).unwrap()
    };
    let resp = ask("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let m = parse(body);
    assert_eq!(v(&m, r#"oyez_path_connections{path="/chat/x"}"#), 1.0);
    assert_eq!(v(&m, "oyez_connections"), 1.0);
    let resp = ask(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n",
    )
    .await;
    assert!(resp.contains("application/openmetrics-text"), "{resp}");
    assert!(resp.ends_with("# EOF\n"), "{resp}");
    assert!(resp.contains("oyez_connections_accepted_total 1"), "{resp}");
    assert!(
        ask("GET /other HTTP/1.1\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 404")
    );
    assert!(
        ask("POST /metrics HTTP/1.1\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 405")
    );
    // Without a hook on the WebSocket port, /metrics is not there.
    let (head, _) = get(&server, "/metrics", "").await;
    assert!(!head.starts_with("HTTP/1.1 200"), "{head}");
    c.close(CloseCode::NORMAL, "").await.unwrap();
    server.shutdown().await;
    tokio::time::timeout(crate::util::WAIT, serving)
        .await
        .expect("the listener stops with the server")
        .unwrap();
}
