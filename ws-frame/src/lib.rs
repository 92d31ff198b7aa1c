//! `oyez-frame`: a sans-IO RFC 6455 WebSocket codec.
//!
//! **What it does not do:** no networking, no async runtime, no clock reads, no logging, no
//! serde. Bytes go in, bytes and events come out; time is an `Instant` argument. That keeps
//! it usable from tokio, mio, blocking code or a fuzzer alike, and keeps it small.
//!
//! **What it does:** frame headers, masking, a streaming decoder that unmasks and validates
//! as bytes arrive, an encoder, fragmentation rules, incremental fail-fast UTF-8, close
//! codes, resource limits, the HTTP/1.1 upgrade handshake for both roles ([`handshake`]),
//! and a [`Session`] state machine that ties them together with automatic pongs, the close
//! handshake, keepalive and timeouts. With the `deflate` feature, permessage-deflate (RFC
//! 7692) in both roles: negotiated in [`handshake`], applied by the [`Session`] (the
//! `deflate` module has the rules and what it costs).
//!
//! ```text
//!            bytes from the socket                      bytes to the socket
//!                     │                                          ▲
//!                     ▼                                          │
//!   ┌────────── Session::handle_bytes ─────────┐   Session::poll_transmit
//!   │ Decoder: header → unmask → UTF-8 check   │         ▲
//!   │   → limits → fragments → close rules     │         │ Encoder (masks if client)
//!   └──────────────────────┬───────────────────┘         │
//!                          ▼                             │
//!   Session::poll_event: Text / Binary / Ping / Pong / Closed     Session::send / close
//!                          │                             ▲
//!                          ▼                             │
//!                      the application ──────────────────┘
//! ```
//!
//! # Example: a server session, driven by hand
//!
//! (The same code is the example in the crate's README.)
//!
//! ```
//! use std::time::Instant;
//!
//! use bytes::BytesMut;
//! use oyez_frame::session::{Config, Outbound};
//! use oyez_frame::{CloseCode, Error, Event, Role, Session};
//!
//! fn main() -> Result<(), Error> {
//!     let now = Instant::now();
//!     let mut server = Session::new(Role::Server, Config::default(), now);
//!
//!     // Bytes from the socket: a masked "Hello" (RFC 6455 §5.7), then a masked close (1000).
//!     let hello = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
//!     let mut input = BytesMut::from(&hello[..]);
//!     input.extend_from_slice(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
//!     server.handle_bytes(now, &mut input)?;
//!
//!     // Events for the application.
//!     assert_eq!(server.poll_event(), Some(Event::Text("Hello".into())));
//!     let closed = server.poll_event();
//!     assert!(matches!(closed, Some(Event::Closed { code: CloseCode::NORMAL, clean: true, .. })));
//!
//!     // Bytes for the socket: the session answered the close. Write them, then close it.
//!     assert_eq!(server.poll_transmit().as_deref(), Some(&[0x88, 0x02, 0x03, 0xe8][..]));
//!     assert!(server.is_closed());
//!     assert_eq!(server.send(Outbound::Text("too late")), Err(Error::Closing));
//!     Ok(())
//! }
//! ```
//!
//! # Layers
//!
//! - [`FrameHeader`], [`apply_mask`], [`Utf8Validator`], [`CloseCode`]: the primitives.
//! - [`Decoder`] and [`Encoder`]: frames, with every per-frame and per-message rule checked.
//!   [`Decoder::decode`] hands payloads out as [`bytes::Bytes`] split off the caller's
//!   buffer; [`Decoder::decode_slice`] decodes a whole frame in place and lends the payload
//!   (no reference count per frame), for callers that keep their own buffer.
//!   [`Decoder::buffer_room`] says how large a buffer to read a frame longer than one read
//!   into, so that `decode` finds the room it reserves there and nothing moves.
//! - [`Session`]: messages, control frames, the close handshake and timers.
//! - [`handshake`]: the opening handshake, server and client.
//! - `deflate` (feature `deflate`): permessage-deflate's settings and agreed parameters;
//!   `Session::set_deflate` turns it on for a session.
//!
//! Errors are one enum, [`Error`]; each peer error names the close code or HTTP status to
//! answer with. The design choices (limits, RSV policy, length policy, close codes) are in
//! [`_design`].
#![forbid(unsafe_code)]
#![cfg_attr(not(fuzzing), warn(missing_docs))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod close;
mod decode;
mod encode;
mod error;
mod header;
mod limits;
mod mask;
mod opcode;
mod role;
mod shared;
mod utf8;

pub mod _design;
#[cfg(feature = "deflate")]
#[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
pub mod deflate;
pub mod handshake;
pub mod session;

#[doc(hidden)]
pub mod __fuzz;

pub use close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
pub use decode::{Decoder, Frame, FrameRef, MAX_RESERVE};
pub use encode::{Encoder, MaskSource};
pub use error::Error;
pub use header::FrameHeader;
pub use limits::Limits;
pub use mask::apply_mask;
#[doc(hidden)]
pub use mask::apply_mask_naive;
pub use opcode::OpCode;
pub use role::Role;
pub use session::{Event, Session};
pub use shared::SharedFrame;
pub use utf8::{Utf8Bytes, Utf8Validator};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
