//! A hyper 1 service that upgrades `GET /ws` and hands the connection to
//! `oyez_tokio::WebSocket` (HTTP/1.1, and HTTP/2 extended CONNECT: the same route).
//!
//! `cargo run -p oyez-tokio --example hyper_echo` (listens on 127.0.0.1:3000, `PORT=`), then
//! connect a WebSocket client to `ws://127.0.0.1:3000/ws`. `cargo test -p oyez-tokio
//! --example hyper_echo` runs it against this crate's client.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use oyez_tokio::{Config, upgrade};
use tokio::net::TcpListener;

/// The whole integration: check the request, answer with `response`, and run the WebSocket
/// once hyper hands the connection over.
async fn handle(mut req: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    if req.uri().path() != "/ws" || !upgrade::is_upgrade_request(&req) {
        return Ok(status(StatusCode::NOT_FOUND));
    }
    let (response, ws) = match upgrade::upgrade(&mut req, Config::default()) {
        Ok(pair) => pair,
        Err(e) => {
            return Ok(status(
                StatusCode::from_u16(e.http_status().unwrap_or(400))
                    .unwrap_or(StatusCode::BAD_REQUEST),
            ));
        }
    };
    tokio::spawn(async move {
        let Ok(mut ws) = ws.await else { return };
        while let Some(Ok(msg)) = ws.recv().await {
            if msg.is_data() && ws.send(msg).await.is_err() {
                break;
            }
        }
    });
    Ok(response)
}

fn status(code: StatusCode) -> Response<Empty<Bytes>> {
    let mut r = Response::new(Empty::new());
    *r.status_mut() = code;
    r
}

/// Serves `listener` until the process ends: HTTP/1.1 with upgrades and HTTP/2 with
/// extended CONNECT, on one port.
async fn serve(listener: TcpListener) {
    while let Ok((tcp, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http2().enable_connect_protocol();
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(tcp), service_fn(handle))
                .await;
        });
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("hyper_echo: ws://{}/ws", listener.local_addr()?);
    serve(listener).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use oyez_tokio::{CloseCode, Message};

    use super::*;

    #[tokio::test]
    async fn echoes_through_hyper() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/ws", listener.local_addr().unwrap());
        tokio::spawn(serve(listener));
        let (mut ws, _) = oyez_tokio::connect(&url).await.unwrap();
        ws.send(Message::text("hello hyper")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("hello hyper")
        );
        let reply = ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(reply.and_then(|f| f.code), Some(CloseCode::NORMAL));
    }
}
