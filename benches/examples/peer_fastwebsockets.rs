//! A peer server on fastwebsockets, for same-run comparisons with the `ws-server` binary (the load tool
//! and `scripts/bench-e2e.sh`), with the binary's semantics for the routes the load tool uses:
//!
//! - `/all`: each message goes to every other connection on `/all` (not back to the sender);
//! - any other path: echoes every text and binary message.
//!
//! The opening handshake is parsed and answered with `oyez_frame::handshake::server` (instead
//! of fastwebsockets' hyper-based `upgrade` feature), so no HTTP stack sits under the socket;
//! after it, the connection is fastwebsockets' own (`WebSocket::after_handshake`). Echo uses
//! a `FragmentCollector` as fastwebsockets' own echo example does; `/all` splits the socket
//! (`unstable-split`) and a writer task per connection writes each queued message with
//! `write_frame`, which is one write per frame: fastwebsockets has no write coalescing.
//!
//! `PORT=9003 cargo run --release -p oyez-benches --example peer_fastwebsockets`

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, Role, WebSocket};
use oyez_frame::Limits;
use oyez_frame::handshake::server as hs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What a connection's writer task writes.
enum Out {
    Data(OpCode, Bytes),
    /// A pong or close the read half owes the peer.
    Control(OpCode, Vec<u8>),
}

type Peers = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Out>>>>;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9003);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let peers: Peers = Arc::default();
    let next_id = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (peers, id) = (peers.clone(), next_id.fetch_add(1, Ordering::Relaxed));
        tokio::spawn(async move {
            let Ok((stream, path)) = handshake(stream).await else {
                return;
            };
            let ws = WebSocket::after_handshake(stream, Role::Server);
            if path == "/all" {
                relay(ws, id, &peers).await;
            } else {
                echo(ws).await;
            }
        });
    }
}

/// Reads the upgrade request and answers 101 (or an error, and gives up).
async fn handshake(mut stream: TcpStream) -> std::io::Result<(TcpStream, String)> {
    let limits = Limits::default();
    let mut buf = BytesMut::with_capacity(1024);
    let req = loop {
        match hs::parse_request(&mut buf, &limits) {
            Ok(Some(req)) => break req,
            Ok(None) => {}
            Err(e) => {
                let mut out = BytesMut::new();
                hs::write_error(&e, &mut out);
                stream.write_all(&out).await?;
                return Err(std::io::Error::other(e.to_string()));
            }
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    };
    let mut out = BytesMut::new();
    match hs::accept(&req) {
        Ok(accept) => hs::write_response(&accept, None, &[], &mut out),
        Err(e) => {
            hs::write_error(&e, &mut out);
            stream.write_all(&out).await?;
            return Err(std::io::Error::other(e.to_string()));
        }
    }
    stream.write_all(&out).await?;
    // The load tool sends nothing before the 101, so no frame bytes are left in `buf`.
    Ok((stream, req.path().to_owned()))
}

async fn echo(ws: WebSocket<TcpStream>) {
    let mut ws = FragmentCollector::new(ws);
    while let Ok(frame) = ws.read_frame().await {
        let data = match frame.opcode {
            OpCode::Close => return,
            OpCode::Text | OpCode::Binary => true,
            _ => false,
        };
        if data && ws.write_frame(frame).await.is_err() {
            return;
        }
    }
}

async fn relay(ws: WebSocket<TcpStream>, id: u64, peers: &Peers) {
    let (mut read, mut write) = ws.split(TcpStream::into_split);
    let (tx, mut rx) = mpsc::unbounded_channel::<Out>();
    lock(peers).insert(id, tx.clone());
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let (opcode, payload) = match &out {
                Out::Data(op, b) => (*op, &b[..]),
                Out::Control(op, v) => (*op, &v[..]),
            };
            let frame = Frame::new(true, opcode, None, Payload::Borrowed(payload));
            if write.write_frame(frame).await.is_err() {
                return;
            }
        }
    });
    let mut obligated = |frame: Frame<'_>| {
        let r = tx
            .send(Out::Control(frame.opcode, frame.payload.to_vec()))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        async move { r }
    };
    while let Ok(frame) = read.read_frame(&mut obligated).await {
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => {
                let data = Bytes::copy_from_slice(&frame.payload);
                for (other, tx) in lock(peers).iter() {
                    if *other != id {
                        let _ = tx.send(Out::Data(frame.opcode, data.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    lock(peers).remove(&id);
    drop(tx);
    let _ = writer.await;
}

fn lock(peers: &Peers) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::UnboundedSender<Out>>> {
    peers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
