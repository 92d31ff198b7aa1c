//! Upgrades inside hyper 1 and axum, over HTTP/1.1 and over HTTP/2 (RFC 8441).

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use oyez_frame::CloseCode;
use oyez_tokio::{Config, Error, Message, WebSocket, upgrade};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::common::within;

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>) {
    while let Some(Ok(m)) = ws.recv().await {
        if m.is_data() && ws.send(m).await.is_err() {
            break;
        }
    }
}

/// The service: upgrade `/echo` (offering subprotocol `echo` if asked), else 404; a bad
/// upgrade gets the status the check names.
async fn service(mut req: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    if req.uri().path() != "/echo" {
        let mut r = Response::new(Empty::new());
        *r.status_mut() = StatusCode::NOT_FOUND;
        return Ok(r);
    }
    let protocol = upgrade::protocols(&req)
        .find(|p| *p == "echo")
        .map(str::to_owned);
    match upgrade::upgrade_with(&mut req, protocol.as_deref(), Config::default()) {
        Ok((response, ws)) => {
            tokio::spawn(async move {
                if let Ok(ws) = ws.await {
                    echo(ws).await;
                }
            });
            Ok(response)
        }
        Err(e) => {
            let mut r = Response::new(Empty::new());
            *r.status_mut() = StatusCode::from_u16(e.http_status().unwrap_or(400)).unwrap();
            Ok(r)
        }
    }
}

/// A hyper server: HTTP/1.1 with upgrades, or HTTP/2 with extended CONNECT.
async fn hyper_server(h2: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let io = TokioIo::new(tcp);
                if h2 {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .enable_connect_protocol()
                        .serve_connection(io, service_fn(service))
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service_fn(service))
                        .with_upgrades()
                        .await;
                }
            });
        }
    });
    addr
}

async fn talk<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) {
    for m in [
        Message::text("through hyper"),
        Message::binary(vec![1u8; 70_000]),
    ] {
        ws.send(m.clone()).await.unwrap();
        assert_eq!(within(ws.recv()).await.unwrap().unwrap(), m);
    }
}

#[tokio::test]
async fn a_hyper_http1_service_hands_the_connection_over() {
    let addr = hyper_server(false).await;
    let (mut ws, response) = within(
        oyez_tokio::client::Builder::new(format!("ws://{addr}/echo"))
            .protocols(&["other", "echo"])
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(response.protocol(), Some("echo"));
    // permessage-deflate is agreed through the upgrade too (on by default both sides).
    assert!(response.deflate().is_some() && ws.deflate().is_some());
    talk(&mut ws).await;
    let reply = within(ws.close(CloseCode::NORMAL, "")).await.unwrap();
    assert_eq!(reply.and_then(|f| f.code), Some(CloseCode::NORMAL));

    // A request that is not a valid upgrade gets the status the check names.
    let err = within(oyez_tokio::connect(&format!("ws://{addr}/nowhere")))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Handshake(oyez_frame::Error::UnexpectedStatus(404))
    ));
    let mut c = TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    c.write_all(b"GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = within(c.read(&mut buf)).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}

/// RFC 8441: an HTTP/2 client opens a stream with an extended CONNECT; the route hands the
/// stream to the WebSocket; both ends are this crate's.
#[tokio::test]
async fn websocket_over_http2_extended_connect() {
    let addr = hyper_server(true).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    // Two WebSockets on one HTTP/2 connection, at once.
    let mut sockets = Vec::new();
    for _ in 0..2 {
        within(sender.ready()).await.unwrap();
        let mut req = upgrade::h2_request(format!("http://{addr}/echo").parse().unwrap());
        req.headers_mut().insert(
            http::header::SEC_WEBSOCKET_PROTOCOL,
            "echo".parse().unwrap(),
        );
        let res = within(sender.send_request(req)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[http::header::SEC_WEBSOCKET_PROTOCOL], "echo");
        sockets.push(
            within(upgrade::from_response(res, Config::default()).unwrap())
                .await
                .unwrap(),
        );
    }
    for ws in &mut sockets {
        talk(ws).await;
    }
    for mut ws in sockets {
        let reply = within(ws.close(CloseCode::from_u16(4000), ""))
            .await
            .unwrap();
        assert_eq!(reply.and_then(|f| f.code), Some(CloseCode::from_u16(4000)));
    }
    // A CONNECT without Sec-WebSocket-Version: 13 is refused.
    within(sender.ready()).await.unwrap();
    let mut req = upgrade::h2_request(format!("http://{addr}/echo").parse().unwrap());
    req.headers_mut()
        .remove(http::header::SEC_WEBSOCKET_VERSION);
    let res = within(sender.send_request(req)).await.unwrap();
    assert_eq!(res.status(), StatusCode::UPGRADE_REQUIRED);
}

#[tokio::test]
async fn an_axum_route_hands_the_connection_over() {
    use axum::response::IntoResponse;
    async fn ws_route(mut req: axum::extract::Request) -> axum::response::Response {
        match upgrade::upgrade(&mut req, Config::default()) {
            Ok((response, ws)) => {
                tokio::spawn(async move {
                    if let Ok(ws) = ws.await {
                        echo(ws).await;
                    }
                });
                response.into_response()
            }
            Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        }
    }
    let app = axum::Router::new().route("/ws", axum::routing::get(ws_route));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (mut ws, _) = within(oyez_tokio::connect(&format!("ws://{addr}/ws")))
        .await
        .unwrap();
    talk(&mut ws).await;
    let (mut rx, mut tx) = ws.split();
    tx.send(Message::text("split")).await.unwrap();
    assert_eq!(
        within(rx.recv()).await.unwrap().unwrap(),
        Message::text("split")
    );
    tx.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(matches!(
        within(rx.recv()).await,
        Some(Ok(Message::Close(_)))
    ));
}
