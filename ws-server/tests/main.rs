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
// The upgrade hook, subprotocols, identities, the per-address limits.
mod upgrade_hook;
// Tokens for the signed-identity tests.
mod tokens;
// Signed identities: every refused token and its status.
mod auth;
// Signed identities: direct messages by the token's sub, on one instance and across two.
mod auth_dm;
// The committed fuzz seeds of the token and key parsers, replayed through the fuzz bodies.
mod fuzz_seeds;
// permessage-deflate: the answer, compressed messages both ways, broadcasts compressed once.
mod deflate;
// The chat demo's HTTP routes: the page and the public roster of its rooms.
mod demo;
// The Prometheus endpoint: values after known traffic, formats, its own listener.
mod metrics;
// The bridge: both clusters at once, with Tina4-only, mega-only and raw reference peers.
mod bridge;
// wss://: echo, early frames, plain HTTP over TLS, two instances, certificate reloads.
mod tls;
