//! `oyez-server`: a thin tokio WebSocket server composed from [`oyez_frame`]'s sans-IO
//! [`Session`](oyez_frame::Session): routes per path, rooms, broadcast, send-to, user sessions
//! and direct messages, an origin allow-list, an idle timeout, slow-client backpressure and
//! graceful shutdown; plus a small client and the `ws-server` binary.
//!
//! **What it does not do:** TLS (put a proxy in front), HTTP/2 WebSockets, permessage-deflate.
//!
//! # Shape
//!
//! tokio accepts connections and runs the opening handshake (and the plain HTTP routes).
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
//! its slab entry and its registry entry, under a kilobyte.
//!
//! A chat route, and two clients talking through it (this runs, on a free port of
//! 127.0.0.1):
//!
//! ```
//! # #[tokio::main] async fn main() -> Result<(), oyez_server::Error> {
//! use oyez_server::client::{self, Client, ClientEvent};
//! use oyez_server::{Builder, Conn, Handler, Message, ServerConfig};
//!
//! struct Chat;
//! impl Handler for Chat {
//!     fn on_open(&self, conn: &Conn) {
//!         conn.send(Message::text("welcome"));
//!     }
//!     fn on_message(&self, conn: &Conn, msg: Message) {
//!         // To everyone on this path but the sender.
//!         conn.server().broadcast(msg, &[conn.id()], Some(conn.path()));
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
//! The binary (`cargo run --release -p oyez-server`) serves [`apps`]' handlers and the chat
//! demo page at `/`; its routes and settings are in the workspace README and `ws-server --help`.
#![deny(unsafe_code)] // one exception: `shard::recv_uninit`, a read into uninitialised memory
#![warn(missing_docs)]

mod cluster;
mod config;
mod error;
mod http;
mod message;
mod registry;
mod server;
mod settings;
mod shard;

pub mod apps;
pub mod client;

pub use config::ServerConfig;
pub use error::Error;
pub use message::Message;
pub use registry::{ConnId, SessionInfo, Stats};
pub use server::{Builder, Conn, Handler, NoopHandler, Server};
pub use settings::{ClusterSettings, SETTINGS, SettingDoc, clusters_from_env, config_from_env};
