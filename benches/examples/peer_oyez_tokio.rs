//! A peer server on `oyez_tokio::WebSocket`, with the same routes and the same user-level
//! shape as `peer_tungstenite.rs` (so the load tool compares the two types in the same run):
//!
//! - `/all`: each message goes to every other connection on `/all` (not back to the sender),
//!   the socket split into halves, a writer task per connection draining an unbounded
//!   channel (feeding what is queued, then one flush);
//! - any other path: echoes every text and binary message.
//!
//! `PORT=9004 cargo run --release -p oyez-benches --example peer_oyez_tokio`

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::SinkExt;
use oyez_tokio::server::Incoming;
use oyez_tokio::{Config, Message, WebSocket};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

type Peers = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>>;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9004);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let peers: Peers = Arc::default();
    let next_id = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (peers, id) = (peers.clone(), next_id.fetch_add(1, Ordering::Relaxed));
        tokio::spawn(async move {
            let Ok(incoming) = Incoming::read(stream, Config::default()).await else {
                return;
            };
            let relay_route = incoming.request().path() == "/all";
            let Ok(ws) = incoming.accept(None).await else {
                return;
            };
            if relay_route {
                relay(ws, id, &peers).await;
            } else {
                echo(ws).await;
            }
        });
    }
}

async fn echo(mut ws: WebSocket<TcpStream>) {
    while let Some(Ok(msg)) = ws.recv().await {
        if msg.is_data() && ws.send(msg).await.is_err() {
            return;
        }
    }
}

async fn relay(ws: WebSocket<TcpStream>, id: u64, peers: &Peers) {
    let (mut stream, mut sink) = ws.into_split();
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
    while let Some(Ok(msg)) = stream.recv().await {
        if msg.is_data() {
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
