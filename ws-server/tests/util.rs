//! Helpers: a server on an ephemeral port, and raw HTTP.

use std::time::Duration;

use oyez_server::apps::{self, Site};
use oyez_server::client::{self, Client, ClientEvent};
use oyez_server::{Builder, Message, Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every wait in these tests is bounded by this.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

pub(crate) fn config() -> ServerConfig {
    let mut c = ServerConfig::default();
    c.bind = "127.0.0.1:0".parse().expect("an address");
    c
}

/// The binary's routes (and its plain HTTP, without the API) on an ephemeral port.
pub(crate) async fn start(config: ServerConfig) -> Server {
    apps::mount(Builder::new(config), Site::default())
        .bind()
        .await
        .expect("bind")
}

pub(crate) fn url(server: &Server, path: &str) -> String {
    format!("ws://{}{}", server.local_addr(), path)
}

pub(crate) async fn connect(server: &Server, path: &str) -> Client {
    tokio::time::timeout(WAIT, client::connect(&url(server, path)))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// The next message, failing the test after [`WAIT`].
pub(crate) async fn next_message(c: &mut Client) -> Message {
    loop {
        match tokio::time::timeout(WAIT, c.recv())
            .await
            .expect("a message in time")
            .expect("no error")
        {
            Some(ClientEvent::Message(m)) => return m,
            Some(ClientEvent::Pong(_)) => {}
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// Asserts that nothing arrives for a short while.
pub(crate) async fn assert_silent(c: &mut Client) {
    if let Ok(got) = tokio::time::timeout(Duration::from_millis(150), c.recv()).await {
        panic!("expected silence, got {got:?}");
    }
}

/// Waits until `cond` holds (polling), failing after [`WAIT`].
pub(crate) async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = tokio::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends raw bytes and reads the whole response (until the server closes).
pub(crate) async fn raw_http(server: &Server, request: &[u8]) -> String {
    let mut s = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    s.write_all(request).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("response in time")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends raw bytes and reads the response head only (the connection may stay open).
pub(crate) async fn raw_http_head(server: &Server, request: &[u8]) -> String {
    let mut s = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    s.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let read_head = async {
        while !out.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut chunk = [0u8; 1024];
            let n = s.read(&mut chunk).await.expect("read");
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(WAIT, read_head)
        .await
        .expect("response in time");
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn upgrade_request(path: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}
