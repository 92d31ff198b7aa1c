//! The HTTP/1.1 opening handshake (RFC 6455 §4), both roles, sans-IO.
//!
//! The server side parses a request from a buffer ([`server::parse_request`]), validates it
//! ([`server::accept`]), and writes the 101 or an error response ([`server::write_response`],
//! [`server::write_error`]). The client side writes a request ([`client::ClientHandshake`]) and
//! checks the server's answer. Bytes that follow the head (frames sent early) stay in the
//! caller's buffer, never lost.
//!
//! With the `deflate` feature, both sides also negotiate permessage-deflate (RFC 7692):
//! [`server::negotiate_deflate`] judges a client's offers and says what to answer;
//! [`client::ClientOptions::deflate`] makes a client offer it, and
//! [`client::Response::deflate`] says what the server agreed, checked against the offer.

#[cfg(feature = "deflate")]
pub(crate) mod deflate;
#[cfg(feature = "deflate")]
pub(crate) mod extensions;
mod head;

pub mod client;
pub mod server;

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The GUID of RFC 6455 §1.3, appended to the client's key to form the accept value.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key ++ GUID)), RFC 6455 §4.2.2.
///
/// ```
/// use oyez_frame::handshake::derive_accept_key;
/// assert_eq!(derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn derive_accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}
