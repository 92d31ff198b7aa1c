//! `oyez-server`: a thin tokio WebSocket server composed from [`oyez_frame`]'s sans-IO
//! [`Session`](oyez_frame::Session): routes per path, rooms, broadcast, send-to, user
//! sessions and direct messages, an origin allow-list, an idle timeout, slow-client
//! backpressure, graceful shutdown, permessage-deflate, clustering over Redis or NATS (a
//! bridge between the Tina4 and mega clusters when on both) and Prometheus metrics
//! ([`metrics`]); plus a small client.
//! The `ws-server` binary (package `oyez`) is [`apps`] on one port.
//!
//! **What it does not do:** HTTP/2 WebSockets, extensions other than permessage-deflate, and
//! no plain HTTP of its own: it answers only the HTTP requests its embedder registers a
//! handler for ([`Builder::http`]). It serves `wss://` when given a certificate
//! ([`ServerConfig::tls`], reloaded by [`Server::reload_tls`]). For a WebSocket on your own
//! stream (a hyper or axum route, HTTP/2, a TLS stream you made), use `oyez-tokio`.
//!
//! # Where to find what
//!
//! | to | see |
//! | --- | --- |
//! | serve a path | [`Builder::route`], [`Handler`], [`Conn`] |
//! | send to many | [`Server::broadcast`] with an [`Audience`] (all, a path, a room, a user, less exclusions) |
//! | rooms, user sessions, the roster | [`Server::join_room`], [`Server::join_session`], [`Server::roster`] |
//! | answer plain HTTP on the same port | [`Builder::http`], [`http`] |
//! | decide who may connect, and as whom; subprotocols; limits per address | [`Builder::upgrade_hook`], [`upgrade`], [`Builder::route_with`], [`ServerConfig::max_connections_per_ip`] |
//! | cluster instances | [`Builder::tina4_cluster`], [`Builder::mega_cluster`]; the wire mapping in [`_design`] |
//! | limits, timeouts, backpressure, shards | [`ServerConfig`] |
//! | compression (permessage-deflate: on, off, level, what it costs) | [`ServerConfig::deflate`], [`deflate`], [`_design`] |
//! | counters | [`Server::stats`], [`Stats`] |
//! | Prometheus metrics | [`Server::metrics`], [`Metrics`], [`MetricsEndpoint`], [`metrics`] |
//! | how a connection is read, written, timed and closed | [`_design`] |
//! | a client | [`client`] |
//! | the binary's routes, demo page and API | [`apps`] |
//!
//! # Shape
//!
//! tokio accepts connections and runs the opening handshake (and the plain HTTP exchanges).
//! Once upgraded, a connection moves to a **shard**: one of a few threads
//! ([`ServerConfig::shards`], one per core by default), each running a `mio` event loop over
//! a slab of connections, in the manner of uWebSockets. The shard owns the connection's
//! socket, its [`oyez_frame::Session`] and its outbound queue, and runs its handler's
//! callbacks; the rest of the server reaches it through the shard's inbox.
//!
//! Every message to a connection is encoded once into a [`oyez_frame::SharedFrame`]; a
//! broadcast reaches each shard as one command and queues the same bytes for every recipient,
//! and what is queued for a connection goes out in one vectored write per loop iteration.
//! Each connection's queue is bounded in bytes ([`ServerConfig::max_backlog`]): a client that
//! does not read fast enough is dropped with close code 1008 "slow client", and the others
//! are unaffected. An idle connection holds no read or write buffer, no task and no channel:
//! its slab entry and its registry entry, under a kilobyte. The details are in [`_design`].
//!
//! A chat route, and two clients talking through it (this runs, on a free port of
//! 127.0.0.1):
//!
//! ```
//! # #[tokio::main] async fn main() -> Result<(), oyez_server::Error> {
//! use oyez_server::client::{self, Client, ClientEvent};
//! use oyez_server::{Audience, Builder, Conn, Handler, Message, ServerConfig};
//!
//! struct Chat;
//! impl Handler for Chat {
//!     fn on_open(&self, conn: &Conn) {
//!         conn.send(Message::text("welcome"));
//!     }
//!     fn on_message(&self, conn: &Conn, msg: Message) {
//!         // To everyone on this path but the sender.
//!         let to = Audience::path(conn.path()).except(conn.id());
//!         conn.server().broadcast(to, msg);
//!     }
//! }
//!
//! let mut config = ServerConfig::default();
//! config.bind = "127.0.0.1:0".parse().expect("an address"); // port 0: any free port
//! let server = Builder::new(config).route("/chat", Chat).bind().await?;
//! let url = format!("ws://{}/chat", server.local_addr());
//!
//! async fn next(c: &mut Client) -> Result<Message, oyez_server::Error> {
//!     let wait = std::time::Duration::from_secs(5);
//!     match tokio::time::timeout(wait, c.recv()).await.expect("in time")? {
//!         Some(ClientEvent::Message(m)) => Ok(m),
//!         other => panic!("expected a message, got {other:?}"),
//!     }
//! }
//! // The welcome says the server has each client on the route.
//! let mut alice = client::connect(&url).await?;
//! assert_eq!(next(&mut alice).await?, Message::text("welcome"));
//! let mut bob = client::connect(&url).await?;
//! assert_eq!(next(&mut bob).await?, Message::text("welcome"));
//!
//! alice.send(Message::text("hi bob")).await?;
//! assert_eq!(next(&mut bob).await?, Message::text("hi bob"));
//!
//! // A clean close: the server answers with the same code.
//! let normal = oyez_frame::CloseCode::NORMAL;
//! assert_eq!(alice.close(normal, "bye").await?, normal);
//! assert_eq!(bob.close(normal, "").await?, normal);
//! server.shutdown().await; // any connection still open would be closed with 1001
//! # Ok(()) }
//! ```
//!
//! # Modules
//!
//! The crate's modules depend on each other in one direction only: the leaves (`id`,
//! [`Message`], [`Audience`], [`Stats`], [`ServerConfig`], [`Error`]) under the registry,
//! the registry under the shards, the shards under the [`Server`] handle (which posts to
//! them), the server under [`Handler`] and [`Conn`], and those under the accept side and
//! [`Builder`]. A shard knows nothing of the server but the narrow interface it is handed
//! when it starts (the server's registration of a connection, its route's handler, its
//! unregistration).
#![deny(unsafe_code)]
// Two exceptions: `shard::recv` (a read into uninitialised memory) and `server::trim`
// (glibc's `malloc_trim`).
#![warn(missing_docs)]

mod accept;
mod arena;
mod audience;
mod builder;
mod cluster;
mod config;
mod dispatch;
mod door;
mod error;
mod handler;
mod id;
mod identity;
mod message;
mod query;
mod registry;
mod request;
mod routes;
mod server;
mod shard;
mod stats;
mod sync;
mod tls;

#[doc(hidden)]
pub mod __fuzz;
pub mod _design;
pub mod apps;
pub mod client;
pub mod http;
pub mod metrics;
pub mod upgrade;

pub use audience::{Audience, Scope};
pub use builder::Builder;
pub use config::ServerConfig;
pub use error::Error;
pub use handler::{Conn, Handler, NoopHandler};
pub use http::{HttpFuture, HttpHandler, HttpRequest, HttpResponse};
pub use id::ConnId;
pub use message::Message;
pub use metrics::{Metrics, MetricsEndpoint};
/// permessage-deflate's settings and what a handshake agreed ([`ServerConfig::deflate`]).
pub use oyez_frame::deflate;
pub use registry::SessionInfo;
pub use server::Server;
pub use stats::{Stats, Traffic};
pub use tls::TlsConfig;
pub use upgrade::{Decision, Identity, Protocols, UpgradeHook, UpgradeRequest};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
