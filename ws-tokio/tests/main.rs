//! oyez-tokio's integration tests: one binary (ripgrep, rustls), one module per concern.
//! Everything runs on 127.0.0.1 port 0 or in memory; certificates are made at test time.

// Test helpers unwrap freely, as the tests themselves may.
#![allow(clippy::unwrap_used)]

mod common;

// Both roles over TCP and in-memory pipes: echo, the close handshake, limits, bad input.
mod websocket;
// Keepalive, pong, idle and close timeouts on tokio's paused clock.
mod timers;
// The reader and writer halves: owed pongs with an idle writer, closes from either side.
mod split;
// Accepting on a raw stream: inspecting the request, subprotocols, rejections.
mod server;
// wss:// with a certificate made by rcgen.
mod tls;
// hyper 1 and axum upgrades, and RFC 8441 over HTTP/2.
mod upgrade;
// permessage-deflate through the type: agreed, compressed, the halves, off.
mod deflate;
