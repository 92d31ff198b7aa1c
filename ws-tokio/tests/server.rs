//! Accepting on a raw stream: looking at the request first, subprotocols, rejections.

use oyez_tokio::server::Incoming;
use oyez_tokio::{Config, Error, Message, client::Builder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::within;

/// A server that accepts only `Origin: https://good.example`, speaks `chat.v2` or `chat`,
/// and echoes; its address.
async fn picky_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(incoming) = Incoming::read(stream, Config::default()).await else {
                    return;
                };
                if incoming.request().origin() != Some("https://good.example") {
                    let _ = incoming.reject(403, "origin not allowed\n").await;
                    return;
                }
                let protocol = incoming.negotiate(&["chat.v2", "chat"]).map(str::to_owned);
                let path = incoming.request().path().to_owned();
                let mut ws = incoming
                    .accept_with_headers(protocol.as_deref(), &[("X-Path", &path)])
                    .await
                    .unwrap();
                while let Some(Ok(m)) = ws.recv().await {
                    if m.is_data() {
                        ws.send(m).await.unwrap();
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_request_is_seen_before_the_answer() {
    let addr = picky_server().await;
    let (mut ws, response) = within(
        Builder::new(format!("ws://{addr}/room?x=1"))
            .protocols(&["chat", "chat.v2"])
            .header("Origin", "https://good.example")
            .connect(),
    )
    .await
    .unwrap();
    // The client's first preference the server supports.
    assert_eq!(response.protocol(), Some("chat"));
    assert_eq!(response.header("x-path"), Some(&b"/room"[..]));
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));

    let refused = within(
        Builder::new(format!("ws://{addr}/"))
            .header("Origin", "https://evil.example")
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            refused,
            Error::Handshake(oyez_frame::Error::UnexpectedStatus(403))
        ),
        "{refused:?}"
    );
}

/// The raw answer to `request`.
async fn answer(request: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        oyez_tokio::accept(stream).await.map(|_| ())
    });
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    within(c.read_to_string(&mut out)).await.unwrap();
    let result = within(server).await.unwrap();
    assert!(matches!(result, Err(Error::Handshake(_))), "{result:?}");
    out
}

#[tokio::test]
async fn bad_requests_get_the_codec_status() {
    let ok = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let no_upgrade = ok.replace("Upgrade: websocket\r\n", "");
    let bad_key = ok.replace("dGhlIHNhbXBsZSBub25jZQ==", "short");
    let version = ok.replace("Version: 13", "Version: 8");
    let huge = ok.replace(
        "Host: h\r\n",
        &format!("Host: h\r\nX-Big: {}\r\n", "a".repeat(20_000)),
    );
    for (req, status) in [
        (no_upgrade.as_str(), "426"),
        (bad_key.as_str(), "400"),
        (version.as_str(), "426"),
        (huge.as_str(), "431"),
        ("NONSENSE\r\n\r\n", "400"),
    ] {
        let got = answer(req).await;
        assert!(
            got.starts_with(&format!("HTTP/1.1 {status} ")),
            "{status}: {got}"
        );
    }
    assert!(answer(&version).await.contains("Sec-WebSocket-Version: 13"));
}

#[tokio::test(start_paused = true)]
async fn a_request_that_never_ends_gets_408() {
    let (a, mut b) = tokio::io::duplex(1024);
    let server = tokio::spawn(Incoming::read(a, Config::default()));
    b.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n").await.unwrap();
    let result = server.await.unwrap();
    assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
    let mut out = String::new();
    b.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 408 "), "{out}");
}

#[tokio::test]
async fn a_protocol_not_offered_is_refused_before_anything_is_written() {
    let (a, b) = tokio::io::duplex(4096);
    let _client = tokio::spawn(Builder::new("ws://h/").protocols(&["a"]).handshake(b));
    let incoming = Incoming::read(a, Config::default()).await.unwrap();
    assert_eq!(incoming.request().protocols().collect::<Vec<_>>(), ["a"]);
    assert!(matches!(
        incoming.accept(Some("b")).await,
        Err(Error::Handshake(oyez_frame::Error::UnofferedProtocol))
    ));
}
