//! A peer server on tokio-tungstenite, for same-run comparisons with the `ws-server` binary (Autobahn 9.x
//! timings, the load tool and `scripts/bench-e2e.sh`), with the binary's semantics for the
//! routes the load tool uses:
//!
//! - `/all`: each message goes to every other connection on `/all` (not back to the sender);
//! - any other path: echoes every text and binary message.
//!
//! Written as a tokio-tungstenite user would: one task per connection; on `/all` the socket is
//! split and a writer task per connection drains an unbounded channel, feeding every queued
//! message to the sink and flushing once per wake-up (what `StreamExt::forward` does). Each
//! recipient's writer encodes the frame itself, as tungstenite has no shared encoded frame.
//!
//! `PORT=9002 cargo run --release -p oyez-benches --example peer_tungstenite`

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type Peers = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>>;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9002);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let peers: Peers = Arc::default();
    let next_id = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (peers, id) = (peers.clone(), next_id.fetch_add(1, Ordering::Relaxed));
        tokio::spawn(async move {
            let mut path = String::new();
            // The callback's types are tungstenite's (its error is an HTTP response).
            #[allow(clippy::result_large_err)]
            let callback = |req: &Request, resp: Response| {
                path = req.uri().path().to_owned();
                Ok(resp)
            };
            let config = WebSocketConfig::default();
            let Ok(ws) =
                tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config))
                    .await
            else {
                return;
            };
            if path == "/all" {
                relay(ws, id, &peers).await;
            } else {
                echo(ws).await;
            }
        });
    }
}

async fn echo(mut ws: WebSocketStream<TcpStream>) {
    while let Some(Ok(msg)) = ws.next().await {
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}

async fn relay(ws: WebSocketStream<TcpStream>, id: u64, peers: &Peers) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    lock(peers).insert(id, tx);
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if sink.feed(msg).await.is_err() {
                return;
            }
            while let Ok(msg) = rx.try_recv() {
                if sink.feed(msg).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(msg)) = stream.next().await {
        if msg.is_text() || msg.is_binary() {
            for (other, tx) in lock(peers).iter() {
                if *other != id {
                    let _ = tx.send(msg.clone());
                }
            }
        }
    }
    lock(peers).remove(&id);
    writer.abort();
}

fn lock(peers: &Peers) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::UnboundedSender<Message>>> {
    peers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
