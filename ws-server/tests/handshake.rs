//! The opening handshake against a real server.

use std::time::Duration;

use oyez_server::client;
use tokio::io::AsyncReadExt;

use crate::util::{config, raw_http, raw_http_head, start, upgrade_request, url};

#[tokio::test]
async fn a_valid_upgrade_gets_101() {
    let server = start(config()).await;
    let res = raw_http_head(&server, &upgrade_request("/echo", "")).await;
    assert!(
        res.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{res}"
    );
    assert!(res.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
}

#[tokio::test]
async fn wrong_version_is_426_with_the_supported_version() {
    let server = start(config()).await;
    let req = String::from_utf8(upgrade_request("/echo", ""))
        .unwrap()
        .replace("Version: 13", "Version: 8");
    let res = raw_http(&server, req.as_bytes()).await;
    assert!(res.starts_with("HTTP/1.1 426 "), "{res}");
    assert!(res.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{res}");
}

#[tokio::test]
async fn missing_key_is_400() {
    let server = start(config()).await;
    let req = String::from_utf8(upgrade_request("/echo", ""))
        .unwrap()
        .replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    let res = raw_http(&server, req.as_bytes()).await;
    assert!(res.starts_with("HTTP/1.1 400 "), "{res}");
}

#[tokio::test]
async fn plain_get_on_a_websocket_route_is_426() {
    let server = start(config()).await;
    let res = raw_http(&server, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(res.starts_with("HTTP/1.1 426 "), "{res}");
}

#[tokio::test]
async fn origin_allow_list() {
    let mut c = config();
    c.allowed_origins = Some(vec!["http://good.example".to_owned()]);
    let server = start(c).await;
    let ok = raw_http_head(
        &server,
        &upgrade_request("/echo", "Origin: http://good.example\r\n"),
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 101 "), "{ok}");
    let bad = raw_http(
        &server,
        &upgrade_request("/echo", "Origin: http://evil.example\r\n"),
    )
    .await;
    assert!(bad.starts_with("HTTP/1.1 403 "), "{bad}");
    let missing = raw_http(&server, &upgrade_request("/echo", "")).await;
    assert!(missing.starts_with("HTTP/1.1 403 "), "{missing}");
    assert!(matches!(
        client::connect(&url(&server, "/echo")).await,
        Err(oyez_server::Error::Protocol(
            oyez_frame::Error::UnexpectedStatus(403)
        ))
    ));
}

#[tokio::test]
async fn oversized_headers_are_431() {
    let server = start(config()).await;
    let big = format!("X-Big: {}\r\n", "a".repeat(20_000));
    let res = raw_http(&server, &upgrade_request("/echo", &big)).await;
    assert!(res.starts_with("HTTP/1.1 431 "), "{res}");
}

#[tokio::test]
async fn a_slow_loris_handshake_times_out() {
    let mut c = config();
    c.handshake_timeout = Duration::from_millis(300);
    let server = start(c).await;
    let mut s = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut s, b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("closed in time")
        .unwrap();
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 408 "));
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn healthz_and_unknown_http() {
    let server = start(config()).await;
    let res = raw_http(&server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        res.starts_with("HTTP/1.1 200 OK\r\n") && res.ends_with("ok\n"),
        "{res}"
    );
    let res = raw_http(&server, b"GET /api/roster HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        res.starts_with("HTTP/1.1 404 "),
        "the API is off without a token: {res}"
    );
    let res = raw_http(&server, b"garbage\r\n\r\n").await;
    assert!(res.starts_with("HTTP/1.1 400 "), "{res}");
}

#[tokio::test]
async fn connection_limit_is_503() {
    let mut c = config();
    c.max_connections = Some(1);
    let server = start(c).await;
    let _first = crate::util::connect(&server, "/echo").await;
    let res = raw_http(&server, &upgrade_request("/echo", "")).await;
    assert!(res.starts_with("HTTP/1.1 503 "), "{res}");
}
