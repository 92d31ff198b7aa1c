//! permessage-deflate (RFC 7692): compression of whole messages, both roles, behind the
//! `deflate` cargo feature.
//!
//! **How it is used.** The opening handshake negotiates it: a server calls
//! [`negotiate_deflate`](crate::handshake::server::negotiate_deflate) on the request and
//! writes the answer ([`Params`]'s `Display`) as the 101's `Sec-WebSocket-Extensions`; a
//! client offers it through [`ClientOptions::deflate`](crate::handshake::client::ClientOptions)
//! and reads what the server agreed from
//! [`Response::deflate`](crate::handshake::client::Response::deflate). Either way the result
//! is an [`Agreed`], handed to [`Session::set_deflate`](crate::Session::set_deflate) before
//! the first byte. From then on the session does the rest: [`Session::send`] compresses
//! messages of at least [`DeflateConfig::min_size`] bytes (and sends a message plain when
//! compressing does not make it smaller), [`Session::send_shared`] sends a broadcast's one
//! compressed form, and [`Session::handle_bytes`] inflates compressed messages as their bytes
//! arrive.
//!
//! ```
//! use std::time::Instant;
//! use bytes::BytesMut;
//! use oyez_frame::deflate::{DeflateConfig, Params};
//! use oyez_frame::session::{Config, Outbound};
//! use oyez_frame::{Event, Role, Session};
//!
//! // What a handshake agreed (a server always asks for server_no_context_takeover).
//! let agreed = Params::default()
//!     .with_server_no_context_takeover(true)
//!     .with_client_no_context_takeover(true)
//!     .agreed(&DeflateConfig::default());
//! let now = Instant::now();
//! let mut client = Session::new(Role::Client, Config::default(), now);
//! let mut server = Session::new(Role::Server, Config::default(), now);
//! client.set_deflate(agreed);
//! server.set_deflate(agreed);
//!
//! let text = r#"{"type":"chat","text":"hello hello hello hello hello hello hello"}"#;
//! client.send(Outbound::Text(text))?;
//! let mut wire = BytesMut::new();
//! while let Some(bytes) = client.poll_transmit() {
//!     wire.extend_from_slice(&bytes);
//! }
//! assert_eq!(wire[0] & 0x40, 0x40, "RSV1: compressed");
//! assert!(wire.len() < text.len());
//! server.handle_bytes(now, &mut wire)?;
//! assert_eq!(server.poll_event(), Some(Event::Text(text.into())));
//! # Ok::<(), oyez_frame::Error>(())
//! ```
//!
//! **The rules** (each violation closes the connection with its code):
//!
//! | rule | close code |
//! | --- | --- |
//! | RSV1 only on the first frame of a data message, never on a control or continuation frame, never without the extension | 1002 ([`Error::ReservedBits`](crate::Error::ReservedBits)) |
//! | the compressed bytes are a valid deflate stream | 1007 ([`Error::InvalidCompressedData`](crate::Error::InvalidCompressedData)) |
//! | a compressed text message inflates to UTF-8, checked as it inflates (fails at the first bad byte) | 1007 |
//! | the *inflated* message fits [`Limits::max_message_size`](crate::Limits::max_message_size) | 1009: inflation stops at the limit; the rest is never inflated |
//!
//! Inflation streams: the bytes of a frame are inflated as they arrive, before the frame is
//! complete, so a bomb or bad text fails after the bytes that prove it, not after the frame.
//!
//! **Memory.** This crate never keeps its own compression context between messages: every
//! message it sends is compressed on its own (a server always answers with
//! `server_no_context_takeover`, which is also what lets a broadcast be compressed once for
//! everyone). A thread's compressor (one per level and window in use: about 370 KiB at
//! a 32 KiB window, made once per thread) is reset before each message. Inflaters
//! (about 46 KiB each: zlib-rs gives every inflater a 32 KiB window) are borrowed from a
//! per-thread pool (up to four spares) for the length of one message. So a connection holds,
//! between messages:
//!
//! | peer | held per connection between messages | while a compressed message arrives |
//! | --- | --- | --- |
//! | keeps no context (what a server asks of its clients by default) | 88 bytes: the agreed parameters, in the session's box of rare state | a borrowed inflater, and the message |
//! | keeps its context, window 2^w | 88 bytes + its window, exactly 2^w bytes (w = 9: 600 B; w = 12: 4,184 B; w = 15: 32,856 B) | the same |
//!
//! The window of a peer that keeps its context is kept as bytes (the last 2^w it sent) and
//! given to the borrowed inflater as its dictionary when the next message begins, rather
//! than as an inflater per connection, which would cost 46 KiB whatever window was agreed.
//! `ws-frame/tests/memory.rs` measures each figure with a counting allocator and holds
//! them. A server that allows client context takeover
//! ([`DeflateConfig::with_client_context_takeover`]) bounds the window with
//! [`DeflateConfig::client_max_window_bits`].
//!
//! **Window bits 8.** zlib cannot make a raw deflate stream with an 8-bit window; this crate
//! compresses with 9, whose streams never refer back more than 250 bytes and so are valid
//! for the 256-byte window an agreed 8 allows (as Chromium does; see `codec::deflate_window`
//! and its test against a strict 256-byte inflater). Inflating, it uses a window of 9 for an
//! agreed 8 (a larger window accepts everything a smaller one does).
//!
//! **Implementation.** flate2 with its zlib-rs backend (pure Rust), chosen over miniz_oxide
//! by the `deflate` bench in `oyez-benches` (see the workspace README), and because
//! miniz_oxide's compressor has no window-size setting at all (it always uses 32 KiB, so it
//! could not honour a peer's `server_max_window_bits`).
//!
//! [`Session::send`]: crate::Session::send
//! [`Session::send_shared`]: crate::Session::send_shared
//! [`Session::handle_bytes`]: crate::Session::handle_bytes

mod codec;
mod params;

pub(crate) use codec::{InflateFail, Inflater, compress};
pub(crate) use params::MAX_WINDOW_BITS;
pub use params::{Agreed, DeflateConfig, Params};
