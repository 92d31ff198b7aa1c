//! The crate's error type.

use std::io;

/// Everything that can go wrong on a [`crate::WebSocket`], its halves or its handshakes.
///
/// A normal close is never an error: the stream yields [`crate::Message::Close`] and then
/// ends. An error ends the stream too: after one, `recv` returns `None`.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The transport failed (and TLS errors, which tokio-rustls reports as I/O errors).
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The peer broke RFC 6455 after the handshake; a close frame with this error's
    /// [`close_code`](oyez_frame::Error::close_code) (1002, 1007, 1009) was sent.
    #[error("protocol: {0}")]
    Protocol(oyez_frame::Error),
    /// The opening handshake failed: the peer's request or response broke a rule, or the
    /// server answered another status ([`oyez_frame::Error::UnexpectedStatus`]). A server
    /// has answered a bad request with the status of [`oyez_frame::Error::http_status`].
    #[error("handshake: {0}")]
    Handshake(oyez_frame::Error),
    /// The connection ended without the close handshake: the peer hung up (EOF), or a
    /// keepalive ping got no reply in time, or the peer did not answer our close in time.
    #[error("connection lost: {0}")]
    Lost(Lost),
    /// The WebSocket is closing or closed: nothing more can be sent.
    #[error("the websocket is closed")]
    Closed,
    /// A ping or pong payload over 125 bytes, or a close code that may not be sent.
    #[error("cannot send: {0}")]
    Send(oyez_frame::Error),
    /// The opening handshake did not finish in time.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// A URL this crate cannot connect to (only `ws://` and, with the `rustls` feature,
    /// `wss://`).
    #[error("unsupported url: {0}")]
    Url(&'static str),
    /// TLS cannot be set up: no root store (enable `webpki-roots` or `native-roots`, or give
    /// a `tls::Connector` of your own), an invalid server name, or a PEM file that
    /// does not parse.
    #[error("tls: {0}")]
    Tls(String),
}

/// How a connection was lost (see [`Error::Lost`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Lost {
    /// The transport ended (EOF) before the close handshake completed.
    #[error("the peer hung up")]
    Eof,
    /// A keepalive ping got no reply within the pong timeout.
    #[error("pong timeout")]
    PongTimeout,
    /// Our close frame got no reply within the close timeout.
    #[error("close timeout")]
    CloseTimeout,
}

impl Error {
    /// Whether the error came from the peer's behaviour (a protocol error, a lost
    /// connection, a refused handshake) rather than from this side's use of the API.
    pub fn is_peer_error(&self) -> bool {
        matches!(
            self,
            Self::Protocol(_) | Self::Lost(_) | Self::Handshake(_) | Self::HandshakeTimeout
        )
    }

    /// The HTTP status to answer a refused upgrade request with (400, 426, 431…), for an
    /// error from a server's handshake check (e.g. `upgrade::upgrade`'s).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Handshake(e) => e.http_status().or(Some(400)),
            Self::HandshakeTimeout => Some(408),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_enough_to_return() {
        assert!(size_of::<Error>() <= 32);
    }
}
