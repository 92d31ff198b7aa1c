//! `oyez-tokio`: a WebSocket over any tokio stream, in both roles, on the
//! [`oyez_frame`] codec.
//!
//! **What it does not do:** no listener, no routes, no broadcast, no clustering (that is
//! `oyez-server`), no HTTP of its own beyond the upgrade, and it spawns no task.
//!
//! **Why a crate of its own:** most programs that speak WebSocket do it inside an
//! application they already have: a hyper or axum service that upgrades a request, a TLS
//! stream, a test over an in-memory pipe. They want the codec on *their* stream, without
//! `oyez-server`'s shards, registry and backplane, and `oyez-frame` stays free of any
//! runtime. So this crate is the thin tokio layer: [`WebSocket<S>`] for any
//! `AsyncRead + AsyncWrite + Unpin` stream, driving an [`oyez_frame::Session`].
//!
//! # Where to find what
//!
//! | to | see |
//! | --- | --- |
//! | send and receive | [`WebSocket`]: `recv` / `send` / `close`, or as a `Stream` and a `Sink` of [`Message`]s |
//! | read in one task and write in another | [`WebSocket::into_split`], [`WebSocket::split`], [`split`] (who writes a pong, the close handshake, the locks) |
//! | accept on a raw stream, inspect the request first | [`accept`], [`server::Incoming`] (origin, subprotocol, reject with a status) |
//! | upgrade inside hyper or axum, HTTP/1.1 or HTTP/2 (RFC 8441) | `upgrade` (feature `hyper`) |
//! | a stream that already did the handshake | [`WebSocket::from_upgraded`] |
//! | connect to `ws://` or `wss://`, or handshake over your stream | [`connect`], [`client::Builder`], [`client::handshake`] |
//! | TLS: the crypto provider, the root store, PEM | `tls` (feature `rustls`; `webpki-roots`, `native-roots`) |
//! | limits, timeouts, buffers | [`Config`] |
//! | permessage-deflate (feature `deflate`, default): offered, accepted, spoken | `Config::deflate`, `WebSocket::deflate` |
//! | errors | [`Error`] (a normal close is never one) |
//!
//! # Example: an echo server and a client, over TCP
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), oyez_tokio::Error> {
//! use oyez_tokio::Message;
//! use tokio::net::TcpListener;
//!
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/echo", listener.local_addr()?);
//! tokio::spawn(async move {
//!     let (stream, _) = listener.accept().await?;
//!     let mut ws = oyez_tokio::accept(stream).await?;
//!     while let Some(msg) = ws.recv().await {
//!         let msg = msg?;
//!         if msg.is_data() {
//!             ws.send(msg).await?;
//!         }
//!     }
//!     Ok::<_, oyez_tokio::Error>(())
//! });
//!
//! let (mut ws, _response) = oyez_tokio::connect(&url).await?;
//! ws.send(Message::text("hello")).await?;
//! assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
//! let reply = ws.close(oyez_frame::CloseCode::NORMAL, "bye").await?;
//! assert_eq!(reply.and_then(|f| f.code), Some(oyez_frame::CloseCode::NORMAL));
//! # Ok(()) }
//! ```
//!
//! # Behaviour
//!
//! - **The protocol's replies need no help.** A ping is answered, and the peer's close is
//!   replied to, during the `recv` that finds it; so is the close after a protocol error
//!   (1002, 1007, 1009, decided by the codec). Keep receiving: keepalive pings, the idle
//!   timeout, the pong timeout and the close timeout run while the stream is polled
//!   (tokio timers, armed only when a deadline exists: the runtime needs its time driver,
//!   as `#[tokio::main]` has, once keepalive or the idle timeout is set or a close begins).
//! - **Limits** are the codec's ([`oyez_frame::Limits`]: frame 16 MiB, message 64 MiB by
//!   default), checked as bytes arrive; a read buffer grows to what the frame in progress
//!   needs and no further.
//! - **Backpressure:** at most [`Config::write_buffer`] bytes are accepted and not yet
//!   written (plus one message); `Sink::poll_ready` and `send` wait beyond it.
//! - **Payloads are shared, not copied:** a received message is a view of the read buffer;
//!   a server sends a payload over 4 KiB as it is, with no copy.
//! - **Two sessions, one per direction:** the receiving side's session decodes and owns the
//!   replies and timers, the sending side's only encodes; that is what lets the halves of
//!   [`split`] work without a lock per message.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod error;
mod inbound;
mod message;
mod outbound;
mod stream;
mod timer;
mod url;
mod websocket;
mod write_queue;

pub mod client;
pub mod server;
pub mod split;
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub mod tls;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod upgrade;

pub use client::connect;
pub use config::Config;
pub use error::{Error, Lost};
pub use message::Message;
pub use oyez_frame::{CloseCode, CloseFrame, Limits, Role, Utf8Bytes};
pub use server::{accept, accept_with};
pub use split::{Reader, Writer};
pub use stream::MaybeTls;
pub use websocket::WebSocket;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
