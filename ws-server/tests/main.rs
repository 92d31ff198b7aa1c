//! Integration tests for oyez-server: real sockets on 127.0.0.1, port 0.

// Test helpers unwrap freely, as the tests themselves may.
#![allow(clippy::unwrap_used)]

// Starting servers and raw HTTP helpers.
mod util;

// The opening handshake: every rejection and its status.
mod handshake;
// Plain HTTP through the embedder's hook, and none without one.
mod http;
// Echo, fragments, pings, protocol errors.
mod echo;
// Broadcast shapes, rooms, paths, send_to, sessions, direct, the roster over HTTP.
mod delivery;
// Idle timeout, slow clients, graceful shutdown.
mod lifecycle;
// Several instances relaying over memory, Redis and NATS.
mod cluster;
// The chat demo's HTTP routes: the page and the public roster of its rooms.
mod demo;
// wss://: echo, early frames, plain HTTP over TLS, two instances, certificate reloads.
mod tls;
