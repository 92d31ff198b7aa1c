//! An axum route that upgrades the request and hands the connection to
//! `oyez_tokio::WebSocket`; a chat-like broadcast to everyone connected.
//!
//! `cargo run -p oyez-tokio --example axum_echo` (127.0.0.1:3001, `PORT=`), then connect to
//! `ws://127.0.0.1:3001/ws`. `cargo test -p oyez-tokio --example axum_echo` runs it against
//! this crate's client.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oyez_tokio::{Config, Message, upgrade};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

/// The route: upgrade, then relay every message to every connection (the sender too).
async fn ws(State(hub): State<broadcast::Sender<Message>>, mut req: Request) -> Response {
    let (response, ws) = match upgrade::upgrade(&mut req, Config::default()) {
        Ok(pair) => pair,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    // Subscribed before the 101 goes out: a client that has seen it gets every message.
    let mut from_hub = hub.subscribe();
    tokio::spawn(async move {
        let Ok(ws) = ws.await else { return };
        // One task reads, the other writes: the halves need no lock per message, and pings
        // are answered by the reader even while the writer waits on the hub.
        let (mut rx, mut tx) = ws.split();
        let writer = tokio::spawn(async move {
            while let Ok(msg) = from_hub.recv().await {
                if tx.send(msg).await.is_err() {
                    break;
                }
            }
        });
        while let Some(Ok(msg)) = rx.recv().await {
            if msg.is_data() {
                let _ = hub.send(msg);
            }
        }
        writer.abort();
    });
    response.into_response()
}

fn app() -> axum::Router {
    let (hub, _) = broadcast::channel(1024);
    axum::Router::new().route("/ws", get(ws)).with_state(hub)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3001u16);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("axum_echo: ws://{}/ws", listener.local_addr()?);
    axum::serve(listener, app()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn relays_through_axum() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/ws", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app()).await });
        let (mut a, _) = oyez_tokio::connect(&url).await.unwrap();
        let (mut b, _) = oyez_tokio::connect(&url).await.unwrap();
        // b's upgrade is done once a message from b comes back to it.
        b.send(Message::text("b here")).await.unwrap();
        assert_eq!(b.recv().await.unwrap().unwrap(), Message::text("b here"));
        assert_eq!(a.recv().await.unwrap().unwrap(), Message::text("b here"));
        a.send(Message::text("hi all")).await.unwrap();
        assert_eq!(b.recv().await.unwrap().unwrap(), Message::text("hi all"));
        assert_eq!(a.recv().await.unwrap().unwrap(), Message::text("hi all"));
    }
}
